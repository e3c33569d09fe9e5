"""Earning rules: how many points an order, a public review or a converted referral is worth.

The rules are pure functions of exact numbers, so the API, the warehouse sync and the tests
give the same answer for the same act:

- an order: ``floor(amount x points_per_unit x tier multiplier)`` points. Every factor is a
  `Decimal` (or an int) and the product is exact; only the final result is rounded, and
  always *down*, so a member is never credited a fraction of a point that the program did
  not promise (19.99 at 1 point per unit is 19 points, not 20). Floats are refused: a
  binary float cannot hold 19.99, and a ledger must not depend on how it was rounded.
- a public review (feedback with ``public = true`` and some text): ``review_bonus`` points.
- a converted referral (``converted_order_id`` set), to the referrer: ``referral_bonus``.

Bonuses are flat: tier multipliers apply to what members spend, not to advocacy acts. The
settings come from ``[loyalty]`` in ``cxloop.toml`` (docs/configuration.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, localcontext

from cxloop.config import LoyaltySettings
from cxloop.programs.errors import ProgramError

#: The order status that earns points, and those that take them back (data contract).
EARNING_STATUS = "completed"
REVERSING_STATUSES = frozenset({"returned", "cancelled"})

# Digits kept while multiplying: amounts are DECIMAL(18, 4) and multipliers short decimals,
# so 60 digits hold every product exactly (the default context keeps 28 and would round).
_PRECISION = 60


def order_points(
    amount: Decimal | int, *, points_per_unit: int, multiplier: Decimal | int = 1
) -> int:
    """Points for an order of `amount` (workspace currency): the exact product rounded down.

    >>> order_points(Decimal("19.99"), points_per_unit=1)
    19
    >>> order_points(Decimal("100.00"), points_per_unit=1, multiplier=Decimal("1.25"))
    125
    """
    amount = _exact(amount, "amount")
    multiplier = _exact(multiplier, "multiplier")
    if isinstance(points_per_unit, bool) or not isinstance(points_per_unit, int):
        raise TypeError("points_per_unit must be an int")
    if amount < 0 or points_per_unit < 0 or multiplier < 0:
        raise ProgramError("an order amount, points per unit and multiplier are never negative")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        product = amount * points_per_unit * multiplier
        return int(product.to_integral_value(rounding=ROUND_FLOOR))


def is_public_review(public: bool | None, text: str | None) -> bool:
    """A published review with words in it: a rating alone, or a private answer, is not one."""
    return bool(public) and bool(text and text.strip())


def is_converted_referral(converted_order_id: str | None) -> bool:
    """A referral converted when the referee's first order is known (data contract)."""
    return bool(converted_order_id and converted_order_id.strip())


def counts_for_member(at: datetime, enrolled_at: datetime) -> bool:
    """Only acts at or after enrolment earn: a program pays for what members do as members.

    (Points for history before enrolment would be a welcome gift: give it with an
    adjustment, deliberately, rather than by accident of when someone joined.)
    """
    return at >= enrolled_at


@dataclass(frozen=True)
class EarningRules:
    """The earning rules of one program, from its `[loyalty]` settings."""

    points_per_unit: int
    review_bonus: int
    referral_bonus: int
    settings: LoyaltySettings

    @classmethod
    def from_settings(cls, settings: LoyaltySettings) -> EarningRules:
        return cls(
            points_per_unit=settings.points_per_unit,
            review_bonus=settings.review_bonus,
            referral_bonus=settings.referral_bonus,
            settings=settings,
        )

    def for_order(self, amount: Decimal | int, *, tier: str) -> int:
        """Points for a completed order by a member in `tier` (its multiplier; 1 if unknown)."""
        return order_points(
            amount,
            points_per_unit=self.points_per_unit,
            multiplier=self.settings.multiplier(tier),
        )

    def for_review(self) -> int:
        """Points for a public review (flat: no tier multiplier)."""
        return self.review_bonus

    def for_referral(self) -> int:
        """Points to the referrer for a converted referral (flat: no tier multiplier)."""
        return self.referral_bonus


def _exact(value: Decimal | int, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal or an int, not {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise ProgramError(f"{name} must be a finite number")
    return number
