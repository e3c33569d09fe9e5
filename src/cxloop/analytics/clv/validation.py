"""Checks of a fitted model against data it has not seen, and value tiers.

Calibration/holdout: FHL (2005, Marketing Science, Figure 4) compare, by the number of repeat
purchases in calibration (0, 1, ..., 7+), the mean predicted and the mean actual repeat
purchases in the holdout; this is the standard out-of-sample check of the BTYD literature.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BUCKETS = 8  # 0..6 and 7+


def holdout_table(
    frequency: np.ndarray, actual: np.ndarray, predicted: np.ndarray
) -> list[dict[str, Any]]:
    """Per calibration-frequency bucket: customers, mean actual and predicted holdout repeats."""
    bucket = np.minimum(frequency.astype(int), BUCKETS - 1)
    rows = []
    for k in range(BUCKETS):
        sel = bucket == k
        n = int(sel.sum())
        rows.append(
            {
                "frequency": f"{k}+" if k == BUCKETS - 1 else str(k),
                "customers": n,
                "actual_mean": float(actual[sel].mean()) if n else None,
                "predicted_mean": float(predicted[sel].mean()) if n else None,
                "actual_total": float(actual[sel].sum()),
                "predicted_total": float(predicted[sel].sum()),
            }
        )
    return rows


def value_tiers(clv: np.ndarray) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Top 1% / next 19% / rest by predicted CLV; returns the tiers and each profile's tier.

    Ties at a boundary are broken by order (a stable sort), so tier sizes are exact.
    """
    n = len(clv)
    order = np.argsort(-clv, kind="stable")
    top = int(np.ceil(0.01 * n))
    high = int(np.ceil(0.20 * n))
    tier = np.empty(n, dtype=object)
    tier[order[:top]] = "top_1pct"
    tier[order[top:high]] = "next_19pct"
    tier[order[high:]] = "rest"
    total = float(clv.sum())
    tiers = []
    for name in ("top_1pct", "next_19pct", "rest"):
        values = clv[tier == name]
        tiers.append(
            {
                "tier": name,
                "customers": len(values),
                "clv_share": float(values.sum() / total) if total > 0 else None,
                "mean_clv": float(values.mean()) if len(values) else None,
                "min_clv": float(values.min()) if len(values) else None,
                "total_clv": float(values.sum()),
            }
        )
    return tiers, tier
