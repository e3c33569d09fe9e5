"""Per-profile RFM summary for the purchase models, computed in the engine.

Conventions (Fader, Hardie & Lee 2005; the CDNOW preparation of BTYD and lifetimes):
- only completed orders count; cancelled and returned orders are not purchases;
- orders of one profile on the same calendar day (UTC) are one transaction whose value is the
  sum of their amounts, because the models count purchase occasions, not order lines;
- time runs from each profile's first purchase: frequency x = repeat transaction days in the
  calibration period, recency t_x = time of the last one (0 without a repeat), age T = time from
  the first purchase to the calibration end, in weeks (days / 7) or days;
- monetary value = mean value of the repeat transactions in calibration (the first purchase is
  left out, as in FHL 2005 JMR), undefined for customers without a repeat;
- profiles whose first purchase falls after the calibration end are left out;
- with a holdout end, each profile's repeat transactions after the calibration end up to and
  including the holdout end are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

UNITS = {"weeks": 7.0, "days": 1.0}

# Bound parameters only: $cal and $hold are dates, $unit the days per time unit.
# Money is summed as DECIMAL (exact) and made DOUBLE once, at the end: a sum of doubles
# depends on the order of its terms, and the models' fits would inherit that noise, so
# two engines (or two runs) would disagree in the last digits.
SUMMARY_SQL = """
WITH linked AS (
    SELECT l.profile_id, CAST(o.ordered_at AS DATE) AS day, o.amount
    FROM orders o
    JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id
    WHERE o.status = 'completed' AND l.profile_id IS NOT NULL
      AND CAST(o.ordered_at AS DATE) <= $hold
), days AS (
    SELECT profile_id, day, sum(amount) AS value FROM linked GROUP BY profile_id, day
), marked AS (
    SELECT *, min(day) OVER (PARTITION BY profile_id) AS first_day FROM days
)
SELECT profile_id,
       count(*) FILTER (WHERE day > first_day AND day <= $cal) AS frequency,
       date_diff('day', first_day, max(day) FILTER (WHERE day <= $cal)) / $unit AS recency,
       date_diff('day', first_day, CAST($cal AS DATE)) / $unit AS age,
       CAST(sum(value) FILTER (WHERE day > first_day AND day <= $cal) AS DOUBLE)
           / count(*) FILTER (WHERE day > first_day AND day <= $cal) AS monetary_value,
       CAST(min(value) FILTER (WHERE day > first_day AND day <= $cal) AS DOUBLE)
           AS min_repeat_value,
       count(*) FILTER (WHERE day > $cal) AS holdout_frequency,
       CAST(coalesce(sum(value) FILTER (WHERE day > $cal), 0) AS DOUBLE) AS holdout_value
FROM marked
WHERE first_day <= $cal
GROUP BY profile_id, first_day
ORDER BY profile_id
"""

RANGE_SQL = """
SELECT min(CAST(o.ordered_at AS DATE)), max(CAST(o.ordered_at AS DATE)), count(*)
FROM orders o
JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id
WHERE o.status = 'completed' AND l.profile_id IS NOT NULL
"""


@dataclass(frozen=True)
class RFMSummary:
    """One row per profile with a first purchase on or before the calibration end."""

    profile_id: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    age: np.ndarray
    monetary_value: np.ndarray  # NaN without a repeat transaction
    min_repeat_value: np.ndarray  # smallest repeat transaction value (NaN without one)
    holdout_frequency: np.ndarray | None
    holdout_value: np.ndarray | None
    calibration_end: date
    holdout_end: date | None
    time_unit: str

    @property
    def n(self) -> int:
        return len(self.profile_id)

    @property
    def holdout_length(self) -> float | None:
        """Holdout duration in the time unit."""
        if self.holdout_end is None:
            return None
        return (self.holdout_end - self.calibration_end).days / UNITS[self.time_unit]


def order_range(ws: Workspace) -> tuple[date | None, date | None, int]:
    """First and last completed order day (UTC) linked to a profile, and their number."""
    ws.profiles.ensure_current()  # orders are summarised per unified profile
    row = ws.engine.fetchone(RANGE_SQL)
    return row[0], row[1], int(row[2])


def rfm_summary(
    ws: Workspace,
    *,
    calibration_end: date,
    holdout_end: date | None = None,
    time_unit: str = "weeks",
) -> RFMSummary:
    """Compute the summary in the engine and return it as numpy arrays (profiles built first
    when missing or stale)."""
    if time_unit not in UNITS:
        raise CxloopError(f"time unit must be one of {', '.join(UNITS)}, not {time_unit!r}")
    if holdout_end is not None and holdout_end <= calibration_end:
        raise CxloopError(
            f"holdout end {holdout_end} must be after the calibration end {calibration_end}"
        )
    ws.profiles.ensure_current()  # orders are summarised per unified profile
    return summary_from_engine(
        ws.engine, calibration_end=calibration_end, holdout_end=holdout_end, time_unit=time_unit
    )


def summary_from_engine(
    engine: Any, *, calibration_end: date, holdout_end: date | None, time_unit: str
) -> RFMSummary:
    """The summary query alone, over `orders` and `profile_links` in `engine` (no profile
    rebuild): the benchmark times it on tables it writes itself."""
    params: dict[str, Any] = {
        "cal": calibration_end,
        "hold": holdout_end or calibration_end,
        "unit": UNITS[time_unit],
    }
    cols = engine.execute(SUMMARY_SQL, params).fetchnumpy()

    def arr(name: str) -> np.ndarray:
        values = cols[name]
        if np.ma.isMaskedArray(values):
            return np.ma.filled(values.astype(float), np.nan)
        return np.asarray(values, dtype=float)

    ids = cols["profile_id"]
    profile_id = np.asarray(np.ma.filled(ids, None) if np.ma.isMaskedArray(ids) else ids)
    return RFMSummary(
        profile_id=profile_id.astype(object),
        frequency=arr("frequency"),
        recency=arr("recency"),
        age=arr("age"),
        monetary_value=arr("monetary_value"),
        min_repeat_value=arr("min_repeat_value"),
        holdout_frequency=arr("holdout_frequency") if holdout_end else None,
        holdout_value=arr("holdout_value") if holdout_end else None,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        time_unit=time_unit,
    )
