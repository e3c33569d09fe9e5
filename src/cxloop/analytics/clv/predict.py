"""Per-profile predictions from fitted models: purchases, probability alive, spend, CLV.

CLV is the discounted-cash-flow sum used by lifetimes' `customer_lifetime_value` (after Fader,
Hardie & Lee 2005 JMR): CLV = sum over months m = 1..M of (E[Y(m L)] - E[Y((m-1) L)]) *
E[spend] / (1 + d)^m, with L one month (52/12 weeks), d the monthly discount rate and E[Y(t)]
the conditional expected repeat purchases in the next t. Predictions are computed once per
distinct (x, t_x, T) row and spread back, which is what makes millions of profiles cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cxloop.models.clv import GammaGammaFitter
from cxloop.models.clv.base import unique_rows

WEEKS_PER_MONTH = 52.0 / 12.0


class PurchaseModel(Protocol):
    def probability_alive(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
    ) -> np.ndarray: ...

    def predict_expected_purchases(
        self, t: float | np.ndarray, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class Predictions:
    """One entry per profile, aligned with the summary."""

    expected_purchases: np.ndarray  # in the horizon
    probability_alive: np.ndarray
    expected_spend: np.ndarray  # per transaction
    clv: np.ndarray  # discounted, over the horizon
    holdout_expected: np.ndarray | None  # expected repeat purchases in the holdout


def months_in(horizon_weeks: float) -> int:
    """Whole months in the horizon (52 weeks = 12 months), at least one."""
    return max(1, round(horizon_weeks / WEEKS_PER_MONTH))


def predict(
    model: PurchaseModel,
    spend: GammaGammaFitter,
    frequency: np.ndarray,
    recency: np.ndarray,
    age: np.ndarray,
    monetary_value: np.ndarray,
    *,
    horizon_weeks: float,
    discount_rate: float,
    unit_days: float,
    holdout_length: float | None = None,
) -> Predictions:
    """Predictions for every profile (time arguments in the summary's unit)."""
    (ux, utx, ut), inverse, _ = unique_rows([frequency, recency, age])
    per_unit = 7.0 / unit_days  # time units in a week
    month = WEEKS_PER_MONTH * per_unit
    n_months = months_in(horizon_weeks)
    with np.errstate(all="ignore"):
        alive = model.probability_alive(ux, utx, ut)
        horizon = model.predict_expected_purchases(horizon_weeks * per_unit, ux, utx, ut)
        discounted = np.zeros(len(ux))
        previous = np.zeros(len(ux))
        for m in range(1, n_months + 1):
            current = model.predict_expected_purchases(m * month, ux, utx, ut)
            discounted += (current - previous) / (1.0 + discount_rate) ** m
            previous = current
        holdout = (
            model.predict_expected_purchases(holdout_length, ux, utx, ut)
            if holdout_length is not None
            else None
        )
    expected_spend = spend.conditional_expected_spend(frequency, monetary_value)
    return Predictions(
        expected_purchases=horizon[inverse],
        probability_alive=alive[inverse],
        expected_spend=expected_spend,
        clv=discounted[inverse] * expected_spend,
        holdout_expected=None if holdout is None else holdout[inverse],
    )
