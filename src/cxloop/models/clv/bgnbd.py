"""The BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way:
an alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284).

While alive a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each
repeat purchase they drop out with probability p ~ Beta(a, b). The data are, per customer, x
repeat purchases, the time t_x of the last one and the age T, all measured from the first
purchase.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

from cxloop.models.clv.base import (
    Fitter,
    ModelFitError,
    Objective,
    check_summary,
    collapse,
    fit_log_params,
)

NAMES = ("r", "alpha", "a", "b")


def _terms(
    theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three log-terms of FHL (2005) equation 6: LL = A1 + log(exp(A2) + d_x exp(A3))."""
    r, alpha, a, b = theta
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + big_t)
    repeat = x > 0
    a3 = np.full_like(x, -np.inf)
    xr = x[repeat]
    a3[repeat] = betaln(a + 1, b + xr - 1) - betaln(a, b) - (r + xr) * np.log(alpha + t_x[repeat])
    return a1, a2, a3


def log_likelihood(
    theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """Each customer's log-likelihood (FHL 2005, eq. 6, in the log-sum-exp form)."""
    a1, a2, a3 = _terms(theta, x, t_x, big_t)
    return a1 + np.logaddexp(a2, a3)


def _objective(
    log_theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative weighted log-likelihood and its analytic gradient in log-parameters.

    The derivatives of the log-gamma and log-beta terms are digamma differences; the mixture
    term log(e^A2 + e^A3) differentiates to the softmax weights of A2 and A3.
    """
    theta = np.exp(log_theta)
    r, alpha, a, b = theta
    a1, a2, a3 = _terms(theta, x, t_x, big_t)
    m = np.logaddexp(a2, a3)
    ll = a1 + m
    w2 = np.exp(a2 - m)
    w3 = np.exp(a3 - m)
    rep = x > 0
    log_at = np.log(alpha + big_t)
    log_ax = np.log(alpha + t_x)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w2 * log_at - w3 * log_ax
    d_alpha = r / alpha - w2 * (r + x) / (alpha + big_t) - w3 * (r + x) / (alpha + t_x)
    ab = digamma(a + b)
    abx = digamma(a + b + x)
    d_a2_a = ab - abx
    d_a2_b = digamma(b + x) - abx - digamma(b) + ab
    xm1 = np.where(rep, b + x - 1, 1.0)
    d_a3_a = digamma(a + 1) - abx - digamma(a) + ab
    d_a3_b = np.where(rep, digamma(xm1) - abx - digamma(b) + ab, 0.0)
    d_a = w2 * d_a2_a + w3 * d_a3_a
    d_b = w2 * d_a2_b + w3 * d_a3_b
    grad = np.array([d_r @ w, d_alpha @ w, d_a @ w, d_b @ w]) * theta
    return float(-(ll @ w)), -grad


class BGNBDFitter(Fitter):
    """BG/NBD fitted by maximum likelihood (FHL 2005) with delta-method standard errors.

    >>> f = BGNBDFitter().fit(frequency, recency, T)   # doctest: +SKIP
    >>> f.params_["r"], f.probability_alive(frequency, recency, T)   # doctest: +SKIP
    """

    param_names = NAMES
    model_name = "BG/NBD"

    def __init__(self, *, max_iter: int = 2000) -> None:
        super().__init__()
        self.max_iter = max_iter

    def fit(self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, /) -> BGNBDFitter:
        """Fit on per-customer repeat purchases x, recency t_x and age T (same time unit)."""
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        check_summary(x, t_x, big_t, self.model_name)
        (ux, utx, ut), w = collapse([x, t_x, big_t])
        scale = 1.0 / w.sum()

        def objective_on(rows: np.ndarray | None) -> Objective:
            sel = slice(None) if rows is None else rows
            cx, ctx, ct, cw = ux[sel], utx[sel], ut[sel], w[sel]
            k = 1.0 / cw.sum()

            def scaled(lt: np.ndarray) -> tuple[float, np.ndarray]:
                f, g = _objective(lt, cx, ctx, ct, cw)
                return f * k, g * k

            return scaled

        def total(lt: np.ndarray) -> tuple[float, np.ndarray]:
            return _objective(lt, ux, utx, ut, w)

        # Starts: all ones (lifetimes' default) and a moment-based guess for the rate.
        mean_rate = max(float(x.sum() / max(big_t.sum(), 1e-9)), 1e-6)
        starts = [np.zeros(4), np.log([1.0, 1.0 / mean_rate, 1.0, 3.0])]
        log_theta, neg = fit_log_params(
            objective_on, len(ux), starts, model=self.model_name, max_iter=self.max_iter
        )
        self._store(log_theta, neg / scale, len(x), total)
        if self.params_["a"] <= 0 or self.params_["b"] <= 1e-6:
            raise ModelFitError("BG/NBD: the dropout parameters are degenerate on these data")
        return self

    # -- predictions ------------------------------------------------------------------------
    def _theta(self) -> tuple[float, float, float, float]:
        self._require_fit()
        return tuple(self.params_[n] for n in NAMES)  # type: ignore[return-value]

    def log_likelihood(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
    ) -> np.ndarray:
        """Per-customer log-likelihood at the fitted parameters."""
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        return log_likelihood(np.array(self._theta()), x, t_x, big_t)

    def probability_alive(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
    ) -> np.ndarray:
        """P(alive at T | x, t_x, T) = 1 / (1 + d_x a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))
        (FHL 2005, Technical appendix / Fader, Hardie & Lee 2008 note, eq. 2). A customer with
        no repeat purchase cannot have dropped out (dropout happens after a repeat purchase)."""
        r, alpha, a, b = self._theta()
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        rep = x > 0
        log_odds = np.full_like(x, -np.inf)
        xr = x[rep]
        log_odds[rep] = (
            np.log(a)
            - np.log(b + xr - 1)
            + (r + xr) * (np.log(alpha + big_t[rep]) - np.log(alpha + t_x[rep]))
        )
        return 1.0 / (1.0 + np.exp(log_odds))

    def expected_purchases(self, t: float | np.ndarray) -> np.ndarray:
        """E[X(t)] for a customer just acquired (FHL 2005, eq. 7)."""
        r, alpha, a, b = self._theta()
        t = np.asarray(t, dtype=float)
        z = t / (alpha + t)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))

    def predict_expected_purchases(
        self,
        t: float | np.ndarray,
        frequency: np.ndarray,
        recency: np.ndarray,
        age: np.ndarray,
    ) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next t (FHL 2005, eq. 10)."""
        r, alpha, a, b = self._theta()
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        t = np.asarray(t, dtype=float)
        z = t / (alpha + big_t + t)
        ratio = ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
        head = (a + b + x - 1) / (a - 1)
        body = 1 - ratio * hyp2f1(r + x, b + x, a + b + x - 1, z)
        return head * body * self.probability_alive(x, t_x, big_t)
