"""The closed loop's metrics (docs/metrics.md#cases): backlog, speed, SLA, the loop's effect.

- Backlog by team: cases open, assigned or in progress, and how many are overdue (past a due
  time they have not met).
- Time to first response and time to resolution (hours): n, median, 90th percentile, and the
  mean with its Student-t 95% interval.
- % within SLA: among cases whose first response (resolution) happened or is overdue, the
  share that met the due time, with the Wilson 95% interval. A case still within its time is
  not counted yet (it can still meet or miss it).
- Loop effect: NPS of the next NPS answer of detractors whose case was followed up, against
  those whose case was not, each with the adjusted-Wald interval (stats.nps), and the
  difference with a normal 95% interval. Observational: who gets followed up is not random.
- Recurring themes by team: the pinned VoC themes of the cases' answers, counted per team.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.analytics import stats
from cxloop.programs.cases.lifecycle import OPEN_STATUSES, Case, Cases

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

LOOP_EFFECT_SQL = """
WITH later AS (
    SELECT c.case_id, c.followed_up,
           arg_min(f.score, (f.submitted_at, f.source, f.response_id)) AS next_score
    FROM __loop_cases c
    JOIN profile_links l ON l.kind = 'feedback' AND l.profile_id = c.profile_id
    JOIN feedback f ON f.source = l.source AND f.response_id = l.id
    WHERE f.metric = 'nps' AND f.submitted_at > c.answered_at
    GROUP BY c.case_id, c.followed_up
)
SELECT followed_up, count(*) FILTER (WHERE next_score >= 9),
       count(*) FILTER (WHERE next_score BETWEEN 7 AND 8),
       count(*) FILTER (WHERE next_score <= 6)
FROM later GROUP BY followed_up"""


def case_report(cases: Cases, ws: Workspace | None = None, *, top_themes: int = 5) -> dict:
    """The `cxloop cases report` document; the loop effect needs the warehouse (`ws`)."""
    now = cases.now()
    everything = _all(cases)
    active = [c for c in everything if c.status in OPEN_STATUSES]
    teams: dict[str, Counter[str]] = defaultdict(Counter)
    themes: dict[str, Counter[str]] = defaultdict(Counter)
    for c in everything:
        teams[c.team][c.status] += 1
        teams[c.team]["total"] += 1
        if c.status in OPEN_STATUSES and _overdue(c, now):
            teams[c.team]["overdue"] += 1
        for theme in c.themes:
            themes[c.team][theme] += 1
    by_team = [
        {
            "team": team,
            "open": sum(counts[s] for s in OPEN_STATUSES),  # the backlog
            "new": counts["open"],  # not assigned yet
            "assigned": counts["assigned"],
            "in_progress": counts["in_progress"],
            "overdue": counts["overdue"],
            "resolved": counts["resolved"],
            "closed": counts["closed"],
            "total": counts["total"],
        }
        for team, counts in sorted(teams.items())
    ]
    doc: dict[str, Any] = {
        "as_of": now.isoformat(),
        "cases": len(everything),
        "open": len(active),
        "overdue": sum(1 for c in active if _overdue(c, now)),
        "by_team": by_team,
        "sla": {
            "first_response": _within(everything, now, "first_response_at", "first_response_due"),
            "resolution": _within(everything, now, "resolved_at", "resolution_due"),
        },
        "first_response_time": _durations(
            [_hours(c.opened_at, c.first_response_at) for c in everything]
        ),
        "resolution_time": _durations([_hours(c.opened_at, c.resolved_at) for c in everything]),
        "followed_up": sum(1 for c in everything if c.followed_up_at is not None),
        "themes_by_team": {
            team: [{"theme": t, "cases": n} for t, n in counter.most_common(top_themes)]
            for team, counter in sorted(themes.items())
        },
        "loop_effect": None if ws is None else loop_effect(ws, everything),
    }
    return doc


def _all(cases: Cases) -> list[Case]:
    import sqlalchemy as sa

    from cxloop.programs.cases.lifecycle import case_from_row
    from cxloop.programs.closed_loop_tables import cases as table

    with cases.store.read() as conn:
        return [case_from_row(r) for r in conn.execute(sa.select(table)).mappings()]


def _overdue(c: Case, now: datetime) -> bool:
    late_response = c.first_response_at is None and c.first_response_due < now
    return late_response or (c.resolved_at is None and c.resolution_due < now)


def _within(cases: list[Case], now: datetime, done: str, due: str) -> dict[str, Any]:
    met = judged = 0
    for c in cases:
        at, limit = getattr(c, done), getattr(c, due)
        if at is not None:
            judged += 1
            met += at <= limit
        elif limit < now:
            judged += 1  # overdue and not done: missed
    estimate = stats.pick(stats.proportion([met], [judged]), 0)
    return {"within": met, **estimate}


def _hours(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds() / 3600


def _durations(values: list[float | None]) -> dict[str, Any]:
    hours = np.array([v for v in values if v is not None], dtype=np.float64)
    n = int(hours.size)
    if n == 0:
        return {
            "n": 0,
            "median_hours": None,
            "p90_hours": None,
            "mean_hours": None,
            "ci_low": None,
            "ci_high": None,
        }
    mean = stats.pick(stats.mean([n], [hours.mean()], [hours.var(ddof=1) if n > 1 else 0]), 0)
    return {
        "n": n,
        "median_hours": round(float(np.median(hours)), 3),
        "p90_hours": round(float(np.quantile(hours, 0.9)), 3),
        "mean_hours": mean["value"],
        "ci_low": mean["ci_low"],
        "ci_high": mean["ci_high"],
    }


def loop_effect(ws: Workspace, cases: list[Case]) -> dict[str, Any]:
    """NPS of detractors' next answer, followed up vs not (see the module docstring)."""
    import pyarrow as pa

    detractors = [
        c
        for c in cases
        if c.metric == "nps" and c.profile_id is not None and c.answered_at is not None
    ]
    table = pa.table(
        {
            "case_id": pa.array([c.case_id for c in detractors], pa.string()),
            "profile_id": pa.array([c.profile_id for c in detractors], pa.string()),
            "answered_at": pa.array(
                [c.answered_at.astimezone(UTC).replace(tzinfo=None) for c in detractors],
                pa.timestamp("us"),
            ),
            "followed_up": pa.array([c.followed_up_at is not None for c in detractors]),
        }
    )
    ws.profiles.ensure_current()
    ws.engine.register("__loop_cases", table)
    try:
        rows = ws.engine.fetchall(LOOP_EFFECT_SQL)
    finally:
        ws.engine.unregister("__loop_cases")
    groups: dict[bool, tuple[int, int, int]] = {bool(r[0]): (r[1], r[2], r[3]) for r in rows}
    out: dict[str, Any] = {"detractor_cases": len(detractors)}
    estimates = {}
    for followed, name in ((True, "followed_up"), (False, "not_followed_up")):
        p, a, d = groups.get(followed, (0, 0, 0))
        result = stats.nps([p], [a], [d])
        estimates[name] = result
        out[name] = {**stats.pick(result, 0), "promoters": p, "passives": a, "detractors": d}
    one, other = estimates["followed_up"], estimates["not_followed_up"]
    difference = float(one["value"][0] - other["value"][0])
    se = float(np.sqrt(one["se"][0] ** 2 + other["se"][0] ** 2))
    finite = np.isfinite(difference) and np.isfinite(se)
    out["difference"] = {
        "value": difference if finite else None,
        "ci_low": difference - stats.Z95 * se if finite else None,
        "ci_high": difference + stats.Z95 * se if finite else None,
    }
    return out
