"""Segment transitions: each profile's segment at the end of each of the last periods.

Why as of each period's end, with only the data known then: a segment recomputed with later
data would leak the future into the past (a customer who bought again in June would look
loyal in March already). Each period's state is the same rule as the current one
(state.py), evaluated at the period's last day, or at the end of the data for a period still
running; P(alive) uses the model fitted at the end of the data, evaluated on each profile's
purchases up to that day. Profiles not yet seen at the earlier date come `from` "new".
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from cxloop.analytics import stats
from cxloop.analytics.periods import Period
from cxloop.analytics.segments.queries import SEGMENTS
from cxloop.analytics.segments.state import State, state_at_sql

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

FROM_STATES = ("new", *SEGMENTS)
_MONTHS = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_start(period: Period, day: date) -> date:
    """First day of the period holding `day`."""
    step = _MONTHS[period]
    month = (day.month - 1) // step * step + 1 if step < 12 else 1
    return date(day.year, month, 1)


def period_windows(period: Period, start: date, end: date, count: int) -> list[dict[str, Any]]:
    """The last `count` periods up to `end` (none before the one holding `start`), oldest
    first, each with its as-of day and whether the data covers it to its last day."""
    step = _MONTHS[period]
    first = period_start(period, start)
    current = period_start(period, end)
    out: list[dict[str, Any]] = []
    while current >= first and len(out) < count:
        last_day = _add_months(current, step) - timedelta(days=1)
        as_of = min(last_day, end)
        out.append(
            {
                "period": period.label(current),
                "start": current.isoformat(),
                "as_of": as_of,
                "complete": as_of == last_day,
            }
        )
        current = _add_months(current, -step)
    return out[::-1]


def build_transitions(
    ws: Workspace, state: State, period: Period, count: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-period segment counts and the transition matrix between consecutive periods."""
    if state.end is None or state.start is None:
        return [], []
    windows = period_windows(period, state.start, state.end, count)
    e = ws.engine
    e.execute(
        "CREATE OR REPLACE TEMP TABLE seg_history "
        "(idx INTEGER, pid INTEGER, segment VARCHAR, advocate BOOLEAN)"
    )
    sql = state_at_sql(state)
    for idx, w in enumerate(windows):
        if w["as_of"] == state.end:  # the current state: already computed
            e.execute(
                "INSERT INTO seg_history SELECT $idx, pid, segment, advocate FROM seg_profiles",
                {"idx": idx},
            )
        else:
            state.run(
                ws,
                "INSERT INTO seg_history SELECT CAST($idx AS INTEGER), pid, segment, "
                f"advocate FROM ({sql})",
                asof=w["as_of"],
                idx=idx,
            )
    counts: dict[int, dict[str, int]] = {i: dict.fromkeys(SEGMENTS, 0) for i in range(len(windows))}
    loyads: dict[int, int] = dict.fromkeys(range(len(windows)), 0)
    for idx, segment, n, n_loyads in e.fetchall(
        "SELECT idx, segment, count(*), count(*) FILTER (WHERE advocate) FROM seg_history "
        "GROUP BY idx, segment"
    ):
        counts[idx][segment] = int(n)
        if segment == "loyal":
            loyads[idx] = int(n_loyads)
    periods = [
        {
            **{k: v for k, v in w.items() if k != "as_of"},
            "as_of": w["as_of"].isoformat(),
            "profiles": sum(counts[i].values()),
            "segments": counts[i],
            "loyads": loyads[i],
        }
        for i, w in enumerate(windows)
    ]
    cells: dict[tuple[int, str, str], int] = {}
    for idx, source, target, n in e.fetchall(
        "SELECT h.idx, coalesce(p.segment, 'new'), h.segment, count(*) FROM seg_history h "
        "LEFT JOIN seg_history p ON p.idx = h.idx - 1 AND p.pid = h.pid "
        "WHERE h.idx > 0 GROUP BY ALL"
    ):
        cells[(int(idx), source, target)] = int(n)
    pairs = [_pair(periods[i - 1], periods[i], i, cells) for i in range(1, len(windows))]
    return periods, pairs


def _pair(
    before: dict[str, Any], after: dict[str, Any], idx: int, cells: dict[tuple[int, str, str], int]
) -> dict[str, Any]:
    matrix = []
    for source in FROM_STATES:
        row = [cells.get((idx, source, target), 0) for target in SEGMENTS]
        share = stats.proportion(row, [sum(row)] * len(row))
        for j, target in enumerate(SEGMENTS):
            est = stats.pick(share, j)
            matrix.append(
                {
                    "from": source,
                    "to": target,
                    "profiles": row[j],
                    "row_share": est["value"],
                    "ci_low": est["ci_low"],
                    "ci_high": est["ci_high"],
                }
            )
    stayed = sum(cells.get((idx, s, s), 0) for s in SEGMENTS)
    before_total = sum(before["segments"].values())
    return {
        "from_period": before["period"],
        "to_period": after["period"],
        "from_as_of": before["as_of"],
        "to_as_of": after["as_of"],
        "new_profiles": sum(cells.get((idx, "new", t), 0) for t in SEGMENTS),
        "stayed": stayed,
        "stayed_share": stayed / before_total if before_total else None,
        "matrix": matrix,
    }


def matrix_rows(pair: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """A pair's matrix laid out for reading: the `to` states, then per `from` state its
    label and "profiles (row share)" cells. Shared by the CLI and the report."""
    targets = list(dict.fromkeys(c["to"] for c in pair["matrix"]))
    cells: dict[str, list[str]] = {}
    for c in pair["matrix"]:
        text = "0" if c["row_share"] is None else f"{c['profiles']:,} ({100 * c['row_share']:.1f}%)"
        cells.setdefault(c["from"], []).append(text)
    return targets, [[source, *row] for source, row in cells.items()]
