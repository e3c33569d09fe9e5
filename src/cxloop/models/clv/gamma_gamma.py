"""The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves
for customer base analysis", Journal of Marketing Research 42(4), 415-430; the formulation of
Fader & Hardie 2013, "The Gamma-Gamma model of monetary value").

Each transaction's value is Gamma(p, nu); a customer's nu ~ Gamma(q, gamma). The data are, per
repeat buyer, the number x of repeat transactions and their mean value m. The model assumes
spend is independent of the purchase process: `independence_check` tests that on the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import digamma, gammaln

from cxloop.models.clv.base import Fitter, ModelFitError, Objective, collapse, fit_log_params

NAMES = ("p", "q", "gamma")


def log_likelihood(theta: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """log f(m | p, q, gamma, x) = lnG(px+q) - lnG(px) - lnG(q) + q ln gamma + (px-1) ln m
    + px ln x - (px+q) ln(gamma + m x) (Fader & Hardie 2013, eq. 4)."""
    p, q, g = theta
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(g + m * x)
    )


def _objective(
    log_theta: np.ndarray, x: np.ndarray, m: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative weighted log-likelihood and its analytic gradient in log-parameters."""
    theta = np.exp(log_theta)
    p, q, g = theta
    px = p * x
    ll = log_likelihood(theta, x, m)
    psi = digamma(px + q)
    log_gmx = np.log(g + m * x)
    d_p = x * (psi - digamma(px) + np.log(m) + np.log(x) - log_gmx)
    d_q = psi - digamma(q) + np.log(g) - log_gmx
    d_g = q / g - (px + q) / (g + m * x)
    grad = np.array([d_p @ w, d_q @ w, d_g @ w]) * theta
    return float(-(ll @ w)), -grad


@dataclass(frozen=True)
class IndependenceCheck:
    """Pearson correlation of frequency and mean spend among repeat buyers (FHL 2005, JMR,
    section "Spend": the model needs them independent; they report r = 0.11 on CDNOW)."""

    correlation: float
    p_value: float
    n: int
    warning: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "correlation": self.correlation,
            "p_value": self.p_value,
            "n": self.n,
            "warning": self.warning,
        }


def independence_check(
    frequency: np.ndarray, monetary: np.ndarray, *, threshold: float = 0.3, alpha: float = 0.01
) -> IndependenceCheck:
    """Warn when |r| > threshold, or r is significant at `alpha` and |r| > 0.2.

    A small but significant r in a large sample does not bias the spend predictions
    materially: FHL (2005, JMR) find r = 0.11 on CDNOW and judge the assumption reasonable, and
    so does this check.
    """
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    keep = x > 0
    x, m = x[keep], m[keep]
    if len(x) < 3 or np.std(x) == 0 or np.std(m) == 0:
        return IndependenceCheck(float("nan"), float("nan"), len(x), None)
    r, pv = stats.pearsonr(x, m)
    r, pv = float(r), float(pv)
    warning = None
    if abs(r) > threshold or (pv < alpha and abs(r) > 0.2):
        warning = (
            f"Gamma-Gamma assumes spend is independent of purchase frequency, but their "
            f"correlation among repeat buyers is {r:.2f} (p = {pv:.2g}, n = {len(x)}): "
            "expected spend and CLV may be biased"
        )
    return IndependenceCheck(r, pv, len(x), warning)


class GammaGammaFitter(Fitter):
    """Gamma-Gamma spend model fitted by maximum likelihood on repeat buyers."""

    param_names = NAMES
    model_name = "Gamma-Gamma"

    def __init__(self, *, max_iter: int = 2000) -> None:
        super().__init__()
        self.max_iter = max_iter

    def fit(self, frequency: np.ndarray, monetary_value: np.ndarray, /) -> GammaGammaFitter:
        """Fit on repeat buyers (x > 0) and their mean repeat transaction value (> 0)."""
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        if len(x) != len(m):
            raise ModelFitError("Gamma-Gamma: frequency and monetary value differ in length")
        if np.any(~np.isfinite(m[x > 0])):
            raise ModelFitError("Gamma-Gamma: monetary value missing for some repeat buyers")
        if np.any(m[x > 0] <= 0):
            raise ModelFitError(
                "Gamma-Gamma: mean spend must be positive for every repeat buyer "
                "(exclude zero or negative values first)"
            )
        keep = x > 0
        x, m = x[keep], m[keep]
        if len(x) < 2:
            raise ModelFitError(
                f"Gamma-Gamma: needs at least 2 repeat buyers, got {len(x)}; spend cannot be "
                "modelled"
            )
        (ux, um), w = collapse([x, m])
        scale = 1.0 / w.sum()

        def objective_on(rows: np.ndarray | None) -> Objective:
            sel = slice(None) if rows is None else rows
            cx, cm, cw = ux[sel], um[sel], w[sel]
            k = 1.0 / cw.sum()

            def scaled(lt: np.ndarray) -> tuple[float, np.ndarray]:
                f, g = _objective(lt, cx, cm, cw)
                return f * k, g * k

            return scaled

        def total(lt: np.ndarray) -> tuple[float, np.ndarray]:
            return _objective(lt, ux, um, w)

        mean_m = float(np.average(m))
        starts = [np.zeros(3), np.log([2.0, 3.0, mean_m]), np.log([5.0, 4.0, mean_m])]
        log_theta, neg = fit_log_params(
            objective_on, len(ux), starts, model=self.model_name, max_iter=self.max_iter
        )
        self._store(log_theta, neg / scale, len(x), total)
        if self.params_["q"] <= 1:
            raise ModelFitError(
                f"Gamma-Gamma: q = {self.params_['q']:.3g} <= 1, so the expected spend is "
                "infinite; the spend data do not fit the model"
            )
        return self

    def conditional_expected_spend(
        self, frequency: np.ndarray, monetary_value: np.ndarray
    ) -> np.ndarray:
        """E[M | x, m] = (gamma + m x) p / (p x + q - 1) (FHL 2005 JMR, eq. 3; Fader & Hardie
        2013, eq. 5): a weighted mean of the population mean p gamma / (q - 1) and the
        customer's own mean. With x = 0 it is the population mean."""
        self._require_fit()
        p, q, g = (self.params_[n] for n in NAMES)
        x = np.asarray(frequency, dtype=float)
        m = np.nan_to_num(np.asarray(monetary_value, dtype=float), nan=0.0)
        m = np.where(x > 0, m, 0.0)
        return p * (g + m * x) / (p * x + q - 1)

    @property
    def population_mean_spend(self) -> float:
        """p gamma / (q - 1): the mean transaction value across customers."""
        self._require_fit()
        return self.params_["p"] * self.params_["gamma"] / (self.params_["q"] - 1)
