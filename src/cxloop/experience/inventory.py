"""`cxloop architecture`: the declared architecture joined with what the data says.

Per moment of `architecture.toml`: reach (share of active profiles with an event there, Wilson
interval), effectiveness (share of its events that succeeded, Wilson), NPS about the moment
and NPS of the customers it reached (adjusted-Wald intervals, Rocks 2016), and the pivotal-
moment effects of its touchpoints (`cxloop moments`: adjusted, with CI and q-value). Then the
gaps a leader acts on:

- `pivotal_unplanned`: a touchpoint condition with a significant pivotal effect (q < 0.05)
  whose touchpoint belongs to no declared moment, or to moments with no experience;
- `unmeasured`: an experience with no measurement, or one measured by a figure the data
  cannot give at that moment (CSAT where nobody answers a CSAT survey about it, success
  where its events never report it, content with no asset named);
- `no_owner`: a moment with no owning team (the catalogue's owners are suggested).

The figures describe all customers at the moment; an experience aimed at one persona is
listed with its persona, but the data is not split by persona (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cxloop.analytics import stats
from cxloop.errors import CxloopError
from cxloop.experience import queries
from cxloop.experience.architecture import Architecture, Moment, load_architecture

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

FEEDBACK_MEASURES = ("nps", "csat", "ces", "rating")


def known_touchpoints(ws: Workspace) -> set[str]:
    """Touchpoints of the catalogue and of the events (to check the file's names)."""
    return {r[0] for r in ws.engine.fetchall(queries.known_touchpoints_sql()) if r[0]}


def build_architecture(
    ws: Workspace,
    *,
    outcome: str = "nps",
    window_days: int = 180,
    pivotal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The inventory document of `cxloop architecture --json` (docs/architecture.md)."""
    architecture = load_architecture(ws.path, touchpoints=known_touchpoints(ws))
    if architecture is None:
        raise CxloopError(
            f"{ws.path}: no architecture.toml (write a documented example with "
            f"`cxloop architecture {ws.path} --example`)"
        )
    from cxloop.experience.value import build_value_framework

    doc = inventory(ws, architecture, outcome=outcome, window_days=window_days, pivotal=pivotal)
    doc["value_framework"] = build_value_framework(ws)
    return doc


def inventory(
    ws: Workspace,
    architecture: Architecture,
    *,
    outcome: str = "nps",
    window_days: int = 180,
    pivotal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Join `architecture` with the workspace's data (see the module docstring).

    `pivotal`: a `cxloop moments` document for the same outcome and window, when the caller
    has one already (the report), so it is not computed twice.
    """
    from cxloop.analytics.moments import MomentsSettings, build_moments

    ws.profiles.ensure_current()
    figures, answers = _figures(ws, architecture)
    if pivotal is None or pivotal.get("outcome") != outcome:
        pivotal = build_moments(ws, MomentsSettings(outcome=outcome, window_days=window_days))
    owners = dict(ws.engine.fetchall("SELECT touchpoint, owner FROM touchpoints"))
    by_touchpoint: dict[str, list[dict[str, Any]]] = {}
    for m in pivotal["moments"]:
        by_touchpoint.setdefault(m["touchpoint"], []).append(m)
    moments = []
    gaps: list[dict[str, Any]] = []
    for moment in architecture.moments:
        f = figures.get(moment.name, {})
        effects = [
            {k: e[k] for k in ("touchpoint", "condition", "effect", "ci_low", "ci_high",
                               "q_value", "significant", "naive_effect", "n_exposed")}
            for t in moment.touchpoints for e in by_touchpoint.get(t, [])
        ]  # fmt: skip
        moments.append(
            {
                **moment.to_dict(),
                "reach": f.get("reach"),
                "effectiveness": f.get("effectiveness"),
                "nps_about": f.get("nps_about"),
                "nps_reached": f.get("nps_reached"),
                "events": f.get("events", 0),
                "pivotal_effects": effects,
                "pivotal": any(e["significant"] for e in effects),
            }
        )
        gaps += _moment_gaps(moment, f, answers.get(moment.name, {}), owners)
    from cxloop.content.queries import content_only_touchpoints_sql

    # Touchpoints that only carry content interactions are measured by `cxloop content lift`.
    content_only = {r[0] for r in ws.engine.fetchall(content_only_touchpoints_sql())}
    gaps += _pivotal_gaps(
        architecture, [m for m in pivotal["moments"] if m["touchpoint"] not in content_only]
    )
    return {
        "file": str(architecture.path),
        "outcome": outcome,
        "moments": moments,
        "gaps": gaps,
        "pivotal_n": pivotal["n"],
        "notes": [
            "figures describe every customer at the moment; experiences aimed at one persona "
            "are listed with it, the data is not split by persona",
            *pivotal["notes"],
        ],
    }


def _figures(
    ws: Workspace, architecture: Architecture
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]]:
    e = ws.engine
    table = queries.MOMENTS_TABLE
    e.execute(f"CREATE OR REPLACE TEMP TABLE {table} (moment VARCHAR, touchpoint VARCHAR)")
    try:
        for m in architecture.moments:
            for t in m.touchpoints:
                e.execute(f"INSERT INTO {table} VALUES (?, ?)", [m.name, t])
        cursor = e.execute(queries.moment_figures_sql())
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        answers: dict[str, dict[str, int]] = {}
        for moment, metric, n in e.fetchall(queries.metric_counts_sql()):
            answers.setdefault(moment, {})[metric] = int(n)
    finally:
        e.execute(f"DROP TABLE IF EXISTS {table}")
    if not rows:
        return {}, answers
    reach = stats.proportion([r["reached"] for r in rows], [r["active"] for r in rows])
    success = stats.proportion([r["success_x"] for r in rows], [r["success_n"] for r in rows])
    about = stats.nps(*([r[f"about_{c}"] for r in rows] for c in "pad"))
    after = stats.nps(*([r[f"after_{c}"] for r in rows] for c in "pad"))
    out = {}
    for i, r in enumerate(rows):
        out[r["moment"]] = {
            "reach": {**stats.pick(reach, i), "profiles": int(r["reached"])},
            "effectiveness": stats.pick(success, i),
            "nps_about": stats.pick(about, i),
            "nps_reached": stats.pick(after, i),
            "events": int(r["events"]),
        }
    return out, answers


def _moment_gaps(
    moment: Moment, figures: dict[str, Any], answers: dict[str, int], owners: dict[str, Any]
) -> list[dict[str, Any]]:
    gaps: list[dict[str, Any]] = []
    if moment.owner is None:
        suggested = sorted({owners[t] for t in moment.touchpoints if owners.get(t)})
        gaps.append(
            {
                "kind": "no_owner",
                "moment": moment.name,
                "line": moment.line,
                "detail": "no owning team"
                + (f" (the catalogue names {', '.join(suggested)})" if suggested else ""),
            }
        )
    success_n = (figures.get("effectiveness") or {}).get("n") or 0
    for x in moment.experiences:
        reasons = []
        if not x.measured_by:
            reasons.append("no measurement declared (measured_by is empty)")
        for measure in x.measured_by:
            if measure in FEEDBACK_MEASURES and not answers.get(measure):
                reasons.append(f"measured by {measure}, but no {measure} answer is about "
                               f"{', '.join(moment.touchpoints)}")  # fmt: skip
            elif measure == "success" and not success_n:
                reasons.append("measured by success, but its events never report success")
            elif measure == "content" and not x.content:
                reasons.append("measured by content, but no content asset is named")
        if reasons:
            gaps.append(
                {
                    "kind": "unmeasured",
                    "moment": moment.name,
                    "experience": x.name,
                    "line": x.line,
                    "detail": "; ".join(reasons),
                }
            )
    return gaps


def _pivotal_gaps(
    architecture: Architecture, pivotal: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    gaps = []
    for m in pivotal:
        if not m["significant"]:
            continue
        covering = architecture.moment_of(m["touchpoint"])
        if any(c.experiences for c in covering):
            continue
        where = (
            f"moment {', '.join(c.name for c in covering)} plans no experience"
            if covering
            else "no moment of the architecture covers this touchpoint"
        )
        gaps.append(
            {
                "kind": "pivotal_unplanned",
                "moment": covering[0].name if covering else None,
                "touchpoint": m["touchpoint"],
                "condition": m["condition"],
                "effect": m["effect"],
                "ci_low": m["ci_low"],
                "ci_high": m["ci_high"],
                "line": covering[0].line if covering else None,
                "detail": f"'{m['touchpoint']} {m['condition']}' is pivotal "
                f"(effect {m['effect']:+.2f}); {where}",
            }
        )
    return gaps
