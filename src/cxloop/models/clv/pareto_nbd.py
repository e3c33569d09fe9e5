"""The Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987, "Counting your
customers: who are they and what will they do next?", Management Science 33(1), 1-24), with the
likelihood as derived by Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and
related expressions".

While alive a customer buys as Poisson(lambda), lambda ~ Gamma(r, alpha); the lifetime is
exponential(mu), mu ~ Gamma(s, beta).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from cxloop.models.clv.base import (
    Fitter,
    ModelFitError,
    check_summary,
    collapse,
    maximise,
    numeric_gradient,
)

NAMES = ("r", "alpha", "s", "beta")


def _log_parts(
    theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(log of the 'alive at T' term, log-likelihood) per customer (Fader & Hardie 2005, eq. 22).

    L = G(r+x) a^r b^s / G(r) * [1/((a+T)^(r+x) (b+T)^s) + s/(r+s+x) A0], where with
    alpha >= beta A0 = F(s+1; a+t_x)/(a+t_x)^(r+s+x) - F(s+1; a+T)/(a+T)^(r+s+x),
    F(c; y) = 2F1(r+s+x, c; r+s+x+1; (alpha-beta)/y); with alpha < beta the roles swap:
    A0 uses 2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+.)) over (beta+.)^(r+s+x). Choosing
    the larger of alpha and beta keeps the argument in [0, 1), where the series converges.
    Everything is combined in logs so large x or T do not overflow.
    """
    r, alpha, s, beta = theta
    rsx = r + s + x
    if alpha >= beta:
        big, c, diff = alpha, s + 1.0, alpha - beta
    else:
        big, c, diff = beta, r + x, beta - alpha
    f1 = hyp2f1(rsx, c, rsx + 1.0, diff / (big + t_x))
    f2 = hyp2f1(rsx, c, rsx + 1.0, diff / (big + big_t))
    log1 = np.log(f1) - rsx * np.log(big + t_x)
    log2 = np.log(f2) - rsx * np.log(big + big_t)
    # log(A0) = log(e^log1 - e^log2); log1 >= log2 since t_x <= T. A0 = 0 when t_x = T.
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a0 = log1 + np.log1p(-np.exp(np.minimum(log2 - log1, 0.0)))
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
    ll = head + np.logaddexp(alive, np.log(s) - np.log(rsx) + log_a0)
    return head + alive, ll


def log_likelihood(
    theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """Each customer's log-likelihood."""
    return _log_parts(theta, x, t_x, big_t)[1]


class ParetoNBDFitter(Fitter):
    """Pareto/NBD fitted by maximum likelihood with delta-method standard errors.

    The likelihood is often flat along beta (and s with it), so the fit starts from several
    points and keeps the best; expect wider intervals on s and beta than on r and alpha.
    """

    param_names = NAMES
    model_name = "Pareto/NBD"

    def __init__(self, *, max_iter: int = 2000) -> None:
        super().__init__()
        self.max_iter = max_iter

    def fit(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, /
    ) -> ParetoNBDFitter:
        """Fit on per-customer repeat purchases x, recency t_x and age T (same time unit)."""
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        check_summary(x, t_x, big_t, self.model_name)
        (ux, utx, ut), w = collapse([x, t_x, big_t])
        n = w.sum()

        def neg(lt: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                ll = log_likelihood(np.exp(lt), ux, utx, ut)
            value = -float(ll @ w)
            return value if np.isfinite(value) else 1e300

        def scaled(lt: np.ndarray) -> tuple[float, np.ndarray]:
            return neg(lt) / n, numeric_gradient(neg, lt, 1e-6) / n

        def total(lt: np.ndarray) -> tuple[float, np.ndarray]:
            return neg(lt), numeric_gradient(neg, lt, 1e-5)

        mean_rate = max(float(x.sum() / max(big_t.sum(), 1e-9)), 1e-6)
        starts = [
            np.zeros(4),
            np.log([0.5, 0.5 / mean_rate, 0.5, 10.0]),
            np.log([1.0, 1.0 / mean_rate, 1.0, float(np.mean(big_t))]),
        ]
        log_theta, value = maximise(scaled, starts, model=self.model_name, max_iter=self.max_iter)
        self._store(log_theta, value * n, len(x), total)
        return self

    def _theta(self) -> np.ndarray:
        self._require_fit()
        return np.array([self.params_[k] for k in NAMES])

    def log_likelihood(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
    ) -> np.ndarray:
        """Per-customer log-likelihood at the fitted parameters."""
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        return log_likelihood(self._theta(), x, t_x, big_t)

    def probability_alive(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
    ) -> np.ndarray:
        """P(alive | x, t_x, T): the 'alive at T' term of the likelihood over the whole
        likelihood (Fader & Hardie 2005 note, eq. 18)."""
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        with np.errstate(all="ignore"):
            log_alive, ll = _log_parts(self._theta(), x, t_x, big_t)
        return np.clip(np.exp(log_alive - ll), 0.0, 1.0)

    def expected_purchases(self, t: float | np.ndarray) -> np.ndarray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] (SMC 1987, eq. 17;
        the s = 1 limit is r beta / alpha ln(1 + t/beta))."""
        r, alpha, s, beta = self._theta()
        t = np.asarray(t, dtype=float)
        if abs(s - 1) < 1e-9:
            return r * beta / alpha * np.log1p(t / beta)
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))

    def predict_expected_purchases(
        self,
        t: float | np.ndarray,
        frequency: np.ndarray,
        recency: np.ndarray,
        age: np.ndarray,
    ) -> np.ndarray:
        """E[Y(t) | x, t_x, T] = (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))
        ^(s-1)] P(alive) (Fader & Hardie 2005 note, eq. 20; SMC 1987, eq. 22)."""
        r, alpha, s, beta = self._theta()
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
        t = np.asarray(t, dtype=float)
        scale = (r + x) * (beta + big_t) / (alpha + big_t)
        if abs(s - 1) < 1e-9:
            growth = np.log1p(t / (beta + big_t))
        else:
            growth = (1 - ((beta + big_t) / (beta + big_t + t)) ** (s - 1)) / (s - 1)
        if not np.all(np.isfinite(scale)):
            raise ModelFitError("Pareto/NBD: predictions overflowed")
        return scale * growth * self.probability_alive(x, t_x, big_t)
