"""Interval estimates and tests used by every figure that is an estimate.

The engine computes sufficient statistics (counts, sums, sums of squares) per group; these
functions turn them into values, standard errors, 95% intervals and tests, vectorised over
groups. Each cites its source; `docs/metrics.md` states the formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

Z95 = float(sps.norm.ppf(0.975))

Float = NDArray[np.float64]


def _arr(x: ArrayLike) -> Float:
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class Estimate:
    """A value with its sample size and 95% confidence interval (None when undefined)."""

    value: float | None
    n: int
    ci_low: float | None = None
    ci_high: float | None = None
    se: float | None = None

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "value": self.value,
            "n": self.n,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }


def _clean(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def nps(promoters: ArrayLike, passives: ArrayLike, detractors: ArrayLike) -> dict[str, Float]:
    """NPS in points (-100..100) with the adjusted-Wald 95% interval.

    NPS = 100 (P - D) / n. The interval follows Rocks (2016), "Interval estimation for the
    'Net Promoter Score'", The American Statistician 70(4): add 3/4 to promoters and to
    detractors and 3 to n, then use the variance of a difference of multinomial proportions,
    Var(p_P - p_D) = (p_P + p_D - (p_P - p_D)^2) / n. It keeps a sensible width for small n
    and for all-promoter samples, where the plain Wald interval collapses to zero width. The
    interval is widened when needed so that it always contains the observed NPS.
    """
    p, a, d = _arr(promoters), _arr(passives), _arr(detractors)
    n = p + a + d
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n > 0, 100.0 * (p - d) / n, np.nan)
        n_adj = n + 3.0
        pp, pd = (p + 0.75) / n_adj, (d + 0.75) / n_adj
        se = np.sqrt((pp + pd - (pp - pd) ** 2) / n_adj)
        centre = pp - pd
        low = np.where(n > 0, 100.0 * np.clip(centre - Z95 * se, -1, 1), np.nan)
        high = np.where(n > 0, 100.0 * np.clip(centre + Z95 * se, -1, 1), np.nan)
        # The adjusted centre is pulled towards 0; for tiny samples the interval could then
        # exclude the observed value (1 promoter: NPS 100, upper bound 98.5). Widen it to
        # include the observed value, so a reader never sees a value outside its interval.
        low, high = np.fmin(low, value), np.fmax(high, value)
        # Standard error of the plain estimate, for tests between periods.
        pp0, pd0 = np.where(n > 0, p / n, np.nan), np.where(n > 0, d / n, np.nan)
        se_plain = 100.0 * np.sqrt((pp0 + pd0 - (pp0 - pd0) ** 2) / n)
        # All promoters (or all detractors) make the plain SE 0, which would make any change
        # "infinitely significant"; the adjusted SE keeps tests honest there.
        se_test = np.where(se_plain > 0, se_plain, 100.0 * se)
    return {"value": value, "n": n, "ci_low": low, "ci_high": high, "se": se_test}


def proportion(successes: ArrayLike, n: ArrayLike) -> dict[str, Float]:
    """A share with the Wilson score 95% interval (Wilson 1927; Brown, Cai & DasGupta 2001)."""
    x, n_ = _arr(successes), _arr(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n_ > 0, x / n_, np.nan)
        z2 = Z95**2
        denom = 1 + z2 / n_
        centre = (p + z2 / (2 * n_)) / denom
        half = Z95 * np.sqrt(p * (1 - p) / n_ + z2 / (4 * n_**2)) / denom
        se = np.sqrt(p * (1 - p) / n_)
    return {"value": p, "n": n_, "ci_low": centre - half, "ci_high": centre + half, "se": se}


def mean(n: ArrayLike, average: ArrayLike, variance: ArrayLike) -> dict[str, Float]:
    """A mean with the Student-t 95% interval, from n, the mean and the sample variance.

    The engine computes the variance with a numerically stable one-pass algorithm
    (`var_samp`), so sums of squares never lose precision at millions of rows.
    """
    n_, m, var = _arr(n), _arr(average), _arr(variance)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(n_ > 0, m, np.nan)
        var = np.where(n_ > 1, var, np.nan)
        se = np.sqrt(var / n_)
        t = sps.t.ppf(0.975, np.maximum(n_ - 1, 1))
        half = np.where(n_ > 1, t * se, np.nan)
    return {"value": m, "n": n_, "ci_low": m - half, "ci_high": m + half, "se": se, "var": var}


def two_sided_z(difference: ArrayLike, se: ArrayLike) -> Float:
    """p-value of a z test of difference / se (normal approximation)."""
    d, s = _arr(difference), _arr(se)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = d / s
    return 2.0 * sps.norm.sf(np.abs(z))


def welch_p(
    m1: ArrayLike, v1: ArrayLike, n1: ArrayLike, m2: ArrayLike, v2: ArrayLike, n2: ArrayLike
) -> Float:
    """p-value of Welch's t test from two samples' means, variances and sizes (Welch 1947)."""
    m1_, v1_, n1_, m2_, v2_, n2_ = map(_arr, (m1, v1, n1, m2, v2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        a, b = v1_ / n1_, v2_ / n2_
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a**2 / (n1_ - 1) + b**2 / (n2_ - 1))
        t = (m1_ - m2_) / se
    return 2.0 * sps.t.sf(np.abs(t), df)


def two_proportion_p(x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike) -> Float:
    """p-value of the pooled two-proportion z test."""
    x1_, n1_, x2_, n2_ = map(_arr, (x1, n1, x2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (x1_ + x2_) / (n1_ + n2_)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1_ + 1 / n2_))
        diff = x1_ / n1_ - x2_ / n2_
    return two_sided_z(diff, se)


def benjamini_hochberg(p_values: ArrayLike) -> Float:
    """q-values controlling the false discovery rate (Benjamini & Hochberg 1995).

    NaN p-values (tests that could not be made) stay NaN and do not count.
    """
    p = _arr(p_values)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok])
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def pick(
    values: dict[str, Float], i: int, *, keys: tuple[str, ...] = ("value", "n", "ci_low", "ci_high")
) -> dict[str, float | int | None]:
    """Row `i` of vectorised results as a JSON-ready dict (NaN -> None, n as int)."""
    row: dict[str, float | int | None] = {}
    for key in keys:
        x = float(values[key][i])
        row[key] = int(x) if key == "n" and np.isfinite(x) else _clean(x)
    if row.get("n") in (0, None):
        row["n"] = 0
        row["value"] = row["ci_low"] = row["ci_high"] = None
    return row
