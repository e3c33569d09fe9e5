"""`cxloop advocacy`: advocates, the ladder of asks, referral codes and conversions, the
program report (docs/advocacy.md). Each command parses its input, calls one function of
`cxloop.programs.advocacy.operations` and renders the result; `--json` prints the document."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cxloop.cli.loyalty_cmd import open_ledger, parse_moment
from cxloop.cli.render import out, print_json, table

if TYPE_CHECKING:
    from cxloop.programs.loyalty import Ledger
    from cxloop.workspace import Workspace

advocacy_app = typer.Typer(
    help="The advocacy program: advocates, asks, referral codes and conversions, the report.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]
LimitOpt = Annotated[int, typer.Option(min=1, max=10_000, help="Most rows shown.")]
AtOpt = Annotated[
    str | None, typer.Option("--at", help="ISO date or time (default now; workspace time zone).")
]


@contextmanager
def _open(workspace: Path) -> Iterator[tuple[Workspace, Ledger]]:
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as ws, open_ledger(workspace) as (ledger, _):
        yield ws, ledger


@advocacy_app.command("advocates")
def advocates(workspace: WsArg, limit: LimitOpt = 20, json_: JsonOpt = False) -> None:
    """The leaderboard (score and its parts, level) and the potential advocates."""
    from cxloop.programs.advocacy import operations

    with _open(workspace) as (ws, ledger):
        doc = operations.advocates(ws, ledger, limit=limit)
    if json_:
        print_json(doc)
        return
    parts = ("referrals", "converted", "reviews", "mentions", "references", "reach")
    rows = [[a["profile_id"], a["level"], *(a["parts"][p] for p in parts), a["score"]]
            for a in doc["advocates"]["top"]]  # fmt: skip
    title = f"Advocates: {doc['advocates']['count']:,}"
    out.print(table(title, ["profile", "level", *parts, "score"], rows, text_columns=2))
    potential = doc["potential_advocates"]
    rows = [[p["profile_id"], p["nps"], p["value_365d"]] for p in potential["top"]]
    out.print(table(f"Potential advocates (promoters who have not acted): {potential['count']:,}",
                    ["profile", "latest NPS", "value, last 365 days"], rows))  # fmt: skip


@advocacy_app.command("next-asks")
def next_asks(
    workspace: WsArg, limit: LimitOpt = 20, at: AtOpt = None, json_: JsonOpt = False
) -> None:
    """The next best ask of each top advocate and potential advocate (nothing is asked)."""
    from cxloop.programs.advocacy import operations

    with _open(workspace) as (ws, ledger):
        moment = parse_moment(at, ws.config.locale.timezone) if at else None
        doc = operations.next_asks(ws, ledger, limit=limit, at=moment)
    if json_:
        print_json(doc)
        return
    rows = [[d["profile_id"], d["group"], d["next_ask"], d["reason"], d["latest_nps"]]
            for d in doc]  # fmt: skip
    out.print(table("Next asks", ["profile", "group", "next ask", "why", "latest NPS"], rows,
                    text_columns=4))  # fmt: skip


@advocacy_app.command("ask")
def ask(
    workspace: WsArg,
    profile: Annotated[str, typer.Argument(help="Profile id, customer id, email, ...")],
    ask_name: Annotated[str, typer.Argument(metavar="ASK", help="An ask of the ladder.")],
    source: Annotated[str, typer.Option(help="Who asks (a trigger, a case, an operator).")],
    at: AtOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Ask a person (eligibility and cool-downs apply; once per profile, ask and source)."""
    from cxloop.programs.advocacy import operations

    with _open(workspace) as (ws, ledger):
        moment = parse_moment(at, ws.config.locale.timezone) if at else None
        doc = operations.ask(ws, ledger, profile, ask_name, source=source, at=moment)
    _print(doc, json_, "Ask")


@advocacy_app.command("complete")
def complete(
    workspace: WsArg,
    ask_id: Annotated[str, typer.Argument(help="The ask's id (ask_...).")],
    reference: Annotated[str | None, typer.Option(help="What completed it (a URL).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Record an ask completed and pay its points (once)."""
    from cxloop.programs.advocacy import operations

    with open_ledger(workspace) as (ledger, config):
        doc = operations.complete(ledger, config.advocacy, ask_id, reference=reference)
    _print(doc, json_, "Completed")


@advocacy_app.command("code")
def code(
    workspace: WsArg,
    profile_id: Annotated[str, typer.Argument(help="Profile id (P...).")],
    json_: JsonOpt = False,
) -> None:
    """The profile's referral code (created on first use; unguessable, unique)."""
    from cxloop.programs.advocacy import operations

    with open_ledger(workspace) as (ledger, _):
        doc = operations.code(ledger, profile_id)
    _print(doc, json_, "Referral code")


@advocacy_app.command("referrals")
def referrals(
    workspace: WsArg,
    status: Annotated[
        str | None, typer.Option(help="holding, flagged, rewarded, reversed, void, rejected")
    ] = None,
    limit: LimitOpt = 100,
    json_: JsonOpt = False,
) -> None:
    """Referral conversions: status, fraud flags, dates."""
    from cxloop.programs.advocacy import operations

    with open_ledger(workspace) as (ledger, _):
        doc = operations.referrals(ledger, status=status, limit=limit)
    _print_referrals(doc, json_, "Referrals")


@advocacy_app.command("flagged")
def flagged(workspace: WsArg, limit: LimitOpt = 100, json_: JsonOpt = False) -> None:
    """Referrals held for review by the fraud checks."""
    from cxloop.programs.advocacy import operations

    with open_ledger(workspace) as (ledger, _):
        doc = operations.referrals(ledger, status="flagged", limit=limit)
    _print_referrals(doc, json_, "Flagged referrals (held for review)")


@advocacy_app.command("decide")
def decide(
    workspace: WsArg,
    conversion_id: Annotated[str, typer.Argument(help="The conversion (source:order_id).")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="Pay it, or never.")],
    actor: Annotated[str, typer.Option(help="Who decided.")] = "cli",
    json_: JsonOpt = False,
) -> None:
    """Approve or reject a flagged referral."""
    from cxloop.programs.advocacy import operations

    with open_ledger(workspace) as (ledger, _):
        doc = operations.decide(ledger, conversion_id, approve=approve, actor=actor)
    _print(doc, json_, "Decision")


@advocacy_app.command("sync")
def sync(workspace: WsArg, json_: JsonOpt = False) -> None:
    """Offer every stored row to the program (after enabling it): rewards, conversions."""
    from cxloop.programs.advocacy import operations
    from cxloop.programs.advocacy.reactions import close_ledgers
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as ws:
        try:
            doc = operations.catch_up(ws)
        finally:
            close_ledgers()
    _print(doc, json_, "Advocacy sync")


@advocacy_app.command("report")
def report(workspace: WsArg, limit: LimitOpt = 10, json_: JsonOpt = False) -> None:
    """The program report: advocates, referrals, CAC, CLV, reviews, asks and their effect."""
    from cxloop.programs.advocacy import operations

    with _open(workspace) as (ws, ledger):
        doc = operations.report(ws, ledger, limit=limit)
    if json_:
        print_json(doc)
        return
    r, cac = doc["referrals"], doc["cac"]
    rows = [
        ["advocates", doc["advocates"]["count"]],
        ["potential advocates", doc["potential_advocates"]["count"]],
        ["referrals made", r["made"]],
        ["referrals converted", r["converted"]],
        [f"referral revenue ({doc['currency']})", r["revenue"]],
        ["referrals flagged (held for review)", r["flagged"]],
        [f"referral CAC ({cac['currency']})", cac["referral_cac"]],
        [f"paid CAC ({cac['currency']})", cac["paid_cac"]],
        ["public reviews", doc["reviews"]["generated"]],
        ["reviews rewarded", doc["reviews"]["rewarded"]],
    ]
    clv = doc["clv"]
    if clv and clv.get("available"):
        for group in ("referred", "others"):
            g = clv[group]
            rows.append([f"mean 52-week CLV, {group}", _ci(g, 1.0, 2)])
    out.print(table("Advocacy program", ["", "value"], rows))
    asks = [[a["ask"], a["issued"], a["completed"], _ci(a["completion_rate"], 100.0, 1, " %")]
            for a in doc["asks"]]  # fmt: skip
    out.print(table("Ladder of asks", ["ask", "issued", "completed", "completion"], asks))
    effect = doc["ask_effect"]
    out.print(
        f"Advocated (a public review or a referral) within {effect['days']} days: asked "
        f"{_ci(effect['asked'], 100.0, 1, ' %')}, promoters never asked "
        f"{_ci(effect['not_asked'], 100.0, 1, ' %')}; difference "
        f"{_ci(effect['difference'], 100.0, 1, ' points')} (an association, not an experiment)"
    )


def _ci(estimate: dict[str, Any], scale: float, digits: int, unit: str = "") -> str:
    """`value unit [low, high] (n=...)` scaled, or n/a without a value."""
    if estimate.get("value") is None:
        return f"n/a (n={estimate.get('n', 0):,})"
    low, high = estimate.get("ci_low"), estimate.get("ci_high")
    text = f"{estimate['value'] * scale:.{digits}f}{unit}"
    if low is not None and high is not None:
        text += f" [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
    return text + f" (n={estimate['n']:,})"


def _print(doc: dict[str, Any], json_: bool, title: str) -> None:
    if json_:
        print_json(doc)
        return
    out.print(table(title, ["", "value"], [[k, v] for k, v in doc.items()]))


def _print_referrals(doc: list[dict[str, Any]], json_: bool, title: str) -> None:
    if json_:
        print_json(doc)
        return
    rows = [[c["conversion_id"], c["status"], ", ".join(c["flags"]), c["referrer_profile"],
             c["referee_profile"], c["converted_at"][:10], c["amount"]] for c in doc]  # fmt: skip
    out.print(table(title, ["conversion", "status", "flags", "referrer", "referee", "converted",
                            "amount"], rows, text_columns=6))  # fmt: skip
