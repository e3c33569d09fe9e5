"""Tiers: each member's tier from what they earned or spent in a rolling window, as of a date.

Why a rolling window: a tier is a status the member keeps by staying active (the airline
model: "earn 5,000 qualifying points in 12 months"), so it is re-evaluated on a date over the
`tier_window_months` calendar months before it, and a member who stops buying moves down.

**What qualifies** (the basis, `[loyalty] tier_basis`):

- `points`: the points of the member's `earn` entries whose lot was earned in the window.
  Adjustments (an operator's correction or goodwill) do not qualify; neither does an earn
  that has been reversed (a returned or cancelled order), whatever part of it was spent.
  Earned points include the tier multiplier, so a higher tier requalifies faster; `spend`
  is the basis free of that effect.
- `spend`: the amount of the orders behind those same earn entries (`source_type` "order").
  The ledger records points, not money, so the amounts are looked up in the warehouse's
  `orders` by the earn's source id (`"<source>:<order_id>"` from the sync, or a bare order
  id; `warehouse_order_amounts`). Spend is therefore the spend that earned points: orders
  placed before enrolment, or not yet synced, do not count, and a returned order stops
  counting when its earn is reversed (the ledger says whether an order counts, not the
  order's current status, so the spend as of a date does not change afterwards).

**As of a date.** The window is `(as_of - tier_window_months, as_of]` on the lot's
`earned_at`, and only entries recorded by `as_of` count (an earn recorded later, even
back-dated into the window, and a reversal recorded later are ignored). So the tier as of a
date depends only on what the ledger held at that date, and re-running the same date changes
nothing. A future `as_of` is refused: entries may still arrive for it.

**Changes.** A member whose tier differs from the one computed moves on `as_of`:
`members.tier` and `tier_since` are updated and a row is appended to `tier_changes` (from, to,
`changed_at = as_of`, the basis and its value), both in one transaction under the member's
lock. A member whose tier changed after `as_of` (a later run, or an operator) is left alone
and counted as `skipped`: history is never rewritten out of order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from cxloop.config import LoyaltySettings, TierLevel
from cxloop.programs.errors import ProgramError
from cxloop.programs.loyalty.ledger import Ledger, add_months
from cxloop.programs.store import ProgramStore, retrying
from cxloop.programs.tables import BigId, UtcDateTime, ledger_entries, lots, members, metadata

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

BASES = ("points", "spend")
#: Members whose tier changes, per write transaction: amortises the commit, keeps each
#: member's lock short (a redemption waits at most for one batch).
BATCH_MEMBERS = 200
#: The actor recorded on changes made by the tier job.
TIER_ACTOR = "cxloop loyalty tiers"


class ExactDecimal(sa.types.TypeDecorator[Decimal]):
    """A decimal that round-trips exactly on both databases.

    PostgreSQL stores NUMERIC; SQLite has no decimal type (SQLAlchemy would go through a
    float), so there the value is stored as its text.
    """

    impl = sa.Numeric(24, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(24, 4))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


#: Mirrors migration 0002 (tests compare the two).
tier_changes = sa.Table(
    "tier_changes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("member_id", sa.Text, sa.ForeignKey("members.member_id"), nullable=False),
    sa.Column("from_tier", sa.Text, nullable=False),
    sa.Column("to_tier", sa.Text, nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),
    sa.Column("basis", sa.Text, nullable=False),
    sa.Column("basis_value", ExactDecimal, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    # A member moves at most once at a given moment (a second run finds them moved).
    sa.UniqueConstraint("member_id", "changed_at", name="tier_changes_member_changed_at"),
)
# Changes by date (who moved this month).
sa.Index("tier_changes_changed_at", tier_changes.c.changed_at)


def ladder_of(settings: LoyaltySettings) -> tuple[TierLevel, ...]:
    """The settings' tiers, lowest threshold first (the config checked them on load)."""
    ladder = tuple(sorted(settings.tier_levels, key=lambda t: t.threshold))
    if not ladder or ladder[0].threshold != 0:
        raise ProgramError("[loyalty] tiers: the lowest tier must have threshold 0")
    return ladder


def tier_for(value: Decimal | int, ladder: Sequence[TierLevel]) -> str:
    """The highest tier whose threshold `value` reaches (the lowest tier when none)."""
    reached = [t for t in ladder if value >= t.threshold]
    return (reached[-1] if reached else min(ladder, key=lambda t: t.threshold)).name


# -- reports ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TierChange:
    """One member moving from one tier to another on `changed_at`."""

    member_id: str
    from_tier: str
    to_tier: str
    changed_at: datetime
    basis: str
    basis_value: Decimal
    direction: str  # "upgrade" or "downgrade"

    def to_dict(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "from_tier": self.from_tier,
            "to_tier": self.to_tier,
            "changed_at": self.changed_at.isoformat(),
            "basis": self.basis,
            # Points are whole numbers; money is exact decimal text, never a float.
            "basis_value": int(self.basis_value)
            if self.basis == "points"
            else str(self.basis_value),
            "direction": self.direction,
        }


@dataclass(frozen=True)
class TierReport:
    """What one tier run found and did, as of one date."""

    as_of: datetime
    basis: str
    window_months: int
    window_start: datetime
    members: int = 0
    unchanged: int = 0
    skipped: int = 0
    upgrades: tuple[TierChange, ...] = ()
    downgrades: tuple[TierChange, ...] = ()
    by_tier: dict[str, int] = field(default_factory=dict)

    @property
    def changes(self) -> tuple[TierChange, ...]:
        return self.upgrades + self.downgrades

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "basis": self.basis,
            "window_months": self.window_months,
            "window_start": self.window_start.isoformat(),
            "members": self.members,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "upgraded": len(self.upgrades),
            "downgraded": len(self.downgrades),
            "by_tier": dict(self.by_tier),
            "changes": [c.to_dict() for c in self.changes],
        }


# -- the qualifying figures ---------------------------------------------------------------
OrderAmounts = Callable[[Sequence[str]], Mapping[str, Decimal]]


def _qualifying_earns(as_of: datetime, window_start: datetime) -> sa.Select[Any]:
    """Earn entries that qualify as of `as_of`: lot earned in the window, recorded by then,
    not reversed by then."""
    reversal = sa.alias(ledger_entries, "reversal")
    reversed_by_then = sa.exists().where(
        reversal.c.reverses == ledger_entries.c.id, reversal.c.created_at <= as_of
    )
    return (
        sa.select(
            ledger_entries.c.member_id,
            ledger_entries.c.points,
            ledger_entries.c.source_type,
            ledger_entries.c.source_id,
        )
        .join(lots, lots.c.entry_id == ledger_entries.c.id)
        .where(
            ledger_entries.c.kind == "earn",
            ledger_entries.c.created_at <= as_of,
            lots.c.earned_at > window_start,
            lots.c.earned_at <= as_of,
            ~reversed_by_then,
        )
    )


def qualifying_values(
    conn: Connection,
    basis: str,
    as_of: datetime,
    window_start: datetime,
    *,
    order_amounts: OrderAmounts | None = None,
) -> dict[str, Decimal]:
    """Each member's qualifying points or spend in the window (members with none left out)."""
    earns = _qualifying_earns(as_of, window_start).subquery()
    if basis == "points":
        rows = conn.execute(
            sa.select(earns.c.member_id, sa.func.sum(earns.c.points)).group_by(earns.c.member_id)
        ).all()
        return {member: Decimal(int(points)) for member, points in rows}
    if order_amounts is None:
        raise ProgramError(
            "tier_basis = spend needs the orders' amounts (from the workspace's warehouse)"
        )
    rows = conn.execute(
        sa.select(earns.c.member_id, earns.c.source_id).where(
            earns.c.source_type == "order", earns.c.source_id.is_not(None)
        )
    ).all()
    amounts = order_amounts(sorted({source_id for _, source_id in rows}))
    spend: dict[str, Decimal] = {}
    # One order earns once; count its amount once per member even if two earns name it.
    for member, source_id in set(rows):
        amount = amounts.get(source_id)
        if amount is not None:
            spend[member] = spend.get(member, Decimal(0)) + Decimal(amount)
    return spend


def warehouse_order_amounts(ws: Workspace) -> OrderAmounts:
    """Look up orders' amounts in the workspace's warehouse by the earn's `source_id`.

    The warehouse sync names an order `"<source>:<order_id>"`; an earn made through the API
    may name the bare order id, which is then looked up in every source (the largest amount
    if two sources hold it: counting both would double a member's spend). The order's
    status is not read: whether it still counts is the ledger's to say (a returned order's
    earn is reversed), as of the date of the tiers.
    """

    def lookup(source_ids: Sequence[str]) -> Mapping[str, Decimal]:
        if not source_ids:
            return {}
        rows = ws.engine.fetchall(
            "WITH wanted AS (SELECT DISTINCT unnest(CAST($ids AS VARCHAR[])) AS key), "
            "named AS (SELECT source || ':' || order_id AS key, amount FROM orders "
            "UNION ALL SELECT order_id, amount FROM orders) "
            "SELECT n.key, max(n.amount) FROM named n JOIN wanted w ON w.key = n.key "
            "GROUP BY n.key",
            {"ids": list(source_ids)},
        )
        return {str(key): Decimal(str(amount)) for key, amount in rows}

    return lookup


# -- the run ------------------------------------------------------------------------------
def assign_tiers(
    ledger: Ledger,
    settings: LoyaltySettings,
    as_of: datetime,
    *,
    actor: str = TIER_ACTOR,
    order_amounts: OrderAmounts | None = None,
) -> TierReport:
    """Evaluate every member enrolled by `as_of` and record each upgrade and downgrade.

    Idempotent: a second run for the same `as_of` finds every tier already right. With
    `tier_basis = "spend"`, `order_amounts` gives order amounts by order id
    (`warehouse_order_amounts(ws)`).
    """
    ladder = ladder_of(settings)
    basis = settings.tier_basis
    if basis not in BASES:
        raise ProgramError(f"[loyalty] tier_basis must be points or spend (got {basis!r})")
    months = settings.tier_window_months
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ProgramError("[loyalty] tier_window_months must be a whole number >= 1")
    as_of = _aware(as_of)
    now = ledger.clock().astimezone(UTC)
    if as_of > now:
        raise ProgramError(
            f"tiers cannot be assigned as of {as_of.isoformat()}: it is in the future "
            "(entries may still arrive for it)"
        )
    window_start = add_months(as_of, -months)
    store = ledger.store
    rank = {t.name: i for i, t in enumerate(ladder)}

    with store.read() as conn:
        values = qualifying_values(conn, basis, as_of, window_start, order_amounts=order_amounts)
        current = conn.execute(
            sa.select(members.c.member_id, members.c.tier, members.c.tier_since)
            .where(members.c.enrolled_at <= as_of)
            .order_by(members.c.member_id)
        ).all()

    by_tier: dict[str, int] = {t.name: 0 for t in ladder}
    pending: list[tuple[str, str, Decimal]] = []  # (member, target tier, basis value)
    unchanged = skipped = 0
    for member_id, tier, tier_since in current:
        value = values.get(member_id, Decimal(0))
        target = tier_for(value, ladder)
        if target == tier:
            unchanged += 1
            by_tier[tier] = by_tier.get(tier, 0) + 1
        elif tier_since > as_of:
            skipped += 1
            by_tier[tier] = by_tier.get(tier, 0) + 1
        else:
            pending.append((member_id, target, value))

    changes: list[TierChange] = []
    for start in range(0, len(pending), BATCH_MEMBERS):
        batch = pending[start : start + BATCH_MEMBERS]

        def transaction(
            batch: list[tuple[str, str, Decimal]] = batch,
        ) -> tuple[list[TierChange], list[str]]:
            with store.write() as conn:
                return _apply_batch(conn, batch, as_of, basis, actor, rank)

        done, left_alone = retrying(transaction)
        changes.extend(done)
        for change in done:
            by_tier[change.to_tier] = by_tier.get(change.to_tier, 0) + 1
        skipped += len(left_alone)
        # A member changed by a concurrent run or an operator: count them where they are now.
        if left_alone:
            with store.read() as conn:
                for (tier,) in conn.execute(
                    sa.select(members.c.tier).where(members.c.member_id.in_(left_alone))
                ):
                    by_tier[tier] = by_tier.get(tier, 0) + 1

    return TierReport(
        as_of=as_of,
        basis=basis,
        window_months=months,
        window_start=window_start,
        members=len(current),
        unchanged=unchanged,
        skipped=skipped,
        upgrades=tuple(c for c in changes if c.direction == "upgrade"),
        downgrades=tuple(c for c in changes if c.direction == "downgrade"),
        by_tier=by_tier,
    )


def _apply_batch(
    conn: Connection,
    batch: list[tuple[str, str, Decimal]],
    as_of: datetime,
    basis: str,
    actor: str,
    rank: dict[str, int],
) -> tuple[list[TierChange], list[str]]:
    """Move a batch of members to their tiers: (changes made, members left alone).

    Members are locked in member-id order (as the expiry job does), then re-read: a member
    another transaction moved meanwhile is left alone, so two runs never both record a move.
    """
    ids = [member_id for member_id, _, _ in batch]
    rows = conn.execute(
        sa.select(members.c.member_id, members.c.tier, members.c.tier_since)
        .where(members.c.member_id.in_(ids))
        .order_by(members.c.member_id)
        .with_for_update()
    ).all()
    now = {member_id: (tier, since) for member_id, tier, since in rows}
    changes: list[TierChange] = []
    left_alone: list[str] = []
    for member_id, target, value in batch:
        tier, since = now[member_id]
        if tier == target or since > as_of:
            left_alone.append(member_id)
            continue
        # A tier that is no longer on the ladder ranks below every tier that is.
        direction = "upgrade" if rank[target] > rank.get(tier, -1) else "downgrade"
        changes.append(TierChange(member_id, tier, target, as_of, basis, value, direction))
    if changes:
        conn.execute(
            sa.update(members)
            .where(members.c.member_id == sa.bindparam("b_member"))
            .values(tier=sa.bindparam("b_tier"), tier_since=sa.bindparam("b_since")),
            [{"b_member": c.member_id, "b_tier": c.to_tier, "b_since": as_of} for c in changes],
        )
        conn.execute(
            sa.insert(tier_changes),
            [
                {
                    "member_id": c.member_id,
                    "from_tier": c.from_tier,
                    "to_tier": c.to_tier,
                    "changed_at": c.changed_at,
                    "basis": c.basis,
                    "basis_value": c.basis_value,
                    "actor": actor,
                }
                for c in changes
            ],
        )
    return changes, left_alone


# -- history ------------------------------------------------------------------------------
def tier_history(store: ProgramStore, member_id: str) -> list[TierChange]:
    """A member's recorded tier changes, oldest first."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(tier_changes)
            .where(tier_changes.c.member_id == member_id)
            .order_by(tier_changes.c.changed_at, tier_changes.c.id)
        ).all()
    return [
        TierChange(
            r.member_id,
            r.from_tier,
            r.to_tier,
            r.changed_at,
            r.basis,
            r.basis_value,
            "change",
        )
        for r in rows
    ]


def tier_as_of(as_of: datetime) -> sa.ColumnElement[str]:
    """SQL: the tier `members` row held as of `as_of`, read back through `tier_changes`.

    The last change on or before `as_of` gives it; without one, the tier the first later
    change moved from; without any change, the member's current tier.
    """
    before = (
        sa.select(tier_changes.c.to_tier)
        .where(tier_changes.c.member_id == members.c.member_id, tier_changes.c.changed_at <= as_of)
        .order_by(tier_changes.c.changed_at.desc(), tier_changes.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    after = (
        sa.select(tier_changes.c.from_tier)
        .where(tier_changes.c.member_id == members.c.member_id, tier_changes.c.changed_at > as_of)
        .order_by(tier_changes.c.changed_at, tier_changes.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return sa.func.coalesce(before, after, members.c.tier)


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ProgramError("as_of must be a timezone-aware date and time")
    return moment.astimezone(UTC)
