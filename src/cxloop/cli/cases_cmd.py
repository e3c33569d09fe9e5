"""`cxloop cases`: the closed loop's cases (docs/cases.md).

Every command opens only the programs store (so it works beside a running `cxloop serve`),
except `report`, which also reads the warehouse for the loop's effect on NPS (skipped with a
note when the workspace is busy, or with `--no-warehouse`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cxloop.cli.loyalty_cmd import workspace_config
from cxloop.cli.render import out, print_json, table

if TYPE_CHECKING:
    from cxloop.programs.cases import Case, Cases

cases_app = typer.Typer(
    help="Closed-loop cases: list, assign, work, resolve, close, reopen, report.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]
CaseArg = Annotated[str, typer.Argument(help="Case id (K...).")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who did it, kept in the history.")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="A note kept in the history.")]


@contextmanager
def open_cases(workspace: Path) -> Iterator[Cases]:
    from cxloop.programs.cases import Cases
    from cxloop.programs.store import ProgramStore

    config = workspace_config(workspace)
    store = ProgramStore.open(workspace, config.programs.database_url or None, pool_size=2)
    try:
        yield Cases(store, config.cases, config.triggers, timezone=config.locale.timezone)
    finally:
        store.close()


def _show(case: Case, json_: bool) -> None:
    if json_:
        print_json(case.to_dict())
        return
    out.print(
        f"Case {case.case_id}: {case.status}, team {case.team}, "
        f"assignee {case.assignee or '-'}, priority {case.priority}"
        + (f", resolved ({case.resolution_code})" if case.resolution_code else "")
    )


@cases_app.command("list")
def list_cases(
    workspace: WsArg,
    team: Annotated[str | None, typer.Option(help="Only this team's cases.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="open, assigned, in_progress, resolved, closed, or active (the first 3)."
        ),
    ] = None,
    assignee: Annotated[str | None, typer.Option(help="Only this person's cases.")] = None,
    priority: Annotated[str | None, typer.Option(help="high, normal or low.")] = None,
    overdue: Annotated[bool, typer.Option(help="Only cases past a due time.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    json_: JsonOpt = False,
) -> None:
    """Cases matching the filters, the most urgent first."""
    with open_cases(workspace) as cases:
        found = cases.list(
            team=team,
            status=status,
            assignee=assignee,
            priority=priority,
            overdue=overdue,
            limit=limit,
        )
    if json_:
        print_json({"cases": [c.to_dict() for c in found]})
        return
    rows = [
        [
            c.case_id,
            c.team,
            c.status,
            c.priority,
            c.assignee or "",
            c.metric or "",
            "" if c.score is None else f"{c.score:g}",
            c.touchpoint or "(relationship)",
            f"{c.first_response_due:%Y-%m-%d %H:%M}",
        ]
        for c in found
    ]
    out.print(
        table(
            "Cases",
            [
                "case",
                "team",
                "status",
                "priority",
                "assignee",
                "metric",
                "score",
                "touchpoint",
                "respond by (UTC)",
            ],
            rows,
        )
    )


@cases_app.command("show")
def show(workspace: WsArg, case_id: CaseArg, json_: JsonOpt = False) -> None:
    """One case and its history."""
    with open_cases(workspace) as cases:
        case = cases.get(case_id)
        history = cases.history(case_id)
    if json_:
        print_json({**case.to_dict(), "history": history})
        return
    _show(case, False)
    rows = [
        [
            h["at"],
            h["action"],
            h["from_status"] or "",
            h["to_status"] or "",
            h["actor"],
            h["note"] or "",
        ]
        for h in history
    ]
    out.print(table("History", ["at", "action", "from", "to", "actor", "note"], rows))


@cases_app.command("assign")
def assign(
    workspace: WsArg,
    case_id: CaseArg,
    assignee: Annotated[str, typer.Argument(help="The person who takes the case.")],
    actor: ActorOpt = "cli",
    note: NoteOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Assign (or reassign) a case."""
    with open_cases(workspace) as cases:
        _show(cases.assign(case_id, assignee, actor=actor, note=note), json_)


@cases_app.command("update")
def update(
    workspace: WsArg,
    case_id: CaseArg,
    status: Annotated[
        str | None,
        typer.Option(help="in_progress (start work), closed (after resolved), or open (reopen)."),
    ] = None,
    note: NoteOpt = None,
    contacted: Annotated[
        bool, typer.Option(help="The note records an answer to the customer (first response).")
    ] = False,
    actor: ActorOpt = "cli",
    json_: JsonOpt = False,
) -> None:
    """Move a case on (start, close, reopen) or add a note."""
    from cxloop.errors import CxloopError

    with open_cases(workspace) as cases:
        if status is None:
            if not note:
                raise CxloopError("update needs --status or --note")
            case = cases.note(case_id, note, actor=actor, contacted=contacted)
        elif status == "in_progress":
            case = cases.start(case_id, actor=actor, note=note)
        elif status == "closed":
            case = cases.close(case_id, actor=actor, note=note)
        elif status == "open":
            case = cases.reopen(case_id, actor=actor, note=note)
        else:
            raise CxloopError(
                f"--status {status!r}: use in_progress, closed or open (reopen); assign and "
                "resolve have their own commands"
            )
    _show(case, json_)


@cases_app.command("resolve")
def resolve(
    workspace: WsArg,
    case_id: CaseArg,
    code: Annotated[str, typer.Option("--code", help="Resolution code: what was done.")],
    actor: ActorOpt = "cli",
    note: NoteOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Resolve a case; the customer gets the follow-up survey (when they may be contacted)."""
    with open_cases(workspace) as cases:
        _show(cases.resolve(case_id, code, actor=actor, note=note), json_)


@cases_app.command("report")
def report(
    workspace: WsArg,
    no_warehouse: Annotated[
        bool, typer.Option("--no-warehouse", help="Skip the loop effect (needs the warehouse).")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Backlog by team, time to first response and to resolution, % within SLA, loop effect."""
    from cxloop.errors import WorkspaceBusyError
    from cxloop.programs.cases.report import case_report
    from cxloop.workspace import Workspace

    with open_cases(workspace) as cases:
        doc: dict[str, Any]
        if no_warehouse:
            doc = case_report(cases)
        else:
            try:
                with Workspace.open(workspace, wait=5) as ws:
                    doc = case_report(cases, ws)
            except WorkspaceBusyError:
                doc = case_report(cases)
                doc["notes"] = ["the workspace is busy: loop effect left out"]
    if json_:
        print_json(doc)
        return
    out.print(f"{doc['open']:,} open case(s) of {doc['cases']:,}; {doc['overdue']:,} overdue")
    out.print(
        table(
            "Backlog by team",
            ["team", "open", "new", "assigned", "in progress", "overdue", "resolved", "closed"],
            [
                [
                    t["team"],
                    t["open"],
                    t["new"],
                    t["assigned"],
                    t["in_progress"],
                    t["overdue"],
                    t["resolved"],
                    t["closed"],
                ]
                for t in doc["by_team"]
            ],
        )
    )
    rows = []
    for name, key in (("first response", "first_response"), ("resolution", "resolution")):
        sla = doc["sla"][key]
        times = doc[f"{key}_time"]
        rows.append(
            [
                name,
                _pct(sla),
                sla["n"],
                _h(times["median_hours"]),
                _h(times["p90_hours"]),
                times["n"],
            ]
        )
    out.print(
        table(
            "Speed and SLA",
            ["", "% within SLA (95% CI)", "n", "median h", "p90 h", "n timed"],
            rows,
        )
    )
    effect = doc.get("loop_effect")
    if effect:
        a, b, d = effect["followed_up"], effect["not_followed_up"], effect["difference"]
        out.print(
            f"Loop effect (NPS of detractors' next answer): followed up {_nps(a)}, "
            f"not followed up {_nps(b)}, difference "
            + (
                "n/a"
                if d["value"] is None
                else f"{d['value']:+.1f} [{d['ci_low']:.1f}, {d['ci_high']:.1f}]"
            )
        )


def _pct(estimate: dict[str, Any]) -> str:
    if estimate["value"] is None:
        return "n/a"
    return (
        f"{100 * estimate['value']:.1f}% [{100 * estimate['ci_low']:.1f}, "
        f"{100 * estimate['ci_high']:.1f}]"
    )


def _h(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _nps(e: dict[str, Any]) -> str:
    if e["value"] is None:
        return "n/a (n=0)"
    return f"{e['value']:.1f} [{e['ci_low']:.1f}, {e['ci_high']:.1f}] (n={e['n']})"
