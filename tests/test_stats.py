"""Interval estimates and tests against hand computations and reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from cxloop.analytics import stats


def test_nps_value_and_adjusted_wald_interval_by_hand():
    # 5 promoters, 3 passives, 2 detractors: NPS = 100 * (5 - 2) / 10 = 30.
    est = stats.nps([5], [3], [2])
    assert est["value"][0] == pytest.approx(30.0)
    # Adjusted Wald (Rocks 2016): n' = 13, p_P' = 5.75/13, p_D' = 2.75/13.
    pp, pd = 5.75 / 13, 2.75 / 13
    se = math.sqrt((pp + pd - (pp - pd) ** 2) / 13)
    assert est["ci_low"][0] == pytest.approx(100 * (pp - pd - 1.959964 * se), abs=1e-3)
    assert est["ci_high"][0] == pytest.approx(100 * (pp - pd + 1.959964 * se), abs=1e-3)


def test_nps_edge_cases():
    none = stats.pick(stats.nps([0], [0], [0]), 0)
    assert none == {"value": None, "n": 0, "ci_low": None, "ci_high": None}
    single = stats.pick(stats.nps([1], [0], [0]), 0)
    assert single["value"] == 100 and single["n"] == 1
    assert single["ci_high"] == 100 and -100 < single["ci_low"] < 100  # never zero width
    every = stats.pick(stats.nps([50], [0], [0]), 0)
    assert every["value"] == 100 and every["ci_low"] > single["ci_low"]
    detractors = stats.pick(stats.nps([0], [0], [7]), 0)
    assert detractors["value"] == -100 and detractors["ci_low"] == -100


def test_wilson_interval_matches_published_values():
    # Brown, Cai & DasGupta (2001): 0 successes in 10 trials -> Wilson upper bound 0.2775.
    est = stats.proportion([0], [10])
    assert est["ci_low"][0] == pytest.approx(0.0, abs=1e-12)
    assert est["ci_high"][0] == pytest.approx(0.2775, abs=1e-4)
    half = stats.proportion([5], [10])
    assert (half["ci_low"][0], half["ci_high"][0]) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_mean_interval_is_student_t():
    values = np.array([1.0, 2.0, 3.0])
    est = stats.mean([3], [values.mean()], [values.var(ddof=1)])
    low, high = sps.t.interval(0.95, 2, loc=2.0, scale=sps.sem(values))
    assert (est["ci_low"][0], est["ci_high"][0]) == pytest.approx((low, high))
    assert math.isnan(stats.mean([1], [4.0], [np.nan])["ci_low"][0])


def test_welch_matches_scipy():
    p = stats.welch_p([5.0], [4.0], [30], [6.0], [9.0], [40])[0]
    ref = sps.ttest_ind_from_stats(5.0, 2.0, 30, 6.0, 3.0, 40, equal_var=False).pvalue
    assert p == pytest.approx(ref)


def test_two_proportion_z_by_hand():
    # 30/100 vs 45/100: pooled 0.375, se = sqrt(0.375 * 0.625 * 0.02), z = -0.15 / se.
    p = stats.two_proportion_p([30], [100], [45], [100])[0]
    z = 0.15 / math.sqrt(0.375 * 0.625 * 0.02)
    assert p == pytest.approx(2 * sps.norm.sf(z))


def test_benjamini_hochberg_by_hand():
    q = stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.005, float("nan")])
    assert q[:4] == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert math.isnan(q[4])
    assert stats.benjamini_hochberg([]).size == 0
