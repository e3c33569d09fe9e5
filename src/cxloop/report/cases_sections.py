"""Report section of the closed loop: the backlog by team, speed and SLA, recurring themes,
the loop's effect on detractors' NPS, and triggered actions against their holdout groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cxloop.report.document import Section, bullet_list, html_table, paragraph

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

TITLE = "Closed loop: cases and triggered actions"


def cases_sections(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    """One section (a line saying how to switch it on when the loop is off)."""
    if not (ws.config.cases.enabled or ws.config.triggers.enabled):
        off = "Not enabled: set [cases] enabled = true (and [triggers]) in cxloop.toml."
        return [Section(TITLE, "cases", off)]
    from cxloop.programs.cases import Cases
    from cxloop.programs.cases.report import case_report
    from cxloop.programs.store import ProgramStore
    from cxloop.programs.triggers.measure import holdout_report

    config = ws.config
    with ProgramStore.open(ws.path, config.programs.database_url or None, pool_size=1) as store:
        cases = Cases(store, config.cases, config.triggers, timezone=config.locale.timezone)
        doc = case_report(cases, ws)
        actions = holdout_report(ws, store) if config.triggers.enabled else None
    context["cases"] = doc
    return [cases_section(doc, actions)]


def _pct(estimate: dict[str, Any]) -> str:
    if estimate.get("value") is None:
        return "n/a"
    return (f"{100 * estimate['value']:.1f}% [{100 * estimate['ci_low']:.1f}, "
            f"{100 * estimate['ci_high']:.1f}] (n={estimate['n']:,})")  # fmt: skip


def _nps(estimate: dict[str, Any]) -> str:
    if estimate.get("value") is None:
        return "n/a"
    return f"{estimate['value']:.1f} [{estimate['ci_low']:.1f}, {estimate['ci_high']:.1f}]"


def _hours(times: dict[str, Any]) -> str:
    if not times["n"]:
        return "n/a"
    return (
        f"median {times['median_hours']:.1f} h, 90th percentile {times['p90_hours']:.1f} h "
        f"(n={times['n']:,})"
    )


def cases_section(doc: dict[str, Any], actions: dict[str, Any] | None) -> Section:
    items = [
        f"{doc['open']:,} open cases of {doc['cases']:,}; {doc['overdue']:,} overdue.",
        f"First response within SLA: {_pct(doc['sla']['first_response'])}; resolution within "
        f"SLA: {_pct(doc['sla']['resolution'])}.",
        f"Time to first response: {_hours(doc['first_response_time'])}; to resolution: "
        f"{_hours(doc['resolution_time'])}.",
        f"Customers followed up after resolution: {doc['followed_up']:,}.",
    ]
    blocks = [bullet_list(items)]
    teams = [[t["team"], t["open"], t["new"], t["assigned"], t["in_progress"], t["overdue"],
              t["resolved"], t["closed"]] for t in doc["by_team"]]  # fmt: skip
    if teams:
        blocks.append(html_table(
            ["team", "open", "new", "assigned", "in progress", "overdue", "resolved", "closed"],
            teams))  # fmt: skip
    themes = [[team, t["theme"], t["cases"]]
              for team, found in doc["themes_by_team"].items() for t in found]  # fmt: skip
    if themes:
        blocks.append(paragraph("Recurring themes of the cases' answers ([voc.pinned]):"))
        blocks.append(html_table(["team", "theme", "cases"], themes, text_columns=2))
    effect = doc.get("loop_effect")
    if effect:
        blocks.append(paragraph(
            "NPS of detractors' next answer, followed up or not (observational: who is followed "
            "up is not random):"))  # fmt: skip
        blocks.append(html_table(["detractors", "NPS (95% CI)", "n"], [
            ["followed up", _nps(effect["followed_up"]), effect["followed_up"]["n"]],
            ["not followed up", _nps(effect["not_followed_up"]), effect["not_followed_up"]["n"]],
            ["difference", _nps(effect["difference"]), ""],
        ]))  # fmt: skip
    if actions and actions["actions"]:
        rows = []
        for a in actions["actions"]:
            lift = a["lift"]
            rows.append([a["action"], _pct(a["sent"]), _pct(a["holdout"]),
                         "n/a" if lift is None else
                         f"{100 * lift['value']:+.1f} pts [{100 * lift['ci_low']:.1f}, "
                         f"{100 * lift['ci_high']:.1f}]"])  # fmt: skip
        blocks.append(paragraph(f"Triggered actions against their holdout groups; outcome: "
                                f"{actions['outcome']}."))  # fmt: skip
        blocks.append(html_table(["action", "sent", "holdout", "lift (95% CI)"], rows))
    return Section(
        TITLE,
        "cases",
        "Detractor answers routed to the team that owns the moment, tracked to resolution, and "
        "followed up; actions measured against holdouts (docs/cases.md, docs/triggers.md).",
        blocks,
    )
