"""Earning rules and the [loyalty] settings: exact decimals, points rounded down, never floats."""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxloop.config import LoyaltySettings, TierLevel, WorkspaceConfig, render_config
from cxloop.errors import ConfigError
from cxloop.programs.errors import ProgramError
from cxloop.programs.loyalty.rules import (
    EarningRules,
    counts_for_member,
    is_converted_referral,
    is_public_review,
    order_points,
)


@pytest.mark.parametrize(
    ("amount", "per_unit", "multiplier", "points"),
    [
        ("19.99", 1, "1", 19),  # rounded down, not to nearest
        ("0.9999", 1, "1", 0),
        ("100.00", 1, "1.25", 125),
        ("10.01", 1, "1.5", 15),  # 15.015
        ("33.3333", 3, "1", 99),  # 99.9999
        ("7", 10, "1.25", 87),  # 87.5
        ("0", 5, "2", 0),
        ("99999999999999.9999", 7, "1.333333333333", 933333333333099),
        # 3.99999999999999999999999999999 exactly: Python's default 28-digit context would
        # round the product up to 4 before the floor; the rule multiplies exactly.
        ("3", 1, "1.33333333333333333333333333333", 3),
    ],
)
def test_order_points_is_the_exact_product_rounded_down(amount, per_unit, multiplier, points):
    got = order_points(Decimal(amount), points_per_unit=per_unit, multiplier=Decimal(multiplier))
    assert got == points
    assert type(got) is int


@given(
    cents=st.integers(min_value=0, max_value=10**16),
    per_unit=st.integers(min_value=0, max_value=1000),
    multiplier=st.decimals(min_value=1, max_value=10, places=4, allow_nan=False),
)
def test_order_points_match_rational_arithmetic(cents, per_unit, multiplier):
    # Reference: exact rational arithmetic (fractions.Fraction), then floor.
    amount = Decimal(cents).scaleb(-4)
    expected = math.floor(Fraction(amount) * per_unit * Fraction(multiplier))
    assert order_points(amount, points_per_unit=per_unit, multiplier=multiplier) == expected


@pytest.mark.parametrize("bad", [19.99, 1.0, True, "19.99", None])
def test_floats_and_other_types_are_refused(bad):
    with pytest.raises(TypeError):
        order_points(bad, points_per_unit=1)
    with pytest.raises(TypeError):
        order_points(Decimal(1), points_per_unit=1, multiplier=bad)
    with pytest.raises(TypeError):
        order_points(Decimal(1), points_per_unit=bad if bad is not None else 1.5)


@pytest.mark.parametrize("amount", [Decimal("-0.01"), Decimal("NaN"), Decimal("Infinity")])
def test_negative_or_non_finite_amounts_are_refused(amount):
    with pytest.raises(ProgramError):
        order_points(amount, points_per_unit=1)


def test_rules_from_settings_apply_the_tier_multiplier_to_orders_only():
    settings = LoyaltySettings(points_per_unit=2, review_bonus=40, referral_bonus=150)
    rules = EarningRules.from_settings(settings)
    assert rules.for_order(Decimal("10.75"), tier="member") == 21  # 21.5
    assert rules.for_order(Decimal("10.75"), tier="silver") == 26  # 26.875
    assert rules.for_order(Decimal("10.75"), tier="gold") == 32  # 32.25
    # A tier the configuration no longer has earns at the base rate.
    assert rules.for_order(Decimal("10.75"), tier="platinum") == 21
    assert (rules.for_review(), rules.for_referral()) == (40, 150)


def test_what_counts_as_a_review_a_referral_and_a_member_act():
    assert is_public_review(True, "Great shoes")
    assert not is_public_review(True, "   ")
    assert not is_public_review(True, None)
    assert not is_public_review(False, "Great shoes")
    assert not is_public_review(None, "Great shoes")
    assert is_converted_referral("O1") and not is_converted_referral(" ")
    assert not is_converted_referral(None)
    enrolled = datetime(2025, 1, 1, tzinfo=UTC)
    assert counts_for_member(enrolled, enrolled)  # at enrolment counts
    assert not counts_for_member(enrolled - timedelta(microseconds=1), enrolled)


# -- settings --------------------------------------------------------------------------------
def test_loyalty_settings_defaults_and_parsed_tiers():
    config = WorkspaceConfig.from_dict(tomllib.loads(render_config()))
    loyalty = config.loyalty
    assert loyalty == LoyaltySettings()
    assert (loyalty.points_per_unit, loyalty.expiry_months) == (1, 24)
    assert (loyalty.review_bonus, loyalty.referral_bonus) == (50, 200)
    assert (loyalty.tier_basis, loyalty.tier_window_months) == ("spend", 12)
    assert loyalty.point_value_decimal == Decimal("0.01")
    assert loyalty.tier_levels == (
        TierLevel("member", Decimal(0), Decimal(1)),
        TierLevel("silver", Decimal(500), Decimal("1.25")),
        TierLevel("gold", Decimal(2000), Decimal("1.5")),
    )
    for level in loyalty.tier_levels:
        assert isinstance(level.threshold, Decimal) and isinstance(level.multiplier, Decimal)
    assert loyalty.multiplier("silver") == Decimal("1.25")


def test_loyalty_settings_from_toml():
    config = WorkspaceConfig.from_dict(
        {
            "loyalty": {
                "points_per_unit": 10,
                "point_value": "0.005",
                "expiry_months": 0,
                "tiers": ["blue:0:1", "black:1000:2.125"],
                "tier_basis": "points",
            }
        }
    )
    assert config.loyalty.point_value_decimal == Decimal("0.005")
    assert config.loyalty.multiplier("black") == Decimal("2.125")
    assert config.loyalty.expiry_months == 0


@pytest.mark.parametrize(
    ("loyalty", "message"),
    [
        ({"tiers": ["member:100:1"]}, "first tier's threshold must be 0"),
        ({"tiers": ["a:0:1", "b:500:1.5", "c:500:2"]}, "thresholds must increase"),
        ({"tiers": ["a:0:1", "b:50:0.9"]}, "multiplier >= 1"),
        ({"tiers": ["a:0:1", "b:50"]}, "name:threshold:multiplier"),
        ({"tiers": ["a:0:1", "b:fifty:2"]}, "name:threshold:multiplier"),
        ({"tiers": ["a:0:1", "a:50:2"]}, "distinct"),
        ({"tiers": []}, "at least one tier"),
        ({"tiers": ["a:0:1", "b:10.5:2"], "tier_basis": "points"}, "whole number"),
        ({"tier_basis": "visits"}, "tier_basis"),
        ({"point_value": "one cent"}, "point_value"),
        ({"point_value": "-0.01"}, "point_value"),
        ({"point_value": 0.01}, "must be a string"),  # a float is refused, not rounded
        ({"points_per_unit": 1.5}, "must be an integer"),
        ({"expiry_months": -1}, "expiry_months must be >= 0"),
        ({"review_bonus": -5}, "review_bonus must be >= 0"),
        ({"tier_window_months": 0}, "tier_window_months"),
        ({"colour": "gold"}, "unknown setting [loyalty] colour"),
    ],
)
def test_bad_loyalty_settings_name_the_key(loyalty, message):
    with pytest.raises(ConfigError) as info:
        WorkspaceConfig.from_dict({"loyalty": loyalty})
    assert message in str(info.value)
    assert "[loyalty]" in str(info.value)
