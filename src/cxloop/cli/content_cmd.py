"""`cxloop content`: the content catalogue (load, list, status, history) and its lift.

Catalogue commands open only the programs' store (like the loyalty ledger's), so they work
while `cxloop serve` holds the warehouse; `lift` reads the warehouse and opens the workspace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cxloop.cli.render import out, print_json, table
from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.programs.content import ContentCatalogue

content_app = typer.Typer(
    help="Content mapped to moments: the asset catalogue and its workflow, and measured lift.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine", help="Where the analysis runs: duckdb or spark (default: [engine] name)."
    ),
]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who did it, kept in the history.")]


@contextmanager
def open_catalogue(workspace: Path) -> Iterator[tuple[ContentCatalogue, str]]:
    """The catalogue in the store of `[programs] database_url`, and the workspace time zone."""
    from cxloop.cli.loyalty_cmd import workspace_config
    from cxloop.programs.content import ContentCatalogue
    from cxloop.programs.store import ProgramStore

    config = workspace_config(workspace)
    store = ProgramStore.open(workspace, config.programs.database_url or None, pool_size=2)
    try:
        yield ContentCatalogue(store), config.locale.timezone
    finally:
        store.close()


@content_app.command("load")
def load(
    workspace: WsArg,
    file: Annotated[Path, typer.Argument(help="Catalogue file: .csv, .json or .jsonl.")],
    actor: ActorOpt = "cli",
    json_: JsonOpt = False,
) -> None:
    """Create or update assets from a file (all or nothing; every bad value listed)."""
    from cxloop.content.files import read_catalogue

    with open_catalogue(workspace) as (catalogue, tz):
        rows = read_catalogue(file, timezone=tz)
        report = catalogue.load(rows, actor=actor, source=str(file))
    if json_:
        print_json({"file": str(file), "assets": len(rows), **report.to_dict()})
        return
    out.print(
        f"{file}: {len(rows)} assets: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged ({report.status_changes} status changes recorded)"
    )


@content_app.command("list")
def list_assets(workspace: WsArg, json_: JsonOpt = False) -> None:
    """Every asset with its status and the date it reached it."""
    with open_catalogue(workspace) as (catalogue, _):
        assets = [a.to_dict() for a in catalogue.list()]
    if json_:
        print_json({"assets": assets})
        return
    rows = [
        [a["content_id"], a["title"], a["type"], a["persona"], a["moment"], a["value_level"],
         a["status"], a["status_dates"].get(a["status"], "")[:10], a["owner"] or ""]
        for a in assets
    ]  # fmt: skip
    out.print(
        table(
            "Content assets",
            ["id", "title", "type", "persona", "moment", "value", "status", "since", "owner"],
            rows,
            text_columns=9,
        )
    )


@content_app.command("status")
def status(
    workspace: WsArg,
    content_id: Annotated[str, typer.Argument(help="Asset id.")],
    new_status: Annotated[
        str, typer.Argument(help="idea, planned, approved, published or retired.")
    ],
    at: Annotated[
        str | None, typer.Option(help="When, ISO 8601 with offset (default: now).")
    ] = None,
    actor: ActorOpt = "cli",
    json_: JsonOpt = False,
) -> None:
    """Move an asset through the workflow; a move the workflow forbids is refused."""
    moment = None
    if at is not None:
        try:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise CxloopError(f"--at {at!r} is not an ISO 8601 date-time") from None
    with open_catalogue(workspace) as (catalogue, _):
        asset = catalogue.transition(content_id, new_status.lower(), actor=actor, at=moment)
    if json_:
        print_json(asset.to_dict())
        return
    out.print(f"{asset.content_id} is {asset.status}")


@content_app.command("history")
def history(
    workspace: WsArg,
    content_id: Annotated[str, typer.Argument(help="Asset id.")],
    json_: JsonOpt = False,
) -> None:
    """Every status change of an asset, oldest first."""
    with open_catalogue(workspace) as (catalogue, _):
        changes = catalogue.history(content_id)
    if json_:
        print_json({"content_id": content_id, "changes": changes})
        return
    out.print(
        table(
            f"History of {content_id}",
            ["from", "to", "when", "by"],
            [
                [c["from_status"] or "", c["to_status"], c["changed_at"], c["actor"]]
                for c in changes
            ],
            text_columns=4,
        )
    )


@content_app.command("lift")
def lift(
    workspace: WsArg,
    outcome: Annotated[
        str, typer.Option(help="nps, csat, ces, rating (answers about the moment) or repurchase.")
    ] = "nps",
    window_days: Annotated[
        int, typer.Option(help="Days before an answer (after an order) a view counts.")
    ] = 30,
    engine: EngineOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Reach, engagement and adjusted lift of each asset and moment, with CIs and q-values."""
    from cxloop import analyses
    from cxloop.engines.lake_workspace import analytics_workspace
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as opened, analytics_workspace(opened, engine) as ws:
        doc = analyses.content(ws, outcome=outcome, window_days=window_days)
    if json_:
        print_json(doc)
        return
    render_lift(doc)


def _pct(x: dict[str, Any] | None) -> str:
    if not x or x.get("value") is None:
        return ""
    return f"{100 * x['value']:.1f}% [{100 * x['ci_low']:.1f}, {100 * x['ci_high']:.1f}]"


def _effect(lift: dict[str, Any] | None) -> tuple[str, str, str, str]:
    if not lift or lift.get("effect") is None:
        return ("", "", "", (lift or {}).get("note", "")[:60])
    ci = f"[{lift['ci_low']:+.2f}, {lift['ci_high']:+.2f}]"
    naive = "" if lift["naive_effect"] is None else f"{lift['naive_effect']:+.2f}"
    return (f"{lift['effect']:+.2f}", ci, naive, "yes" if lift["significant"] else "")


def render_lift(doc: dict[str, Any]) -> None:
    out.print(
        f"Content at the moments that matter: lift on {doc['outcome']} (adjusted as pivotal "
        "moments are: customer value, orders, tenure, touchpoint experiences; q across assets)"
    )
    for note in doc["notes"]:
        out.print(f"note: {note}")
    rows = []
    for a in doc["assets"]:
        e = a["engagement"]
        rows.append(
            [a["content_id"], a["title"], a["moment"], a["status"], _pct(a["reach"]),
             e["views"], "" if e["median_seconds"] is None else f"{e['median_seconds']:.0f}",
             *_effect(a["lift"]), (a["lift"] or {}).get("n_exposed", "")]
        )  # fmt: skip
    out.print(
        table(
            "Assets",
            ["id", "title", "moment", "status", "reach", "views", "median s", "lift",
             "95% CI", "naive", "significant", "exposed"],
            rows,
            text_columns=4,
        )
    )  # fmt: skip
    rows = [
        [m["moment"], ", ".join(m["touchpoints"]), ", ".join(m["assets"]), _pct(m["reach"]),
         m["units"], *_effect(m["lift_any"])]
        for m in doc["moments"]
    ]  # fmt: skip
    out.print(
        table(
            "Moments (lift of opening any of its assets)",
            ["moment", "touchpoints", "assets", "reach", "units", "lift", "95% CI", "naive",
             "significant"],
            rows,
            text_columns=3,
        )
    )  # fmt: skip
