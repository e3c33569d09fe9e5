"""The liability report: what the program owes its members in points and money, as of a date.

Why as of a date: finance closes a month after it ends, so the report must show the books as
they stood then, not as they are today. Every figure is read back from what the ledger had
recorded by `as_of` (entries' `created_at`): a lot exists once its earn is recorded, and holds
its points minus what entries recorded by then drew from it (`lot_consumption`, signed: a
reversed redemption gives points back). A report for today and one for last month, run today,
therefore both hold, and the outstanding points always equal the sum of the entries recorded
by `as_of` (`reconciled`).

Points are integers and money is `Decimal` (points x `[loyalty] point_value`), written as
decimal text in the JSON document, never as a float. Rates are decimals too (six places).

Breakage is the share of points that left the program by expiring rather than by being
redeemed (definition, sources and interval in docs/metrics.md#loyalty-liability-and-breakage).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from typing import Any

import sqlalchemy as sa
from scipy import stats as sps
from sqlalchemy.engine import Connection

from cxloop.config import LoyaltySettings
from cxloop.programs.errors import ProgramError
from cxloop.programs.loyalty.ledger import Ledger, add_months
from cxloop.programs.loyalty.tiers import tier_as_of
from cxloop.programs.store import ProgramStore
from cxloop.programs.tables import ledger_entries, lot_consumption, lots, members

#: Age of a lot in whole calendar months since it was earned: [from, to) months.
AGE_BUCKETS: tuple[tuple[int, int | None], ...] = ((0, 3), (3, 6), (6, 12), (12, 24), (24, None))
#: Horizons of "points expiring in the next N days" (cumulative: 90 includes 30).
EXPIRY_HORIZONS_DAYS = (30, 90)
#: Default window of the flows and of breakage: the 12 months up to `as_of`.
WINDOW_MONTHS = 12
#: Places of rates and their intervals.
RATE = Decimal("0.000001")
_CONTEXT = Context(prec=40)


@dataclass(frozen=True)
class _Money:
    point_value: Decimal

    def value(self, points: int) -> str:
        return str(Decimal(points) * self.point_value)

    def figure(self, points: int, lots_count: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"points": points, "value": self.value(points)}
        if lots_count is not None:
            out["lots"] = lots_count
        return out


def liability_report(
    source: Ledger | ProgramStore,
    settings: LoyaltySettings,
    as_of: datetime,
    *,
    window_months: int = WINDOW_MONTHS,
    currency: str | None = None,
) -> dict[str, Any]:
    """The liability as of `as_of`, JSON-ready (points int, money and rates decimal text).

    Outstanding points and value, by age of lot, by tier (the tier held at `as_of`), expiring
    in the next 30 and 90 days, overdue for expiry, members with a balance; and over the
    `window_months` before `as_of`: the flows (earned, redeemed, expired, adjusted,
    reversed, from the opening to the closing balance) and the breakage rate with its n and
    95% interval. One read transaction: every figure comes from the same snapshot.
    """
    store = source.store if isinstance(source, Ledger) else source
    if not isinstance(as_of, datetime) or as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ProgramError("as_of must be a timezone-aware date and time")
    if isinstance(window_months, bool) or not isinstance(window_months, int) or window_months < 1:
        raise ProgramError("the breakage window is a whole number of months >= 1")
    as_of = as_of.astimezone(UTC)
    money = _Money(point_value_of(settings))
    window_start = add_months(as_of, -window_months)
    with store.read() as conn:
        state = _lot_state(as_of).subquery("lot_state")
        open_lots = sa.and_(state.c.remaining > 0)
        outstanding, lot_count = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(state.c.remaining), 0), sa.func.count()).where(
                open_lots
            )
        ).one()
        outstanding = int(outstanding)
        by_age = _by_age(conn, state, as_of, money)
        by_tier = _by_tier(conn, state, as_of, money, settings)
        expiring = [
            _expiring(conn, state, as_of, as_of + timedelta(days=days), money) | {"days": days}
            for days in EXPIRY_HORIZONS_DAYS
        ]
        overdue_points, overdue_lots = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(state.c.remaining), 0), sa.func.count()).where(
                open_lots, state.c.expires_at <= as_of
            )
        ).one()
        enrolled = conn.execute(
            sa.select(sa.func.count()).where(members.c.enrolled_at <= as_of)
        ).scalar_one()
        with_balance = conn.execute(
            sa.select(sa.func.count(sa.distinct(state.c.member_id))).where(open_lots)
        ).scalar_one()
        closing = _entries_total(conn, as_of)
        flows = _flows(conn, window_start, as_of)
        opening = _entries_total(conn, window_start)
        breakage = _breakage(conn, window_start, as_of)
    return {
        "as_of": as_of.isoformat(),
        "point_value": str(money.point_value),
        "currency": currency,
        "outstanding": money.figure(outstanding, int(lot_count)),
        "members": {"enrolled": int(enrolled), "with_balance": int(with_balance)},
        "by_age": by_age,
        "by_tier": by_tier,
        "expiring": expiring,
        "overdue_expiry": money.figure(int(overdue_points), int(overdue_lots)),
        "window": {
            "months": window_months,
            "start": window_start.isoformat(),
            "end": as_of.isoformat(),
            "opening_points": opening,
            **flows,
            "closing_points": closing,
        },
        "breakage": breakage,
        # The lots (what is owed, by lot) and the entries (the signed history) agree.
        "reconciled": closing == outstanding and opening + flows["net"] == closing,
    }


def point_value_of(settings: LoyaltySettings) -> Decimal:
    """`[loyalty] point_value` as an exact, non-negative Decimal (the config checked it)."""
    try:
        value = settings.point_value_decimal
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise ProgramError(f"[loyalty] point_value {settings.point_value!r} is not a decimal >= 0")
    return value


# -- the lots as of a date ------------------------------------------------------------------
def _lot_state(as_of: datetime) -> sa.Select[Any]:
    """Every lot recorded by `as_of` with what it held then: points minus what entries
    recorded by then drew from it (draws positive, give-backs negative)."""
    drawn = (
        sa.select(
            lot_consumption.c.lot_id,
            sa.func.sum(lot_consumption.c.points).label("drawn"),
        )
        .join(ledger_entries, ledger_entries.c.id == lot_consumption.c.entry_id)
        .where(ledger_entries.c.created_at <= as_of)
        .group_by(lot_consumption.c.lot_id)
        .subquery("drawn")
    )
    credit = sa.alias(ledger_entries, "credit")
    return (
        sa.select(
            lots.c.id,
            lots.c.member_id,
            lots.c.earned_at,
            lots.c.expires_at,
            (lots.c.points - sa.func.coalesce(drawn.c.drawn, 0)).label("remaining"),
        )
        .join(credit, credit.c.id == lots.c.entry_id)
        .outerjoin(drawn, drawn.c.lot_id == lots.c.id)
        .where(credit.c.created_at <= as_of)
    )


def _by_age(
    conn: Connection, state: sa.Subquery, as_of: datetime, money: _Money
) -> list[dict[str, Any]]:
    """Outstanding points by whole calendar months since the lot was earned.

    A lot earned exactly 3 months before `as_of` is 3 months old (bucket 3-6).
    """
    whens = []
    for low, high in AGE_BUCKETS:
        if high is not None:
            whens.append((state.c.earned_at > add_months(as_of, -high), _age_label(low, high)))
    bucket = sa.case(*whens, else_=_age_label(*AGE_BUCKETS[-1])).label("bucket")
    rows = conn.execute(
        sa.select(bucket, sa.func.sum(state.c.remaining), sa.func.count())
        .where(state.c.remaining > 0)
        .group_by(bucket)
    ).all()
    found = {label: (int(points), int(n)) for label, points, n in rows}
    out = []
    for low, high in AGE_BUCKETS:
        label = _age_label(low, high)
        points, n = found.get(label, (0, 0))
        out.append(
            {"age_months": label, "from_months": low, "to_months": high} | money.figure(points, n)
        )
    return out


def _age_label(low: int, high: int | None) -> str:
    return f"{low}-{high}" if high is not None else f"{low}+"


def _by_tier(
    conn: Connection,
    state: sa.Subquery,
    as_of: datetime,
    money: _Money,
    settings: LoyaltySettings,
) -> list[dict[str, Any]]:
    """Outstanding points and members with a balance by the tier each member held at
    `as_of`; every tier of the ladder appears (in ladder order), then any other tier held."""
    balances = (
        sa.select(state.c.member_id, sa.func.sum(state.c.remaining).label("points"))
        .where(state.c.remaining > 0)
        .group_by(state.c.member_id)
        .subquery("balances")
    )
    tier = tier_as_of(as_of).label("tier")
    rows = conn.execute(
        sa.select(tier, sa.func.count(), sa.func.sum(balances.c.points))
        .select_from(balances.join(members, members.c.member_id == balances.c.member_id))
        .group_by(tier)
    ).all()
    found = {name: (int(n), int(points)) for name, n, points in rows}
    ladder = [t.name for t in sorted(settings.tier_levels, key=lambda t: t.threshold)]
    names = ladder + sorted(set(found) - set(ladder))
    return [
        {"tier": name, "members_with_balance": found.get(name, (0, 0))[0]}
        | money.figure(found.get(name, (0, 0))[1])
        for name in names
    ]


def _expiring(
    conn: Connection, state: sa.Subquery, as_of: datetime, until: datetime, money: _Money
) -> dict[str, Any]:
    """Points that will expire after `as_of` and by `until`, unless redeemed first."""
    points, n = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(state.c.remaining), 0), sa.func.count()).where(
            state.c.remaining > 0, state.c.expires_at > as_of, state.c.expires_at <= until
        )
    ).one()
    return money.figure(int(points), int(n))


# -- flows and breakage over the window -----------------------------------------------------
def _entries_total(conn: Connection, as_of: datetime) -> int:
    """Sum of every entry recorded by `as_of`: the points outstanding then."""
    return int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(ledger_entries.c.points), 0)).where(
                ledger_entries.c.created_at <= as_of
            )
        ).scalar_one()
    )


def _flows(conn: Connection, start: datetime, end: datetime) -> dict[str, Any]:
    """Points moved by entries recorded in `(start, end]`, by kind (all as positive numbers,
    with `net` the signed sum: opening + net = closing)."""
    e = ledger_entries
    in_window = sa.and_(e.c.created_at > start, e.c.created_at <= end)
    rows = conn.execute(
        sa.select(
            e.c.kind,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((e.c.points > 0, e.c.points), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((e.c.points < 0, -e.c.points), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(e.c.shortfall), 0),
        )
        .where(in_window)
        .group_by(e.c.kind)
    ).all()
    out: dict[str, Any] = {
        "earned": 0,
        "redeemed": 0,
        "expired": 0,
        "adjusted_up": 0,
        "adjusted_down": 0,
        "reversed": {"entries": 0, "taken_back": 0, "given_back": 0, "shortfall": 0},
        "entries": 0,
    }
    for kind, n, plus, minus, shortfall in rows:
        plus, minus, n = int(plus), int(minus), int(n)
        out["entries"] += n
        if kind == "earn":
            out["earned"] += plus
        elif kind == "redeem":
            out["redeemed"] += minus
        elif kind == "expire":
            out["expired"] += minus
        elif kind == "adjust":
            out["adjusted_up"] += plus
            out["adjusted_down"] += minus
        elif kind == "reverse":
            rev = out["reversed"]
            rev["entries"] += n
            rev["taken_back"] += minus  # of earns and credits: points leave
            rev["given_back"] += plus  # of redemptions and debits: points return
            rev["shortfall"] += int(shortfall)
    rev = out["reversed"]
    out["net"] = (
        out["earned"]
        - out["redeemed"]
        - out["expired"]
        + out["adjusted_up"]
        - out["adjusted_down"]
        - rev["taken_back"]
        + rev["given_back"]
    )
    return out


def _breakage(conn: Connection, start: datetime, end: datetime) -> dict[str, Any]:
    """Breakage over `(start, end]`: expired / (expired + redeemed), members as clusters.

    Redeemed: redemptions recorded in the window and not reversed by `end` (a reversed
    redemption gave its points back: they did not leave). Reversals, adjustments and earns
    are neither. The interval treats each member as one cluster of points (a member's points
    expire or are spent together, so points are not independent trials) and uses the
    variance of a ratio estimator (Cochran 1977, Sampling Techniques, 3rd ed., §6.3-6.4):

        R = Σy / Σx,   Var(R) ≈ n / (n - 1) · Σ(y_i - R x_i)² / (Σx)²

    with y_i a member's expired points and x_i their expired + redeemed points, and a
    Student t interval with n - 1 degrees of freedom, clipped to [0, 1].
    """
    e = ledger_entries
    reversal = sa.alias(ledger_entries, "reversal")
    not_reversed = ~sa.exists().where(reversal.c.reverses == e.c.id, reversal.c.created_at <= end)
    expired = sa.func.sum(sa.case((e.c.kind == "expire", -e.c.points), else_=0))
    redeemed = sa.func.sum(
        sa.case((sa.and_(e.c.kind == "redeem", not_reversed), -e.c.points), else_=0)
    )
    rows = conn.execute(
        sa.select(e.c.member_id, expired, redeemed)
        .where(e.c.created_at > start, e.c.created_at <= end, e.c.kind.in_(("expire", "redeem")))
        .group_by(e.c.member_id)
    ).all()
    pairs = [(int(y), int(y) + int(r)) for _, y, r in rows if int(y) + int(r) > 0]
    return breakage_estimate(pairs)


def breakage_estimate(pairs: list[tuple[int, int]]) -> dict[str, Any]:
    """Breakage from per-member (expired, expired + redeemed) points, exact to six places.

    The ratio and the sums are exact (Decimal with 40 digits); only the t quantile comes
    from a float. See `_breakage` for the formula and its source.
    """
    total_expired = sum(y for y, _ in pairs)
    total = sum(x for _, x in pairs)
    n = len(pairs)
    out: dict[str, Any] = {
        "rate": None,
        "n": n,
        "ci_low": None,
        "ci_high": None,
        "expired_points": total_expired,
        "redeemed_points": total - total_expired,
        "unit": "members with points expired or redeemed in the window",
    }
    if total == 0:
        return out
    with localcontext(_CONTEXT):
        rate = Decimal(total_expired) / Decimal(total)
        out["rate"] = str(rate.quantize(RATE, rounding=ROUND_HALF_EVEN))
        if n < 2:
            return out
        squares = sum(((Decimal(y) - rate * x) ** 2 for y, x in pairs), Decimal(0))
        variance = Decimal(n) * squares / (Decimal(n - 1) * Decimal(total) ** 2)
        half = Decimal(repr(float(sps.t.ppf(0.975, n - 1)))) * variance.sqrt()
        low, high = max(Decimal(0), rate - half), min(Decimal(1), rate + half)
    out["ci_low"] = str(low.quantize(RATE, rounding=ROUND_HALF_EVEN))
    out["ci_high"] = str(high.quantize(RATE, rounding=ROUND_HALF_EVEN))
    return out
