"""Every profile's segment as of a date, kept in temporary tables for one build or export.

`segment_state(ws, settings)` materialises the fact tables (queries.py), fits the purchase
model when asked, and writes `seg_profiles`: one row per profile as of the end of the data.
`state_at(...)` gives the same rule at an earlier date (transitions). Everything it creates is
dropped when the block ends, so a failed build leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from cxloop.analytics.segments import queries
from cxloop.analytics.segments.alive import AliveModel, fit_alive
from cxloop.analytics.segments.settings import SegmentsSettings

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def bound(sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The parameters `sql` names (DuckDB refuses unused ones)."""
    names = set(_PARAM.findall(sql))
    used = {k: v for k, v in params.items() if k in names}
    return used or None


@dataclass(frozen=True)
class State:
    """What a segment state was computed from."""

    end: date | None  # the last day of data (orders, answers, events); None without data
    start: date | None
    alive: AliveModel
    params: dict[str, Any]
    use_clv: bool

    def run(self, ws: Workspace, sql: str, **extra: Any) -> Any:
        params = {**self.params, **extra}
        return ws.engine.execute(sql, bound(sql, params))


def _params(settings: SegmentsSettings, brand: str, alive: AliveModel) -> dict[str, Any]:
    params: dict[str, Any] = {
        "brand": brand,
        "min_orders": settings.min_orders,
        "active_days": settings.active_days,
        "min_p_alive": settings.min_p_alive,
        "affinity_min_nps": settings.affinity_min_nps,
        "no_affinity_max_nps": settings.no_affinity_max_nps,
        "affinity_min_sentiment": settings.affinity_min_sentiment,
        "no_affinity_max_sentiment": settings.no_affinity_max_sentiment,
        "advocacy_days": settings.advocacy_days,
    }
    if alive.params is not None:
        params.update({k: alive.params[k] for k in ("r", "alpha", "a", "b")})
    return params


@contextmanager
def segment_state(ws: Workspace, settings: SegmentsSettings) -> Iterator[State]:
    """Facts, the purchase model and `seg_profiles` as of the end of the data."""
    ws.profiles.ensure_current()
    ws.signals.ensure_current()  # sentiment and advocacy intent of every text, judged once (voc)
    end, start = ws.engine.fetchone(queries.END_SQL)
    brand = ws.config.brand.name
    try:
        for sql in queries.MATERIALIZE:
            ws.engine.execute(sql, bound(sql, {"brand": brand}))
        if end is None:
            alive = AliveModel(None, "no orders, answers or events")
        elif not settings.use_clv:
            alive = AliveModel(None, "switched off (use_clv = false)")
        else:
            alive = fit_alive(ws, end)
        state = State(
            end=end,
            start=start,
            alive=alive,
            params=_params(settings, brand, alive),
            use_clv=alive.fitted,
        )
        sql = queries.state_sql(use_clv=state.use_clv, with_clv_table=state.use_clv)
        if end is None:  # keep the shape (an export writes a header), but no rows
            sql = f"SELECT * FROM ({sql}) LIMIT 0"
        state.run(
            ws,
            f"CREATE OR REPLACE TEMP TABLE seg_profiles AS {sql}",
            asof=end or date(1970, 1, 1),
        )
        yield state
    finally:
        for table in (*queries.TABLES, "seg_profiles", "seg_history"):
            ws.engine.execute(f"DROP TABLE IF EXISTS {table}")


def state_at_sql(state: State) -> str:
    """The state query for an earlier date (no predicted CLV: it is a forecast from the end)."""
    return queries.state_sql(use_clv=state.use_clv, with_clv_table=False)
