"""Adjusted effects of touchpoint conditions on an outcome (the "pivotal moments").

For each condition (a 0/1 column: "delivery failed", "support unresolved", ...) we estimate how
much the outcome (an NPS score 0-10, CSAT, repurchase 0/1) differs between exposed and
unexposed customers *holding the covariates and the other conditions fixed*. All conditions
enter ONE least-squares regression

    y = a + sum_j b_j D_j + sum_l g_l C_l + e,

so that each b_j is adjusted for the covariates (customer value, tenure, channel, ...) and for
the other conditions. The coefficients are estimated by ordinary (or, with weights, weighted)
least squares; their standard errors are the heteroskedasticity-robust HC1 "sandwich"
(White 1980, Econometrica 48(4); MacKinnon & White 1985, J. Econometrics 29(3)):

    V = n / (n - k) (X'X)^-1 X' diag(e_i^2) X (X'X)^-1,

with 95% intervals and two-sided p-values from Student's t with n - k degrees of freedom (the
Stata convention for `regress, vce(robust)`). When the outcome is 0/1 this is the linear
probability model: an effect is a difference in probability (0.05 = five percentage points);
HC1 errors are needed there because the error variance p(1 - p) differs between rows
(Angrist & Pischke 2009, *Mostly Harmless Econometrics*, s. 3.4.2).

Beside each adjusted effect we report the naive difference of means, exposed minus unexposed,
with a Welch (1947) interval, so a reader sees how much of the raw gap the covariates explain.
q-values control the false discovery rate across conditions (Benjamini & Hochberg 1995); an
effect is flagged `significant` when q < 0.05.

An adjusted effect is causal only if the covariates capture every common cause of exposure and
outcome (no unmeasured confounding); otherwise it is an adjusted association.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg as sla
from scipy import stats as sps

from cxloop.analytics.stats import benjamini_hochberg
from cxloop.errors import CxloopError

Float = NDArray[np.float64]

MIN_EXPOSED = 30
ALPHA = 0.05
# A column is dropped as collinear when the part of it not explained by the columns before it
# is smaller than this fraction of its length (the sine of its angle to their span).
COLLINEAR_TOL = 1e-9


@dataclass(frozen=True)
class MomentEffect:
    """The effect of one condition on the outcome; None where it could not be estimated.

    `effect` is adjusted (regression coefficient), `naive_effect` is the raw difference of
    means. `effect_high_value` is the adjusted effect refitted on the high-value subset.
    `model` is "OLS" for a numeric outcome and "LPM" (linear probability model) for a 0/1 one.
    """

    name: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    se: float | None
    p_value: float | None
    q_value: float | None
    significant: bool
    naive_effect: float | None
    naive_ci_low: float | None
    naive_ci_high: float | None
    n_exposed: int
    n_unexposed: int
    effect_high_value: float | None = None
    high_value_ci_low: float | None = None
    high_value_ci_high: float | None = None
    model: str = "OLS"
    note: str = ""

    def to_dict(self) -> dict[str, str | float | int | bool | None]:
        """JSON-ready fields; non-finite numbers become None."""
        out: dict[str, str | float | int | bool | None] = {}
        for key, value in asdict(self).items():
            if isinstance(value, float) and not np.isfinite(value):
                value = None
            out[key] = value
        return out


def _clean(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _array(x: ArrayLike, what: str, ndim: int, n: int | None = None) -> Float:
    """A finite float array of `ndim` dimensions (and `n` rows), or a one-line error."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CxloopError(f"{what} must be numeric: {exc}") from exc
    if a.ndim != ndim:
        shape = "a 2-D array (rows x columns)" if ndim == 2 else "a 1-D array"
        raise CxloopError(f"{what} must be {shape}, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise CxloopError(f"{what} has {a.shape[0]} rows but the outcome has {n}")
    bad = int((~np.isfinite(a)).sum())
    if bad:
        raise CxloopError(f"{what} holds {bad} missing or non-finite values")
    return a


def _matrix(x: ArrayLike, what: str, n: int | None = None) -> Float:
    return _array(x, what, 2, n)


def _vector(x: ArrayLike, what: str, n: int | None = None) -> Float:
    return _array(x, what, 1, n)


def _independent_columns(x: Float) -> tuple[NDArray[np.bool_], Float | None, Float | None]:
    """Which columns to keep, in order, so that each is not in the span of those before it.

    Unpivoted QR: |R_jj| is the length of column j's part orthogonal to columns 0..j-1. The
    first column that fails the test is dropped and the QR redone, so a dropped column never
    feeds noise into the tests of later ones. Returns the mask and Q, R of the kept columns.
    """
    keep = np.linalg.norm(x, axis=0) > 0
    while keep.any():
        cols = np.flatnonzero(keep)
        q, r = sla.qr(x[:, cols], mode="economic")
        # With fewer rows than columns R is wide: the columns past its diagonal are in the
        # span of the earlier ones (length 0 here), so they are dropped one by one too.
        lengths = np.zeros(cols.size)
        lengths[: min(r.shape)] = np.abs(np.diag(r))
        rel = lengths / np.linalg.norm(x[:, cols], axis=0)
        bad = np.flatnonzero(rel <= COLLINEAR_TOL)
        if bad.size == 0:
            return keep, q, r
        keep[cols[bad[0]]] = False
    return keep, None, None


@dataclass(frozen=True)
class _Fit:
    coef: Float  # per design column; NaN where dropped
    se: Float
    df: int
    kept: NDArray[np.bool_]


def _hc1_fit(y: Float, x: Float, w: Float) -> _Fit | None:
    """Weighted least squares of y on x (full column rank not required) with HC1 errors."""
    sw = np.sqrt(w)
    xw, yw = x * sw[:, None], y * sw
    kept, q, r = _independent_columns(xw)
    n, k = x.shape[0], int(kept.sum())
    if q is None or r is None or n - k < 1:
        return None
    beta = sla.solve_triangular(r, q.T @ yw)
    resid = yw - xw[:, kept] @ beta
    r_inv = sla.solve_triangular(r, np.eye(k))
    bread = r_inv @ r_inv.T  # (X'WX)^-1
    score = xw[:, kept] * resid[:, None]
    cov = n / (n - k) * bread @ (score.T @ score) @ bread
    coef = np.full(x.shape[1], np.nan)
    se = np.full(x.shape[1], np.nan)
    coef[kept] = beta
    se[kept] = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return _Fit(coef=coef, se=se, df=n - k, kept=kept)


def _welch(y: Float, d: Float, w: Float) -> tuple[float, float, float]:
    """Difference of (weighted) means, exposed minus unexposed, with Welch's 95% interval.

    With weights, each group's variance of the mean is sum w^2 (y - m)^2 / (sum w)^2 times
    n_g / (n_g - 1), which is s^2 / n_g when all weights are 1 (Welch 1947; degrees of freedom
    by Satterthwaite 1946).
    """
    parts = []
    for g in (d == 1, d == 0):
        yg, wg = y[g], w[g]
        ng, sw = yg.size, wg.sum()
        m = float((wg * yg).sum() / sw)
        var_mean = float((wg**2 * (yg - m) ** 2).sum() / sw**2 * ng / (ng - 1))
        parts.append((m, var_mean, ng))
    (m1, a, n1), (m0, b, n0) = parts
    diff = m1 - m0
    se = np.sqrt(a + b)
    if se == 0:
        return diff, diff, diff
    df = (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n0 - 1))
    half = float(sps.t.ppf(1 - ALPHA / 2, df) * se)
    return diff, diff - half, diff + half


def estimate_effects(
    outcome: ArrayLike,
    exposures: ArrayLike,
    covariates: ArrayLike,
    /,
    *,
    names: Sequence[str],
    weights: ArrayLike | None = None,
    high_value: ArrayLike | None = None,
    min_exposed: int = MIN_EXPOSED,
    covariate_names: Sequence[str] | None = None,
) -> list[MomentEffect]:
    """Adjusted effect of each condition on the outcome, in the order of `names`.

    outcome: (n,) numeric (a 0-10 score, CSAT, or 0/1 repurchase, which gives the linear
        probability model). exposures: (n, k) of 0/1, one column per condition, named by
        `names`. covariates: (n, p) numeric confounders, categoricals one-hot encoded by the
        caller (p may be 0); an intercept is added here, and constant or collinear columns
        are dropped with a note. weights: optional (n,) non-negative row weights (weighted
        least squares; rows with weight 0 are left out). high_value: optional (n,) boolean
        mask; the model is refitted on those rows for `effect_high_value`.

    A condition with fewer than `min_exposed` exposed or unexposed rows stays in the model as
    a control (so the others remain adjusted for it) but its effect is reported as None with
    the reason in `note`. Raises CxloopError for empty input, mismatched shapes, non-finite
    values, exposures that are not 0/1 and bad names.
    """
    y = _vector(outcome, "outcome")
    n = y.size
    if n == 0:
        raise CxloopError("no rows: the outcome is empty")
    d = _matrix(exposures, "exposures", n)
    c = _matrix(covariates, "covariates", n)
    k, p = d.shape[1], c.shape[1]
    if k == 0:
        raise CxloopError("no conditions: exposures has no columns")
    if not np.isin(d, (0.0, 1.0)).all():
        raise CxloopError("exposures must hold only 0 and 1")
    names = [str(s) for s in names]
    if len(names) != k:
        raise CxloopError(f"{len(names)} names for {k} exposure columns")
    if len(set(names)) != k:
        raise CxloopError("condition names must be distinct")
    cov_names = (
        [f"covariate {j}" for j in range(p)]
        if covariate_names is None
        else [str(s) for s in covariate_names]
    )
    if len(cov_names) != p:
        raise CxloopError(f"{len(cov_names)} covariate names for {p} covariate columns")
    if int(min_exposed) < 2:
        raise CxloopError("min_exposed must be at least 2")
    min_exposed = int(min_exposed)
    w = np.ones(n) if weights is None else _vector(weights, "weights", n)
    if (w < 0).any():
        raise CxloopError("weights must not be negative")
    hv: NDArray[np.bool_] | None = None
    if high_value is not None:
        hv_raw = _vector(high_value, "high_value", n)
        if not np.isin(hv_raw, (0.0, 1.0)).all():
            raise CxloopError("high_value must be a boolean mask")
        hv = hv_raw == 1.0

    rows = w > 0
    if not rows.any():
        raise CxloopError("no rows: every weight is 0")
    y, d, c, w = y[rows], d[rows], c[rows], w[rows]
    if hv is not None:
        hv = hv[rows]
    n = y.size
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    model = "LPM" if binary else "OLS"

    main = _estimate(y, d, c, w, names, cov_names, min_exposed)
    high: _Estimates | None = None
    if hv is not None:
        high = _estimate(y[hv], d[hv], c[hv], w[hv], names, cov_names, min_exposed)

    p_values = np.array([np.nan if e is None else e[3] for e in main.effects])
    q_values = benjamini_hochberg(p_values)
    out = []
    for j, name in enumerate(names):
        notes = list(main.notes[j]) + main.common
        e = main.effects[j]
        n1 = int((d[:, j] == 1).sum())
        naive = _welch(y, d[:, j], w) if e is not None else (np.nan,) * 3
        hv_eff = (np.nan,) * 3
        if high is not None:
            he = high.effects[j]
            if he is None:
                reasons = high.notes[j] or high.common or ["not estimated"]
                notes.append("high-value subset: " + "; ".join(reasons))
            else:
                hv_eff = (he[0], he[1], he[2])
        q = float(q_values[j])
        out.append(
            MomentEffect(
                name=name,
                effect=None if e is None else _clean(e[0]),
                ci_low=None if e is None else _clean(e[1]),
                ci_high=None if e is None else _clean(e[2]),
                se=None if e is None else _clean(e[4]),
                p_value=None if e is None else _clean(e[3]),
                q_value=_clean(q),
                significant=bool(np.isfinite(q) and q < ALPHA),
                naive_effect=_clean(naive[0]),
                naive_ci_low=_clean(naive[1]),
                naive_ci_high=_clean(naive[2]),
                n_exposed=n1,
                n_unexposed=n - n1,
                effect_high_value=_clean(hv_eff[0]),
                high_value_ci_low=_clean(hv_eff[1]),
                high_value_ci_high=_clean(hv_eff[2]),
                model=model,
                note="; ".join(dict.fromkeys(notes)),
            )
        )
    return out


@dataclass(frozen=True)
class _Estimates:
    # Per condition: (effect, ci_low, ci_high, p_value, se) or None, and its notes.
    effects: list[tuple[float, float, float, float, float] | None]
    notes: list[list[str]]
    common: list[str]  # notes that apply to every condition (dropped covariates, ...)


def _estimate(
    y: Float,
    d: Float,
    c: Float,
    w: Float,
    names: list[str],
    cov_names: list[str],
    min_exposed: int,
) -> _Estimates:
    n, k = d.shape
    notes: list[list[str]] = [[] for _ in range(k)]
    common: list[str] = []
    n1 = (d == 1).sum(axis=0)
    enough = (n1 >= min_exposed) & (n - n1 >= min_exposed)
    for j in np.flatnonzero(~enough):
        notes[j].append(
            f"too few rows ({int(n1[j])} exposed, {int(n - n1[j])} unexposed; "
            f"{min_exposed} of each needed): kept as a control, effect not estimated"
        )
    if np.ptp(y) == 0:
        common.append("the outcome is constant: no effect can be estimated")
        return _Estimates([None] * k, notes, common)

    # Order: intercept, covariates, conditions. A covariate collinear with earlier ones is
    # redundant; a condition collinear with the covariates (or an earlier condition) is not
    # identified, and is reported as such rather than displacing a confounder.
    x = np.column_stack([np.ones(n), c, d])
    fit = _hc1_fit(y, x, w)
    if fit is None:
        common.append(f"too few rows ({n}) for the {x.shape[1]} model terms")
        return _Estimates([None] * k, notes, common)
    const_cov = np.ptp(c, axis=0) == 0 if c.shape[1] else np.zeros(0, dtype=bool)
    for j, name in enumerate(cov_names):
        if not fit.kept[1 + j]:
            why = "constant" if const_cov[j] else "collinear with other covariates"
            common.append(f"covariate '{name}' dropped ({why})")
    t_crit = float(sps.t.ppf(1 - ALPHA / 2, fit.df))
    effects: list[tuple[float, float, float, float, float] | None] = []
    p_cov = c.shape[1]
    for j in range(k):
        col = 1 + p_cov + j
        if not fit.kept[col]:
            if enough[j]:
                notes[j].append(
                    "not identified: collinear with the covariates or an earlier condition"
                )
            effects.append(None)
            continue
        if not enough[j]:
            effects.append(None)
            continue
        b, se = float(fit.coef[col]), float(fit.se[col])
        if not se > 0:
            notes[j].append("zero standard error (the model fits these rows exactly)")
            effects.append(None)
            continue
        pv = float(2.0 * sps.t.sf(abs(b / se), fit.df))
        effects.append((b, b - t_crit * se, b + t_crit * se, pv, se))
    return _Estimates(effects, notes, common)


def ranked(effects: Sequence[MomentEffect]) -> list[MomentEffect]:
    """Significant effects first, by |effect| descending; then the rest, by |effect|; then
    those that could not be estimated, in their original order."""

    def key(e: MomentEffect) -> tuple[int, float]:
        if e.effect is None:
            return (2, 0.0)
        return (0 if e.significant else 1, -abs(e.effect))

    return sorted(effects, key=key)
