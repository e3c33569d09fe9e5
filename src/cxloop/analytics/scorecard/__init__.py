"""The composite CX scorecard: advocacy, ease, satisfaction, economic and social value.

`build_scorecard(workspace, scope)` returns the JSON document of `cxloop scorecard --json`:
`{"period", "by", "since", "until", "metrics", "trend", "breakdown", "goals", "notes",
"benchmarks"}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cxloop.analytics.periods import Period
from cxloop.analytics.scorecard import compute
from cxloop.analytics.scorecard.goals import evaluate, parse_goal
from cxloop.analytics.scorecard.metrics import BY_NAME, METRICS
from cxloop.analytics.scorecard.scope import BREAKDOWNS, Scope

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

__all__ = ["BREAKDOWNS", "METRICS", "Scope", "build_scorecard"]


def build_scorecard(
    ws: Workspace, scope: Scope | None = None, *, today: date | None = None
) -> dict[str, Any]:
    """Compute the scorecard over the workspace's unified profiles (built if stale)."""
    scope = scope or Scope(period=Period(ws.config.scorecard.period))
    ws.profiles.ensure_current()
    ws.signals.ensure_current()  # advocacy intent of mentions, for social value
    settings = ws.config.scorecard
    notes: list[str] = []
    if scope.by == "membership":
        from cxloop.analytics.membership import register_members

        notes.extend(register_members(ws).notes)
    params = {
        **scope.params,
        "brand": ws.config.brand.name,
        "competitors": [c.strip().lower() for c in ws.config.brand.competitors],
    }
    results = []
    for _, make_sql, convert in compute.families(
        list(settings.support_touchpoints), settings.journey_gap_minutes
    ):
        sql = make_sql(scope)
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        cursor = ws.engine.execute(sql, used or None)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        results.append((rows, convert(rows)))
    cells = compute.merge_cells(results)
    order = [m.name for m in METRICS]

    def ordered(m: dict[str, Any], *, fill: bool = True) -> dict[str, Any]:
        """Metrics in catalogue order; a metric without data is `value: null, n: 0`.

        Breakdowns leave out metrics the dimension does not apply to (mentions by country).
        """
        empty = {"value": None, "n": 0, "ci_low": None, "ci_high": None}
        return {k: m.get(k, dict(empty)) for k in order if fill or k in m}

    trend = [
        {"period": scope.period.label(p), "start": p.isoformat(), "metrics": ordered(m)}
        for (lvl, p, _), m in sorted(
            ((k, v) for k, v in cells.items() if k[0] == "period" and k[1] is not None),
            key=lambda kv: kv[0][1],
        )
    ]
    data_end = _data_end(ws, scope)
    for point in trend:
        end = _period_end(scope.period, date.fromisoformat(point["start"]))
        # A period the data does not cover to its end (the current month, or one cut by
        # --until) is marked, so nobody reads a half month as a fall.
        point["end"] = end.isoformat()
        point["complete"] = data_end is not None and data_end >= end - timedelta(days=1)
    compute.test_changes(trend)
    breakdown = [
        {"by": scope.by, "group": g, "metrics": ordered(m, fill=False)}
        for (lvl, _, g), m in sorted(
            ((k, v) for k, v in cells.items() if k[0] == "group"),
            key=lambda kv: (kv[0][2] is None, kv[0][2] or ""),
        )
    ]
    today = today or datetime.now(UTC).date()
    goals = [evaluate(parse_goal(g), trend, today=today) for g in settings.goals]
    doc = {
        "period": scope.period.value,
        "by": scope.by,
        "since": scope.since.isoformat() if scope.since else None,
        "until": scope.until.isoformat() if scope.until else None,
        "metrics": ordered(cells.get(("all", None, None), {})),
        "trend": trend,
        "breakdown": breakdown,
        "goals": goals,
        "notes": notes,
        "families": {m.name: m.family for m in METRICS},
        "labels": {m.name: m.label for m in METRICS},
        "units": {m.name: m.unit for m in METRICS},
        "higher_is_better": {m.name: m.higher_is_better for m in METRICS},
    }
    from cxloop.analytics.benchmarks import scorecard_benchmarks

    doc["benchmarks"] = scorecard_benchmarks(ws, doc)  # external figures, docs/metrics.md
    return doc


def _period_end(period: Period, start: date) -> date:
    months = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}[period]
    total = start.year * 12 + start.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _data_end(ws: Workspace, scope: Scope) -> date | None:
    """The last day with any activity in the window (orders, answers, events, mentions)."""
    latest = ws.engine.scalar(
        "SELECT max(ts) FROM (SELECT max(ordered_at) AS ts FROM orders "
        "UNION ALL SELECT max(submitted_at) FROM feedback "
        "UNION ALL SELECT max(occurred_at) FROM events "
        "UNION ALL SELECT max(posted_at) FROM mentions)"
    )
    if latest is None:
        return None
    end = latest.date()
    if scope.until is not None:
        end = min(end, (scope.until - timedelta(microseconds=1)).date())
    return end


def metric_names() -> list[str]:
    return list(BY_NAME)
