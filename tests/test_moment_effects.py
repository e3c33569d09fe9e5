"""Adjusted effects of touchpoint conditions: confounding removed, planted effects recovered,
HC1 errors against the sandwich written out by hand, small-sample and bad-input handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from cxloop.analytics.moments import MomentEffect, estimate_effects, ranked
from cxloop.analytics.stats import benjamini_hochberg
from cxloop.errors import CxloopError

NAMES = ["delivery failed", "onboarding succeeded", "premium support"]


def _population(n: int = 6000, seed: int = 0, hv_extra: float = 0.0):
    """NPS-like 0-10 scores. Customer value raises the score AND the chance of premium
    support, which has no effect of its own; delivery failed (-2.5) and onboarding succeeded
    (+1.0) have real effects. hv_extra adds to the delivery effect for high-value customers."""
    rng = np.random.default_rng(seed)
    value = rng.normal(size=n)
    tenure = rng.exponential(2.0, size=n)
    channel = rng.integers(0, 3, size=n)  # web, store, phone -> two dummies
    store, phone = (channel == 1).astype(float), (channel == 2).astype(float)
    delivery = (rng.random(n) < 0.15 + 0.05 * phone).astype(float)
    onboarding = (rng.random(n) < sps.norm.cdf(-0.3 + 0.2 * tenure)).astype(float)
    premium = (rng.random(n) < 1 / (1 + np.exp(1.0 - 1.8 * value))).astype(float)
    high = value > 1.0
    noise = rng.normal(size=n) * (1.0 + 0.5 * np.abs(value))  # heteroskedastic
    y = (
        6.0
        + 1.2 * value
        + 0.2 * tenure
        + 0.4 * store
        - 0.3 * phone
        + (-2.5 + hv_extra * high) * delivery
        + 1.0 * onboarding
        + 0.0 * premium
        + noise
    )
    exposures = np.column_stack([delivery, onboarding, premium])
    covariates = np.column_stack([value, tenure, store, phone])
    return y, exposures, covariates, high


def _by_name(effects: list[MomentEffect]) -> dict[str, MomentEffect]:
    return {e.name: e for e in effects}


def test_confounded_null_condition_is_naively_significant_but_not_after_adjustment():
    y, d, c, _ = _population()
    prem = _by_name(estimate_effects(y, d, c, names=NAMES))["premium support"]
    # Naive: premium customers are high-value customers, who score higher anyway.
    assert prem.naive_ci_low > 0.5
    # Adjusted for value (and the rest): no effect.
    assert not prem.significant
    assert prem.p_value > 0.05
    assert prem.ci_low < 0 < prem.ci_high
    assert abs(prem.effect) < abs(prem.naive_effect) / 5


def test_planted_effects_are_recovered_significant_and_ranked():
    y, d, c, _ = _population()
    effects = estimate_effects(y, d, c, names=NAMES)
    by = _by_name(effects)
    for name, truth in (("delivery failed", -2.5), ("onboarding succeeded", 1.0)):
        e = by[name]
        assert e.ci_low < truth < e.ci_high
        assert e.significant and e.q_value < 0.05
        assert e.model == "OLS"
        assert e.n_exposed + e.n_unexposed == y.size
    order = [e.name for e in ranked(effects)]
    assert order == ["delivery failed", "onboarding succeeded", "premium support"]
    assert abs(by["delivery failed"].effect) > abs(by["onboarding succeeded"].effect)


def test_hc1_matches_sandwich_by_hand_on_a_tiny_case():
    y = np.array([7.0, 9.0, 3.0, 8.0, 2.0, 10.0, 6.0, 5.0, 9.0, 4.0])
    d = np.array([[0, 0, 1, 0, 1, 0, 0, 1, 0, 1]], dtype=float).T
    c = np.array([[1.0, 2.5, 0.3, 1.8, 0.2, 3.1, 1.1, 0.9, 2.2, 0.4]]).T
    (e,) = estimate_effects(y, d, c, names=["late"], min_exposed=2)

    # statsmodels' HC1: (X'X)^-1 X' diag(e^2) X (X'X)^-1 * n / (n - k), X = [1, c, d].
    x = np.column_stack([np.ones(10), c, d])
    n, k = x.shape
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    meat = sum(resid[i] ** 2 * np.outer(x[i], x[i]) for i in range(n))
    cov = n / (n - k) * xtx_inv @ meat @ xtx_inv
    se = np.sqrt(cov[2, 2])
    t = sps.t.ppf(0.975, n - k)
    assert e.effect == pytest.approx(beta[2], rel=1e-10)
    assert e.se == pytest.approx(se, rel=1e-10)
    assert e.ci_low == pytest.approx(beta[2] - t * se, rel=1e-10)
    assert e.ci_high == pytest.approx(beta[2] + t * se, rel=1e-10)
    assert e.p_value == pytest.approx(2 * sps.t.sf(abs(beta[2] / se), n - k), rel=1e-10)
    # Naive difference with Welch's interval, as scipy computes it.
    ex = d[:, 0] == 1
    welch = sps.ttest_ind(y[ex], y[~ex], equal_var=False)
    ci = welch.confidence_interval()
    assert e.naive_effect == pytest.approx(y[ex].mean() - y[~ex].mean())
    assert (e.naive_ci_low, e.naive_ci_high) == pytest.approx((ci.low, ci.high))


def test_condition_with_too_few_exposed_is_reported_not_estimated():
    y, d, c, _ = _population(n=3000, seed=3)
    rare = np.zeros(y.size)
    rare[:12] = 1.0
    effects = estimate_effects(y, np.column_stack([d, rare]), c, names=[*NAMES, "rare"])
    e = _by_name(effects)["rare"]
    assert e.effect is None and e.ci_low is None and e.p_value is None and e.q_value is None
    assert not e.significant
    assert e.n_exposed == 12 and e.n_unexposed == y.size - 12
    assert "too few" in e.note
    assert _by_name(effects)["delivery failed"].significant
    # Never exposed at all: same, no crash.
    effects = estimate_effects(y, np.column_stack([d, 0 * rare]), c, names=[*NAMES, "never"])
    assert _by_name(effects)["never"].effect is None


def test_high_value_subset_refit():
    y, d, c, high = _population(n=12000, seed=11, hv_extra=-1.5)
    by = _by_name(estimate_effects(y, d, c, names=NAMES, high_value=high))
    e = by["delivery failed"]
    # High-value customers lose 4.0 points on a failed delivery; the whole base about 2.7.
    assert e.high_value_ci_low < -4.0 < e.high_value_ci_high
    assert e.effect_high_value < e.effect
    onboarding = by["onboarding succeeded"]
    assert onboarding.high_value_ci_low < 1.0 < onboarding.high_value_ci_high
    # A subset too small for a condition says so.
    tiny = np.zeros(y.size, dtype=bool)
    tiny[:40] = True
    e = _by_name(estimate_effects(y, d, c, names=NAMES, high_value=tiny))["delivery failed"]
    assert e.effect is not None and e.effect_high_value is None
    assert "high-value subset" in e.note


def test_bh_q_values_are_monotone_in_p_and_match_stats():
    rng = np.random.default_rng(5)
    n, k = 4000, 8
    d = (rng.random((n, k)) < 0.3).astype(float)
    c = rng.normal(size=(n, 2))
    true = np.array([0.0, 0.05, 0.1, 0.15, 0.2, 0.4, 0.0, -0.3])
    y = 5 + c @ np.array([0.5, -0.2]) + d @ true + rng.normal(size=n)
    effects = estimate_effects(y, d, c, names=[f"c{j}" for j in range(k)])
    p = np.array([e.p_value for e in effects])
    q = np.array([e.q_value for e in effects])
    assert q == pytest.approx(benjamini_hochberg(p))
    order = np.argsort(p)
    assert np.all(np.diff(q[order]) >= 0)
    assert np.all(q >= p)
    assert [e.significant for e in effects] == list(q < 0.05)


def test_collinear_and_constant_covariates_are_dropped_with_a_note():
    y, d, c, _ = _population(n=3000, seed=2)
    base = _by_name(estimate_effects(y, d, c, names=NAMES))
    web = 1.0 - c[:, 2] - c[:, 3]  # the third channel dummy: collinear with the intercept
    c2 = np.column_stack([c, web, np.full(y.size, 4.0), 2.0 * c[:, 0]])
    names = ["value", "tenure", "store", "phone", "web", "const", "value x2"]
    by = _by_name(estimate_effects(y, d, c2, names=NAMES, covariate_names=names))
    for name in NAMES:
        assert by[name].effect == pytest.approx(base[name].effect, rel=1e-8)
        assert by[name].se == pytest.approx(base[name].se, rel=1e-8)
    note = by["delivery failed"].note
    assert "'web' dropped (collinear" in note
    assert "'const' dropped (constant)" in note
    assert "'value x2' dropped (collinear" in note


def test_condition_collinear_with_another_is_not_identified():
    y, d, c, _ = _population(n=3000, seed=4)
    dup = np.column_stack([d, d[:, 0]])
    by = _by_name(estimate_effects(y, dup, c, names=[*NAMES, "same as delivery"]))
    assert by["same as delivery"].effect is None
    assert "not identified" in by["same as delivery"].note
    assert by["delivery failed"].effect is not None


def test_binary_outcome_is_a_linear_probability_model():
    rng = np.random.default_rng(9)
    n = 8000
    value = rng.normal(size=n)
    d = (rng.random(n) < 0.2).astype(float)
    y = (rng.random(n) < 0.5 + 0.1 * np.tanh(value) - 0.15 * d).astype(float)
    (e,) = estimate_effects(y, d[:, None], value[:, None], names=["support unresolved"])
    assert e.model == "LPM"
    assert e.ci_low < -0.15 < e.ci_high and e.significant


def test_weights_and_covariates_without_columns():
    y, d, c, _ = _population(n=2000, seed=6)
    plain = estimate_effects(y, d, c, names=NAMES)
    ones = estimate_effects(y, d, c, names=NAMES, weights=np.ones(y.size))
    assert [e.to_dict() for e in plain] == [e.to_dict() for e in ones]
    # Integer weights give the same coefficients as repeating rows.
    w = np.random.default_rng(1).integers(0, 3, size=y.size)
    weighted = estimate_effects(y, d, c, names=NAMES, weights=w)
    rep = np.repeat(np.arange(y.size), w)
    repeated = estimate_effects(y[rep], d[rep], c[rep], names=NAMES)
    for a, b in zip(weighted, repeated, strict=True):
        assert a.effect == pytest.approx(b.effect, rel=1e-9)
        assert a.naive_effect == pytest.approx(b.naive_effect, rel=1e-9)
    # No covariates: the adjusted model adjusts only for the other conditions.
    none = estimate_effects(y, d, np.empty((y.size, 0)), names=NAMES)
    assert all(e.effect is not None for e in none)


def test_to_dict_has_no_nan_and_serialises():
    y, d, c, high = _population(n=2000, seed=8)
    rare = np.zeros(y.size)
    rare[:3] = 1
    effects = estimate_effects(
        y, np.column_stack([d, rare]), c, names=[*NAMES, "rare"], high_value=high
    )
    for e in effects:
        row = e.to_dict()
        json.dumps(row, allow_nan=False)
        assert set(row) >= {"name", "effect", "ci_low", "naive_effect", "q_value", "note"}


def test_constant_outcome_reports_nothing_significant():
    y, d, c, _ = _population(n=500, seed=1)
    effects = estimate_effects(np.full(y.size, 10.0), d, c, names=NAMES)
    assert all(e.effect is None and not e.significant for e in effects)
    assert "constant" in effects[0].note


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": np.array([])}, "empty"),
        ({"d": np.ones((5, 1))}, "rows"),
        ({"c": np.ones(100)}, "2-D"),
        ({"y": np.r_[np.nan, np.ones(99)]}, "non-finite"),
        ({"c": np.r_[[[np.inf]], np.ones((99, 1))]}, "non-finite"),
        ({"d": np.full((100, 1), 2.0)}, "0 and 1"),
        ({"names": ["a", "b"]}, "names"),
        ({"weights": -np.ones(100)}, "negative"),
        ({"weights": np.zeros(100)}, "every weight"),
        ({"high_value": np.ones(99, dtype=bool)}, "rows"),
        ({"d": np.ones((100, 0)), "names": []}, "no conditions"),
    ],
)
def test_bad_input_raises_a_clear_error(kwargs, message):
    rng = np.random.default_rng(0)
    args = {
        "y": rng.normal(size=100),
        "d": (rng.random((100, 1)) < 0.5).astype(float),
        "c": rng.normal(size=(100, 1)),
        "names": ["a"],
        "weights": None,
        "high_value": None,
    }
    args.update(kwargs)
    with pytest.raises(CxloopError, match=message):
        estimate_effects(
            args["y"],
            args["d"],
            args["c"],
            names=args["names"],
            weights=args["weights"],
            high_value=args["high_value"],
        )


def test_fewer_rows_than_columns_is_answered_not_crashed():
    # Found by fuzzing the API on a tiny workspace: the high-value refit had 25 rows for 29
    # design columns and the collinearity check broke on the wide R of the QR.
    y, d, c, _ = _population(n=6000, seed=4)
    wide = np.column_stack([c] + [np.random.default_rng(i).normal(size=y.size) for i in range(30)])
    rows = slice(0, 25)
    names = [f"c{i}" for i in range(wide.shape[1])]
    effects = estimate_effects(y[rows], d[rows], wide[rows], names=NAMES, covariate_names=names)
    assert len(effects) == len(NAMES)
    assert all(e.effect is None or np.isfinite(e.effect) for e in effects)
