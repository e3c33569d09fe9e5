"""Unit checks of the CLV fitters: analytic gradients, predictions' invariants, bad input.

Reference formulas: BG/NBD, Fader, Hardie & Lee (2005), Marketing Science 24(2); Pareto/NBD,
Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related expressions";
Gamma-Gamma, Fader, Hardie & Lee (2005), JMR 42(4).
"""

from __future__ import annotations

import numpy as np
import pytest

from cxloop.generate.purchases import expected_repeat_purchases
from cxloop.models.clv import (
    BGNBDFitter,
    GammaGammaFitter,
    ModelFitError,
    ParetoNBDFitter,
    bgnbd,
    gamma_gamma,
)
from cxloop.models.clv.base import numeric_gradient
from cxloop.models.clv.gamma_gamma import independence_check


def simulate_bgnbd(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate BG/NBD summaries (r=0.5, alpha=6, a=0.8, b=2.5) with T uniform in 20..52."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.5, 1 / 6.0, n)
    p = rng.beta(0.8, 2.5, n)
    big_t = rng.uniform(20, 52, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    t = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    for _ in range(300):
        t = np.where(alive, t + rng.exponential(1 / lam), t)
        buy = alive & (t < big_t)
        x[buy] += 1
        t_x[buy] = t[buy]
        alive = buy & (rng.random(n) >= p)
        if not alive.any():
            break
    return x, t_x, big_t


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return simulate_bgnbd(5000)


def test_bgnbd_gradient_matches_numeric(sample) -> None:
    x, t_x, big_t = sample
    w = np.ones_like(x)
    lt = np.log([0.4, 5.0, 0.9, 2.0])
    _, grad = bgnbd._objective(lt, x, t_x, big_t, w)
    num = numeric_gradient(lambda v: bgnbd._objective(v, x, t_x, big_t, w)[0], lt, 1e-6)
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-4)


def test_gamma_gamma_gradient_matches_numeric() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(1, 10, 500).astype(float)
    m = rng.gamma(5, 10, 500)
    lt = np.log([3.0, 2.5, 20.0])
    w = np.ones_like(x)
    _, grad = gamma_gamma._objective(lt, x, m, w)
    num = numeric_gradient(lambda v: gamma_gamma._objective(v, x, m, w)[0], lt, 1e-6)
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-4)


def test_bgnbd_recovers_simulation_and_predicts_sensibly(sample) -> None:
    x, t_x, big_t = sample
    f = BGNBDFitter().fit(x, t_x, big_t)
    for name, truth in {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}.items():
        assert abs(f.params_[name] - truth) < 3 * f.standard_errors_[name], name
    alive = f.probability_alive(x, t_x, big_t)
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(alive[x == 0] == 1.0)  # no repeat purchase, no chance to drop out
    e10 = f.predict_expected_purchases(10, x, t_x, big_t)
    e20 = f.predict_expected_purchases(20, x, t_x, big_t)
    assert np.all(e20 >= e10) and np.all(e10 >= 0)
    # The unconditional E[X(t)] agrees with the generator's independent series summation.
    p = f.params_
    ref = expected_repeat_purchases(np.array([13.0, 52.0]), p["r"], p["alpha"], p["a"], p["b"])
    np.testing.assert_allclose(f.expected_purchases(np.array([13.0, 52.0])), ref, rtol=1e-8)
    assert len(f.summary) == 4 and f.bic_ > 0


def test_pareto_alive_and_expectations(sample) -> None:
    x, t_x, big_t = sample
    f = ParetoNBDFitter().fit(x, t_x, big_t)
    alive = f.probability_alive(x, t_x, big_t)
    assert np.all((alive > 0) & (alive <= 1))
    e = f.predict_expected_purchases(26, x, t_x, big_t)
    assert np.all(np.isfinite(e)) and np.all(e >= 0)
    assert np.isfinite(f.log_likelihood_)


def test_gamma_gamma_spend_shrinks_toward_the_mean() -> None:
    rng = np.random.default_rng(5)
    nu = rng.gamma(4.0, 1 / 45.0, 3000)
    x = rng.integers(1, 8, 3000).astype(float)
    m = np.array([rng.gamma(6.0, 1 / v, int(k)).mean() for v, k in zip(nu, x, strict=True)])
    f = GammaGammaFitter().fit(x, m)
    for name, truth in {"p": 6.0, "q": 4.0, "gamma": 45.0}.items():
        assert abs(f.params_[name] - truth) < 3 * f.standard_errors_[name], name
    spend = f.conditional_expected_spend(np.array([1.0, 1.0, 0.0]), np.array([10.0, 500.0, np.nan]))
    mean = f.population_mean_spend
    assert 10 < spend[0] < mean < spend[1] < 500
    assert spend[2] == pytest.approx(mean)


def test_independence_check_warns_on_correlated_spend() -> None:
    x = np.arange(1, 201, dtype=float)
    assert independence_check(x, 10 + 2 * x).warning is not None
    rng = np.random.default_rng(2)
    assert independence_check(x, rng.gamma(5, 10, 200)).warning is None


@pytest.mark.parametrize(
    ("x", "t_x", "big_t", "message"),
    [
        ([0, 0, 0], [0, 0, 0], [5, 6, 7], "no customer made a repeat purchase"),
        ([1], [2], [5], "at least 2 customers"),
        ([1, 2], [3, 9], [5, 6], "recency exceeds T"),
        ([1, -1], [3, 1], [5, 6], "negative"),
        ([1, np.nan], [3, 1], [5, 6], "missing"),
    ],
)
def test_bad_summaries_are_refused(x, t_x, big_t, message) -> None:
    for fitter in (BGNBDFitter(), ParetoNBDFitter()):
        with pytest.raises(ModelFitError, match=message):
            fitter.fit(np.array(x, float), np.array(t_x, float), np.array(big_t, float))


def test_spend_model_refuses_bad_values() -> None:
    with pytest.raises(ModelFitError, match="positive"):
        GammaGammaFitter().fit(np.array([1.0, 2.0]), np.array([10.0, 0.0]))
    with pytest.raises(ModelFitError, match="at least 2 repeat buyers"):
        GammaGammaFitter().fit(np.array([1.0, 0.0]), np.array([10.0, np.nan]))
    with pytest.raises(ModelFitError, match="call fit"):
        GammaGammaFitter().conditional_expected_spend(np.array([1.0]), np.array([1.0]))
