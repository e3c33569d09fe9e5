"""Maximum likelihood on log-parameters, shared by every CLV fitter.

Why log-parameters: every parameter of these models is positive, so the optimiser works on
log(theta) without bounds. Standard errors come from the inverse Hessian of the negative
log-likelihood at the optimum (the observed information; Fisher's asymptotic theory), taken on
the log scale by central differences of the gradient and carried to the natural scale by the
delta method, SE(theta) = theta * SE(log theta). The 95% intervals are exp(log theta +- 1.96 SE),
so they stay positive.

Customers with identical summaries contribute identical likelihood terms, so the data are
collapsed to unique rows with counts as weights before fitting: a million customers measured in
days have far fewer distinct (x, t_x, T) rows, and the fit costs the same as on those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from cxloop.errors import CxloopError

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]

Z_95 = 1.959963984540054


class ModelFitError(CxloopError):
    """The data cannot support the model, or the optimiser failed; explained in one line."""


@dataclass(frozen=True)
class ParameterEstimate:
    """One fitted parameter with its uncertainty."""

    name: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float | str]:
        return {
            "name": self.name,
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }


def unique_rows(columns: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Distinct rows of the given columns, each row's index into them, and their counts.

    One lexicographic sort (np.lexsort) instead of np.unique(axis=0), which views rows as
    structured records and is several times slower on millions of rows.
    """
    cols = [np.asarray(c, dtype=float) for c in columns]
    n = len(cols[0])
    order = np.lexsort(cols[::-1])
    new = np.ones(n, dtype=bool)
    if n > 1:
        change = np.zeros(n - 1, dtype=bool)
        for c in cols:
            sorted_c = c[order]
            change |= sorted_c[1:] != sorted_c[:-1]
        new[1:] = change
    group = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    first = order[new]
    counts = np.bincount(group).astype(float)
    return [c[first] for c in cols], inverse, counts


def collapse(columns: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the given columns and how many customers share each (the weights)."""
    unique, _, counts = unique_rows(columns)
    return unique, counts


def numeric_gradient(
    fun: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Central-difference gradient (for likelihoods without an analytic one)."""
    grad = np.empty_like(x)
    for i in range(len(x)):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (fun(x + step) - fun(x - step)) / (2 * h)
    return grad


def hessian(objective: Objective, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Hessian by central differences of the gradient, symmetrised."""
    n = len(x)
    out = np.empty((n, n))
    for i in range(n):
        step = np.zeros(n)
        step[i] = h
        out[i] = (objective(x + step)[1] - objective(x - step)[1]) / (2 * h)
    return (out + out.T) / 2


def maximise(
    objective: Objective,
    starts: list[np.ndarray],
    *,
    model: str,
    max_iter: int = 2000,
) -> tuple[np.ndarray, float]:
    """Minimise a negative log-likelihood (on log-parameters) from several starts; the best wins.

    `objective` returns (negative log-likelihood, gradient). Several starts guard against a
    flat or multi-modal surface (Pareto/NBD is flat in beta); L-BFGS-B is the quasi-Newton
    method lifetimes and BTYD also rely on.
    """
    best: optimize.OptimizeResult | None = None
    for x0 in starts:
        with np.errstate(all="ignore"):
            result = optimize.minimize(
                objective,
                x0,
                jac=True,
                method="L-BFGS-B",
                bounds=[(-20.0, 20.0)] * len(x0),
                options={"maxiter": max_iter, "ftol": 1e-13, "gtol": 1e-9},
            )
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise ModelFitError(f"{model}: the likelihood could not be evaluated on these data")
    if np.any(np.abs(best.x) >= 19.9):
        raise ModelFitError(
            f"{model}: a parameter ran off to its limit (the data do not identify the model; "
            "too few repeat purchases?)"
        )
    return best.x, float(best.fun)


PRESOLVE_ROWS = 50_000


def fit_log_params(
    objective_on: Callable[[np.ndarray | None], Objective],
    n_rows: int,
    starts: list[np.ndarray],
    *,
    model: str,
    max_iter: int = 2000,
) -> tuple[np.ndarray, float]:
    """Maximum likelihood, presolved on a random subsample of rows when there are many.

    `objective_on(rows)` gives the scaled objective over those distinct rows (None: all). With
    millions of customers the search from every start runs on 50,000 rows and only the best
    point is polished on the full data: the same optimum, a fraction of the evaluations.
    """
    if n_rows > PRESOLVE_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(n_rows, PRESOLVE_ROWS, replace=False))
        best, _ = maximise(objective_on(rows), starts, model=model, max_iter=max_iter)
        starts = [best]
    return maximise(objective_on(None), starts, model=model, max_iter=max_iter)


def estimates(
    names: tuple[str, ...], log_params: np.ndarray, objective_total: Objective
) -> tuple[list[ParameterEstimate], np.ndarray]:
    """Estimates, delta-method standard errors and log-scale 95% intervals."""
    h = hessian(objective_total, log_params)
    try:
        cov_log = np.linalg.inv(h)
        var = np.diag(cov_log)
    except np.linalg.LinAlgError:
        cov_log = np.full_like(h, np.nan)
        var = np.full(len(names), np.nan)
    se_log = np.sqrt(np.where(var > 0, var, np.nan))
    theta = np.exp(log_params)
    with np.errstate(over="ignore", invalid="ignore"):
        rows = _rows(names, theta, se_log, log_params)
    return rows, cov_log


def _rows(
    names: tuple[str, ...], theta: np.ndarray, se_log: np.ndarray, log_params: np.ndarray
) -> list[ParameterEstimate]:
    return [
        ParameterEstimate(
            name=n,
            estimate=float(t),
            se=float(t * s),
            ci_low=float(np.exp(lp - Z_95 * s)),
            ci_high=float(np.exp(lp + Z_95 * s)),
        )
        for n, t, s, lp in zip(names, theta, se_log, log_params, strict=True)
    ]


def bic(log_likelihood: float, n_params: int, n_obs: int) -> float:
    """Bayesian information criterion, -2 LL + k ln n (Schwarz 1978); lower is better."""
    return float(-2.0 * log_likelihood + n_params * np.log(n_obs))


class Fitter:
    """What every CLV fitter shares: the fitted state and the summary table."""

    param_names: tuple[str, ...] = ()
    model_name = ""

    def __init__(self) -> None:
        self.params_: dict[str, float] = {}
        self.standard_errors_: dict[str, float] = {}
        self.log_likelihood_: float = float("nan")
        self.n_customers_: int = 0
        self.bic_: float = float("nan")
        self._estimates: list[ParameterEstimate] = []

    @property
    def fitted(self) -> bool:
        return bool(self.params_)

    def _require_fit(self) -> None:
        if not self.fitted:
            raise ModelFitError(f"{self.model_name}: call fit() first")

    def _store(
        self, log_params: np.ndarray, neg_ll: float, n: int, objective_total: Objective
    ) -> None:
        rows, cov = estimates(self.param_names, log_params, objective_total)
        self._estimates = rows
        self.params_ = {r.name: r.estimate for r in rows}
        self.standard_errors_ = {r.name: r.se for r in rows}
        self.covariance_log_ = cov
        self.log_likelihood_ = -neg_ll
        self.n_customers_ = n
        self.bic_ = bic(self.log_likelihood_, len(self.param_names), n)

    @property
    def summary(self) -> list[dict[str, float | str]]:
        """One row per parameter: estimate, standard error, 95% interval."""
        self._require_fit()
        return [r.to_dict() for r in self._estimates]


def check_summary(frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, model: str) -> None:
    """Validate an (x, t_x, T) summary up front with a clear message (PyMC-Marketing's habit)."""
    if not (len(frequency) == len(recency) == len(age)):
        raise ModelFitError(f"{model}: frequency, recency and T must have the same length")
    if len(frequency) < 2:
        raise ModelFitError(f"{model}: needs at least 2 customers, got {len(frequency)}")
    for name, arr in (("frequency", frequency), ("recency", recency), ("T", age)):
        if not np.all(np.isfinite(arr)):
            raise ModelFitError(f"{model}: {name} holds missing or infinite values")
        if np.any(arr < 0):
            raise ModelFitError(f"{model}: {name} holds negative values")
    if np.any(recency > age + 1e-9):
        raise ModelFitError(f"{model}: recency exceeds T for some customers")
    if np.any((frequency == 0) & (recency > 0)):
        raise ModelFitError(f"{model}: customers with frequency 0 must have recency 0")
    if not np.any(frequency > 0):
        raise ModelFitError(
            f"{model}: no customer made a repeat purchase in the calibration period; the "
            "model cannot be fitted (choose a later calibration end)"
        )
