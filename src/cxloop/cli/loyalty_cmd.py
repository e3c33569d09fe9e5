"""`cxloop loyalty`: members, the points ledger, and the program's jobs (docs/loyalty.md).

Ledger commands (enrol by profile id, earn, redeem, member, ledger, expire, verify) open only
the programs store named by `[programs] database_url`, never the warehouse: the DuckDB file
is locked by a running `cxloop serve`, and the ledger must stay usable while it runs.
`sync`, and `enrol` with a key other than a profile id, need the warehouse and open the
workspace. Every command parses its input, calls one library function and renders the result.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cxloop.cli.render import err, out, print_json, table
from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.config import WorkspaceConfig
    from cxloop.programs.loyalty import Entry, Ledger

loyalty_app = typer.Typer(
    help="The loyalty program: enrol members, earn and redeem points, sync, expire, verify.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]
MemberArg = Annotated[str, typer.Argument(help="Member id (mem_...), as `enrol` printed it.")]
PointsArg = Annotated[int, typer.Argument(help="Points, a whole number > 0.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why, kept on the ledger entry.")]
KeyOpt = Annotated[
    str,
    typer.Option(
        "--key",
        help="Idempotency key: the same key and request again returns the first result; "
        "the same key for another request is refused.",
    ),
]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who did it, kept on the entry.")]

# Profile ids as the identity build writes them ('P' and 16 hex digits).
_PROFILE_ID = re.compile(r"P[0-9a-f]{16}")


# -- opening ---------------------------------------------------------------------------------
def workspace_config(workspace: Path) -> WorkspaceConfig:
    """The workspace's configuration, read without taking the warehouse lock."""
    from cxloop.config import CONFIG_FILE, WorkspaceConfig
    from cxloop.errors import WorkspaceError

    if not workspace.exists():
        raise WorkspaceError(f"{workspace}: no such workspace (create one with `cxloop init`)")
    if not (workspace / CONFIG_FILE).is_file():
        raise WorkspaceError(f"{workspace}: not a cxloop workspace (no {CONFIG_FILE})")
    return WorkspaceConfig.load(workspace / CONFIG_FILE)


@contextmanager
def open_ledger(
    workspace: Path, *, clock: Callable[[], datetime] | None = None
) -> Iterator[tuple[Ledger, WorkspaceConfig]]:
    """The ledger in the store of `[programs] database_url` (empty: the embedded file), with
    the `[loyalty]` expiry; closed when the block ends. For `tiers` and `liability` too."""
    from cxloop.programs.loyalty import Ledger
    from cxloop.programs.store import ProgramStore

    config = workspace_config(workspace)
    store = ProgramStore.open(workspace, config.programs.database_url or None)
    try:
        options: dict[str, Any] = {"expiry_months": config.loyalty.expiry_months or None}
        if clock is not None:
            options["clock"] = clock
        yield Ledger(store, **options), config
    finally:
        store.close()


def parse_moment(text: str, timezone: str) -> datetime:
    """An ISO 8601 date or timestamp; without an offset it is in the workspace time zone
    (like the data contract's timestamps); a date alone means its midnight."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CxloopError(f"{text!r} is not an ISO 8601 date or timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return moment.astimezone(UTC)


# -- members ---------------------------------------------------------------------------------
@loyalty_app.command("enrol")
def enrol(
    workspace: WsArg,
    profile_key: Annotated[
        str,
        typer.Argument(
            help="The person: profile id, or customer id, source:customer_id, email or "
            "anonymous id (these need the warehouse)."
        ),
    ],
    enrolled_at: Annotated[
        str | None,
        typer.Option(
            "--enrolled-at",
            help="Back-date the enrolment (moving members from an earlier program): ISO "
            "date or timestamp. Only acts from then on earn.",
        ),
    ] = None,
    key: Annotated[str | None, typer.Option("--key", help="Idempotency key.")] = None,
    actor: ActorOpt = "cli",
    json_: JsonOpt = False,
) -> None:
    """Enrol a unified profile; enrolling it again returns the existing member."""
    profile_id = profile_key.strip()
    if not _PROFILE_ID.fullmatch(profile_id):
        from cxloop.programs.loyalty.sync import resolve_profile
        from cxloop.workspace import Workspace

        with Workspace.open(workspace) as ws:
            profile_id = resolve_profile(ws, profile_key)
    config = workspace_config(workspace)
    at = None if enrolled_at is None else parse_moment(enrolled_at, config.locale.timezone)
    with open_ledger(workspace, clock=None if at is None else (lambda: at)) as (ledger, _):
        member = ledger.enrol(profile_id, actor=actor, idempotency_key=key)
    if json_:
        print_json(member.to_dict())
        return
    out.print(
        f"Member {member.member_id} (profile {member.profile_id}), enrolled "
        f"{member.enrolled_at:%Y-%m-%d %H:%M} UTC, tier {member.tier}, "
        f"balance {member.balance:,} points"
    )


@loyalty_app.command("member")
def member(workspace: WsArg, member_id: MemberArg, json_: JsonOpt = False) -> None:
    """A member's balance, tier and lots (points by when they expire)."""
    with open_ledger(workspace) as (ledger, _):
        found = ledger.member(member_id)
        lots = ledger.lots(member_id)
    if json_:
        print_json({**found.to_dict(), "lots": [lot.to_dict() for lot in lots]})
        return
    since = f" since {found.tier_since:%Y-%m-%d}" if found.tier_since else ""
    out.print(
        f"Member {found.member_id} (profile {found.profile_id}), enrolled "
        f"{found.enrolled_at:%Y-%m-%d}: {found.balance:,} points, tier {found.tier}{since}"
    )
    rows = [
        [
            lot.lot_id,
            f"{lot.earned_at:%Y-%m-%d}",
            f"{lot.expires_at:%Y-%m-%d}" if lot.expires_at else "never",
            _source(lot.source_type, lot.source_id),
            lot.points,
            lot.remaining,
        ]
        for lot in lots
    ]
    if rows:
        out.print(
            table(
                "Lots (spent first to last)",
                ["lot", "earned", "expires", "from", "points", "remaining"],
                rows,
                text_columns=4,
            )
        )


@loyalty_app.command("ledger")
def ledger_entries(
    workspace: WsArg,
    member_id: MemberArg,
    limit: Annotated[int, typer.Option(help="Most entries shown (1-1000).")] = 100,
    before: Annotated[
        int | None, typer.Option(help="Page: only entries older than this entry id.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """A member's ledger entries, newest first."""
    with open_ledger(workspace) as (ledger, _):
        entries = ledger.entries(member_id, limit=limit, before=before)
    if json_:
        print_json([entry.to_dict() for entry in entries])
        return
    out.print(
        table(
            f"Ledger of {member_id}",
            ["entry", "at", "kind", "reason", "from", "actor", "points"],
            [_entry_row(entry) for entry in entries],
            text_columns=6,
        )
    )


# -- writes ----------------------------------------------------------------------------------
@loyalty_app.command("earn")
def earn(
    workspace: WsArg,
    member_id: MemberArg,
    points: PointsArg,
    reason: ReasonOpt,
    key: KeyOpt,
    actor: ActorOpt = "cli",
    json_: JsonOpt = False,
) -> None:
    """Credit points to a member: a new lot, expiring after the configured expiry_months."""
    with open_ledger(workspace) as (ledger, _):
        entry = ledger.earn(
            member_id,
            points,
            reason=reason,
            source_type=None,
            source_id=None,
            actor=actor,
            idempotency_key=key,
        )
        balance = ledger.member(member_id).balance
    _print_write(entry, balance, json_)


@loyalty_app.command("redeem")
def redeem(
    workspace: WsArg,
    member_id: MemberArg,
    points: PointsArg,
    reason: ReasonOpt,
    key: KeyOpt,
    actor: ActorOpt = "cli",
    json_: JsonOpt = False,
) -> None:
    """Spend a member's points, earliest expiry first; never below a zero balance."""
    with open_ledger(workspace) as (ledger, _):
        entry = ledger.redeem(member_id, points, reason=reason, actor=actor, idempotency_key=key)
        balance = ledger.member(member_id).balance
    _print_write(entry, balance, json_)


def _print_write(entry: Entry, balance: int, json_: bool) -> None:
    if json_:
        print_json({**entry.to_dict(), "balance": balance})
        return
    out.print(
        f"Entry {entry.entry_id}: {entry.kind} {abs(entry.points):,} points for "
        f"{entry.member_id}; balance {balance:,}"
    )


# -- jobs ------------------------------------------------------------------------------------
@loyalty_app.command("sync")
def sync(
    workspace: WsArg,
    workers: Annotated[
        int | None,
        typer.Option(help="Ledger writers at once (default 8)."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Earn points for what members did in the warehouse, then load program facts as events.

    Completed orders, public reviews and converted referrals earn; returned or cancelled
    orders give their points back.
    """
    from cxloop.programs.loyalty.facts import facts_to_warehouse
    from cxloop.programs.loyalty.sync import sync_from_warehouse
    from cxloop.workspace import Workspace

    if workers is not None and workers < 1:
        raise CxloopError("--workers must be at least 1")

    def progress(done: int, total: int) -> None:
        if not json_:
            err.print(f"  {done:,} of {total:,} ledger writes", end="\r")

    with Workspace.open(workspace) as ws, open_ledger(workspace) as (ledger, config):
        report = sync_from_warehouse(ws, ledger, config.loyalty, progress=progress, workers=workers)
        facts = facts_to_warehouse(ws, ledger)
    doc = {**report.to_dict(), "facts_loaded": facts}
    if json_:
        print_json(doc)
        return
    if report.entries_written:
        err.print("")
    rows = [
        ["orders earned", report.orders_earned, report.order_points],
        ["orders reversed (returned, cancelled)", report.orders_reversed, -report.reversed_points],
        ["public reviews", report.reviews, report.review_points],
        ["converted referrals", report.referrals, report.referral_points],
    ]
    out.print(table(f"Loyalty sync: {report.members:,} members", ["", "acts", "points"], rows))
    skipped = ", ".join(f"{why} {n:,}" for why, n in report.skipped.items())
    out.print(
        f"{report.entries_written:,} ledger entries in {report.write_seconds:.1f} s "
        f"({report.writes_per_second:,.0f}/s); {facts:,} program facts loaded as events"
        + (f"; not earning: {skipped}" if skipped else "")
    )
    if report.members_without_profile:
        out.print(
            f"{report.members_without_profile:,} members' profiles are not in the warehouse "
            "(profile ids change when profiles merge; see docs/loyalty.md)"
        )
    for problem in report.problems:
        err.print(f"problem: {problem}")


@loyalty_app.command("expire")
def expire(
    workspace: WsArg,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Expire lots due by this ISO date or timestamp (default now; workspace "
            "time zone when no offset is given).",
        ),
    ] = None,
    actor: ActorOpt = "cli",
    json_: JsonOpt = False,
) -> None:
    """Expire points past their date, one entry per lot; running it again expires nothing."""
    with open_ledger(workspace) as (ledger, config):
        moment = ledger.clock() if as_of is None else parse_moment(as_of, config.locale.timezone)
        report = ledger.expire(moment, actor=actor)
    if json_:
        print_json(report.to_dict())
        return
    out.print(
        f"Expired {report.points:,} points in {report.lots:,} lots of {report.members:,} "
        f"members, as of {report.as_of:%Y-%m-%d %H:%M} UTC"
    )


@loyalty_app.command("verify")
def verify(workspace: WsArg, json_: JsonOpt = False) -> None:
    """Check every invariant of the ledger (balances = entries = lots >= 0); exit 1 if not."""
    with open_ledger(workspace) as (ledger, _):
        report = ledger.verify()
    if json_:
        print_json(report.to_dict())
    elif report.ok:
        out.print(
            f"Ledger verified: {report.members:,} members, {report.entries:,} entries, "
            f"{report.lots:,} lots; every invariant holds"
        )
    else:
        err.print(f"Ledger verification found {len(report.problems):,} problems:")
        for problem in report.problems:
            err.print(f"  {problem}")
    if not report.ok:
        raise SystemExit(1)  # main() runs click with standalone_mode=False: Exit is ignored


# -- tiers and liability ---------------------------------------------------------------------
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="ISO date or timestamp (default now; workspace time zone when no offset is "
        "given; a date alone is its midnight, so the books at the end of December are "
        "--as-of YYYY-01-01).",
    ),
]


@loyalty_app.command("tiers")
def tiers(workspace: WsArg, as_of: AsOfOpt = None, json_: JsonOpt = False) -> None:
    """Move members to the tier their points or spend in the rolling window reach, as of a
    date, recording each upgrade and downgrade; the same date again changes nothing."""
    from cxloop.programs.loyalty.tiers import assign_tiers, warehouse_order_amounts

    with open_ledger(workspace) as (ledger, config):
        moment = ledger.clock() if as_of is None else parse_moment(as_of, config.locale.timezone)
        if config.loyalty.tier_basis == "spend":  # order amounts live in the warehouse
            from cxloop.workspace import Workspace

            with Workspace.open(workspace) as ws:
                report = assign_tiers(
                    ledger, config.loyalty, moment, order_amounts=warehouse_order_amounts(ws)
                )
        else:
            report = assign_tiers(ledger, config.loyalty, moment)
    if json_:
        print_json(report.to_dict())
        return
    out.print(
        f"Tiers as of {report.as_of:%Y-%m-%d %H:%M} UTC ({report.basis} since "
        f"{report.window_start:%Y-%m-%d}): {report.members:,} members, "
        f"{len(report.upgrades):,} upgraded, {len(report.downgrades):,} downgraded, "
        f"{report.unchanged:,} unchanged"
        + (f", {report.skipped:,} left alone (changed after that date)" if report.skipped else "")
    )
    out.print(table("Members by tier", ["tier", "members"], list(report.by_tier.items())))
    changes = report.changes
    if changes:
        shown = changes[:_CHANGES_SHOWN]
        out.print(
            table(
                "Changes",
                ["member", "from", "to", report.basis],
                [[c.member_id, c.from_tier, c.to_tier, c.basis_value] for c in shown],
                text_columns=3,
            )
        )
        if len(changes) > len(shown):
            out.print(f"... and {len(changes) - len(shown):,} more (--json lists them all)")


_CHANGES_SHOWN = 20


@loyalty_app.command("liability")
def liability(workspace: WsArg, as_of: AsOfOpt = None, json_: JsonOpt = False) -> None:
    """What the program owes as of a date: outstanding points and value by age and tier,
    points expiring soon, the year's flows and the breakage rate (docs/metrics.md)."""
    from cxloop.programs.loyalty.liability import liability_report

    with open_ledger(workspace) as (ledger, config):
        moment = ledger.clock() if as_of is None else parse_moment(as_of, config.locale.timezone)
        doc = liability_report(ledger, config.loyalty, moment, currency=config.locale.currency)
    if json_:
        print_json(doc)
    else:
        _render_liability(doc)
    if not doc["reconciled"]:
        err.print("the lots and the entries disagree: run `cxloop loyalty verify`")
        raise typer.Exit(1)


def _render_liability(doc: dict[str, Any]) -> None:
    currency = doc["currency"] or ""
    total = doc["outstanding"]
    out.print(
        f"Liability as of {doc['as_of']}: {total['points']:,} points outstanding, worth "
        f"{total['value']} {currency} at {doc['point_value']} a point; "
        f"{doc['members']['with_balance']:,} of {doc['members']['enrolled']:,} members "
        "hold points"
    )

    def rows(items: list[dict[str, Any]], key: str) -> list[list[Any]]:
        return [[r[key], r["points"], r["value"]] for r in items]

    out.print(
        table(
            "By age of lot (months)", ["age", "points", "value"], rows(doc["by_age"], "age_months")
        )
    )
    out.print(
        table(
            "By tier",
            ["tier", "members", "points", "value"],
            [
                [r["tier"], r["members_with_balance"], r["points"], r["value"]]
                for r in doc["by_tier"]
            ],
        )
    )
    soon = [[f"within {r['days']} days", r["points"], r["value"]] for r in doc["expiring"]]
    overdue = doc["overdue_expiry"]
    soon.append(["past their date, not yet expired", overdue["points"], overdue["value"]])
    out.print(table("Expiring", ["", "points", "value"], soon))
    w = doc["window"]
    rev = w["reversed"]
    out.print(
        table(
            f"Flows {w['start'][:10]} to {w['end'][:10]}",
            ["", "points"],
            [
                ["opening", w["opening_points"]],
                ["earned", w["earned"]],
                ["redeemed", -w["redeemed"]],
                ["expired", -w["expired"]],
                ["adjusted up", w["adjusted_up"]],
                ["adjusted down", -w["adjusted_down"]],
                ["reversals: taken back", -rev["taken_back"]],
                ["reversals: given back", rev["given_back"]],
                ["closing", w["closing_points"]],
            ],
        )
    )
    b = doc["breakage"]
    if b["rate"] is None:
        out.print("Breakage: no points expired or were redeemed in the window")
    else:
        interval = f" [95% CI {b['ci_low']}, {b['ci_high']}]" if b["ci_low"] is not None else ""
        out.print(
            f"Breakage {b['rate']}{interval}, n = {b['n']:,} members: {b['expired_points']:,} "
            f"points expired, {b['redeemed_points']:,} redeemed (reversals excluded)"
        )


# -- rendering -------------------------------------------------------------------------------
def _entry_row(entry: Entry) -> list[Any]:
    reason = entry.reason
    if entry.reverses is not None:
        reason += f" (reverses {entry.reverses})"
    if entry.shortfall:
        reason += f" (shortfall {entry.shortfall:,})"
    return [
        entry.entry_id,
        f"{entry.created_at:%Y-%m-%d %H:%M}",
        entry.kind,
        reason,
        _source(entry.source_type, entry.source_id),
        entry.actor,
        entry.points,
    ]


def _source(source_type: str | None, source_id: str | None) -> str:
    return f"{source_type} {source_id}" if source_type else ""
