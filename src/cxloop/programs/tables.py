"""The programs' tables as SQLAlchemy Core objects: what the code queries.

The schema itself is created by the Alembic migrations in `migrations/versions/`; these
objects mirror it (a test compares the two), so queries are built from typed columns and
bound parameters, never from strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

#: The entry kinds. `points` is signed: earn and adjust-up add, the others take away, except
#: a reversal of a redemption (or of a debit), which gives the points back.
ENTRY_KINDS = ("earn", "redeem", "expire", "adjust", "reverse")

# SQLite only autoincrements an INTEGER PRIMARY KEY (64-bit there anyway).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both dialects.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so the value is stored as naive
    UTC text in one fixed format (microseconds always written), which keeps string order equal
    to time order. Naive datetimes are refused: a wall-clock time without an offset is
    ambiguous, and a ledger must not guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: programs store timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a raw SQLite value read outside the column type
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = sa.MetaData()

members = sa.Table(
    "members",
    metadata,
    sa.Column("member_id", sa.Text, primary_key=True),
    sa.Column("profile_id", sa.Text, nullable=False, unique=True),
    sa.Column("enrolled_at", UtcDateTime, nullable=False),
    sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("tier", sa.Text, nullable=False, server_default="member"),
    sa.Column("tier_since", UtcDateTime, nullable=False),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("member_id", sa.Text, sa.ForeignKey("members.member_id"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("source_type", sa.Text),
    sa.Column("source_id", sa.Text),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("reverses", sa.BigInteger, sa.ForeignKey("ledger_entries.id"), unique=True),
    sa.Column("shortfall", sa.BigInteger, nullable=False, server_default="0"),
)

lots = sa.Table(
    "lots",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("member_id", sa.Text, sa.ForeignKey("members.member_id"), nullable=False),
    sa.Column(
        "entry_id", sa.BigInteger, sa.ForeignKey("ledger_entries.id"), nullable=False, unique=True
    ),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("remaining", sa.BigInteger, nullable=False),
    sa.Column("earned_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime),
)

lot_consumption = sa.Table(
    "lot_consumption",
    metadata,
    sa.Column("entry_id", sa.BigInteger, sa.ForeignKey("ledger_entries.id"), primary_key=True),
    sa.Column("lot_id", sa.BigInteger, sa.ForeignKey("lots.id"), primary_key=True),
    sa.Column("points", sa.BigInteger, nullable=False),
)

idempotency = sa.Table(
    "idempotency",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# The indexes migration 0001 creates: a member's statement, entries by source (an order's
# points), a member's lots in spending order, the expiry job's scan, a lot's draws.
sa.Index("ledger_entries_member", ledger_entries.c.member_id, ledger_entries.c.id)
sa.Index("ledger_entries_source", ledger_entries.c.source_type, ledger_entries.c.source_id)
sa.Index("lots_member", lots.c.member_id, lots.c.expires_at)
sa.Index("lots_expiry", lots.c.expires_at)
sa.Index("lot_consumption_lot", lot_consumption.c.lot_id)
