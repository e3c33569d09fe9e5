"""Drift of personas: personas are hypotheses, and the customers behind them change.

Three views, each stated in docs/metrics.md:

- acquisition mix: the persona shares of the customers acquired (first completed order) in
  each period, each share tested against the share among customers acquired before that
  period (pooled two-proportion z test), Benjamini-Hochberg across all periods and personas;
  a Cochran-Armitage test of a linear trend in each persona's share across periods; and a
  chi-square test that the mix is the same in every period;
- centroid shift: the mean standardised features of each persona's customers at the end of
  the data against the same at an earlier cut-off (and against the centroid of the fit);
- movers: customers who were customers at the cut-off and whose persona, from their
  features then and now, changed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from scipy import stats as sps

from cxloop.analytics import stats
from cxloop.analytics.periods import Period

CENTROID_SHIFT_FLAG = 0.25
"""A persona whose centroid moved a quarter or more of the way to the nearest other persona is
flagged: it is becoming something else. With many customers every shift is "significant", so
the flag is on the size of the move, measured against how far apart the personas are."""
TOP_FLOWS = 10


def _period_label(period: Period, start: np.datetime64) -> str:
    return period.label(start.astype(object))


def acquisition_mix(
    acquired: np.ndarray,
    persona: np.ndarray,
    k: int,
    period: Period,
    alpha: float,
    *,
    as_of: date | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per period: the persona mix of new customers and its tests; and the overall tests."""
    starts = np.unique(acquired)
    if len(starts) == 0:
        return [], {"homogeneity": None, "trend": []}
    row = np.searchsorted(starts, acquired)
    table = np.zeros((len(starts), k))
    np.add.at(table, (row, persona), 1.0)
    totals = table.sum(axis=1)
    before = np.cumsum(table, axis=0) - table  # customers acquired before each period
    before_n = before.sum(axis=1)
    p = stats.two_proportion_p(table, totals[:, None], before, before_n[:, None])
    p[0, :] = np.nan  # the first period has nothing before it
    q = stats.benjamini_hochberg(p.ravel()).reshape(p.shape)
    share = stats.proportion(table, np.broadcast_to(totals[:, None], table.shape))
    with np.errstate(invalid="ignore", divide="ignore"):
        earlier = np.where(before_n[:, None] > 0, before / before_n[:, None], np.nan)
    periods = []
    for i, start in enumerate(starts):
        start_date = start.astype(object)
        end = _next_start(start_date, period)
        rows = []
        for j in range(k):
            significant = bool(np.isfinite(q[i, j]) and q[i, j] < alpha)
            change = share["value"][i, j] - earlier[i, j]
            rows.append(
                {
                    "persona": j + 1,
                    "share": stats.pick({key: v[i] for key, v in share.items()}, j),
                    "earlier_share": _num(earlier[i, j]),
                    "change": _num(change),
                    "p_value": _num(p[i, j]),
                    "q_value": _num(q[i, j]),
                    "significant": significant,
                    "direction": ("rising" if change > 0 else "falling") if significant else None,
                }
            )
        periods.append(
            {
                "period": period.label(start_date),
                "start": start_date.isoformat(),
                "end": end.isoformat(),
                "complete": as_of is None or as_of >= end,
                "new_customers": int(totals[i]),
                "personas": rows,
            }
        )
    return periods, {
        "homogeneity": _homogeneity(table, alpha),
        "trend": _trends(table, alpha),
    }


def _next_start(start: date, period: Period) -> date:
    months = {"month": 1, "quarter": 3, "year": 12}[period.value]
    m = start.month - 1 + months
    return date(start.year + m // 12, m % 12 + 1, 1)


def previous_cutoff(as_of: datetime, period: Period) -> datetime:
    """The first day of the period that holds `as_of` minus one period: the snapshot that
    movers and centroid shifts compare with spans at least one whole period."""
    months = {"month": 1, "quarter": 3, "year": 12}[period.value]
    index = as_of.year * 12 + as_of.month - 1 - months
    month = index % 12
    month -= month % months
    return datetime(index // 12, month + 1, 1, tzinfo=UTC)


def _homogeneity(table: np.ndarray, alpha: float) -> dict[str, Any] | None:
    """Chi-square test that every acquisition period has the same persona mix."""
    t = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if t.shape[0] < 2 or t.shape[1] < 2:
        return None
    result = sps.chi2_contingency(t, correction=False)
    p = float(result.pvalue)
    return {
        "test": "chi-square test of homogeneity (periods x personas)",
        "chi2": float(result.statistic),
        "df": int(result.dof),
        "p_value": p,
        "significant": p < alpha,
    }


def _trends(table: np.ndarray, alpha: float) -> list[dict[str, Any]]:
    """Cochran-Armitage test of a linear trend in each persona's share across periods
    (scores 0, 1, 2, ... in period order), Benjamini-Hochberg across personas."""
    n_i = table.sum(axis=1)
    keep = n_i > 0
    t, n_i = table[keep], n_i[keep]
    scores = np.arange(len(t), dtype=float)
    big_n = n_i.sum()
    out = []
    ps, slopes = [], []
    for j in range(table.shape[1]):
        x = t[:, j]
        p_bar = x.sum() / big_n if big_n else np.nan
        stat = float((scores * (x - n_i * p_bar)).sum())
        var = p_bar * (1 - p_bar) * ((n_i * scores**2).sum() - (n_i * scores).sum() ** 2 / big_n)
        z = stat / np.sqrt(var) if len(t) > 1 and var > 0 else np.nan
        ps.append(float(2 * sps.norm.sf(abs(z))) if np.isfinite(z) else np.nan)
        # The least-squares slope of the share per period (weighted by new customers), to
        # say how fast the share moves.
        with np.errstate(invalid="ignore", divide="ignore"):
            share = x / n_i
            w = n_i / big_n
            mean_s = (w * scores).sum()
            slope = (w * (scores - mean_s) * share).sum() / (w * (scores - mean_s) ** 2).sum()
        slopes.append(slope)
    q = stats.benjamini_hochberg(np.asarray(ps))
    for j in range(table.shape[1]):
        significant = bool(np.isfinite(q[j]) and q[j] < alpha)
        out.append(
            {
                "persona": j + 1,
                "slope_per_period": _num(slopes[j]),
                "p_value": _num(ps[j]),
                "q_value": _num(q[j]),
                "significant": significant,
                "direction": ("rising" if slopes[j] > 0 else "falling") if significant else None,
            }
        )
    return out


def centroid_shift(
    names: list[str],
    z_now: np.ndarray,
    persona_now: np.ndarray,
    raw_now: np.ndarray,
    z_prev: np.ndarray,
    persona_prev: np.ndarray,
    raw_prev: np.ndarray,
    fitted_z: np.ndarray,
    k: int,
) -> list[dict[str, Any]]:
    """Per persona: how far its mean standardised features moved since the cut-off and since
    the fit, and the features that moved most (in original units)."""
    out = []
    present = [(persona_now == i).any() for i in range(k)]
    means_now = [z_now[persona_now == i].mean(axis=0) if present[i] else None for i in range(k)]
    for j in range(k):
        now, prev = persona_now == j, persona_prev == j
        n_now, n_prev = int(now.sum()), int(prev.sum())
        entry: dict[str, Any] = {"persona": j + 1, "customers": n_now, "customers_before": n_prev}
        mean_now = means_now[j]
        if mean_now is not None and len(fitted_z):
            entry["distance_since_fit"] = float(np.linalg.norm(mean_now - fitted_z[j]))
        else:
            entry["distance_since_fit"] = None
        if mean_now is None or not n_prev:
            entry.update(
                distance=None,
                nearest_persona_distance=None,
                relative_shift=None,
                flagged=False,
                moved_most=[],
            )
            out.append(entry)
            continue
        delta = mean_now - z_prev[prev].mean(axis=0)
        raw_before, raw_after = raw_prev[prev].mean(axis=0), raw_now[now].mean(axis=0)
        top = np.argsort(-np.abs(delta), kind="stable")[:3]
        distance = float(np.linalg.norm(delta))
        others = [
            float(np.linalg.norm(mean_now - m))
            for i, m in enumerate(means_now)
            if i != j and m is not None
        ]
        nearest = min(others) if others else None
        relative = distance / nearest if nearest else None
        entry.update(
            distance=distance,
            nearest_persona_distance=nearest,
            relative_shift=relative,
            flagged=relative is not None and relative >= CENTROID_SHIFT_FLAG,
            moved_most=[
                {
                    "feature": names[i],
                    "z_change": float(delta[i]),
                    "before": float(raw_before[i]),
                    "after": float(raw_after[i]),
                }
                for i in top
            ],
        )
        out.append(entry)
    return out


def movers(
    ids_now: np.ndarray,
    persona_now: np.ndarray,
    ids_prev: np.ndarray,
    persona_prev: np.ndarray,
    labels: list[str],
) -> dict[str, Any]:
    """Customers present at both snapshots whose persona changed, with the largest flows."""
    common, i_now, i_prev = np.intersect1d(
        ids_now.astype(str), ids_prev.astype(str), assume_unique=True, return_indices=True
    )
    a, b = persona_prev[i_prev], persona_now[i_now]
    moved = a != b
    k = len(labels)
    flows = np.zeros((k, k), dtype=np.int64)
    np.add.at(flows, (a[moved], b[moved]), 1)
    pairs = [(int(flows[i, j]), i, j) for i in range(k) for j in range(k) if i != j and flows[i, j]]
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    share = stats.proportion(np.array([moved.sum()]), np.array([len(common)]))
    return {
        "customers": len(common),
        "moved": int(moved.sum()),
        "share": stats.pick(share, 0),
        "new_customers": int(len(ids_now) - len(common)),
        "flows": [
            {
                "from": i + 1,
                "to": j + 1,
                "from_label": labels[i],
                "to_label": labels[j],
                "customers": n,
            }
            for n, i, j in pairs[:TOP_FLOWS]
        ],
    }


def _num(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None
