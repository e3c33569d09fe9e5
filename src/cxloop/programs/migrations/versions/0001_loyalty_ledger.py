"""The loyalty ledger: members, append-only entries, lots, lot consumption, idempotency.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Frozen: this file describes the schema as it was at revision 0001 and never changes; later
changes are new revisions. Constraints restate the ledger's rules in the database itself
(a balance and a lot never below zero, an entry reversed at most once, entries never updated
or deleted), so a bug or a hand-typed statement cannot break them either.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.DateTime(timezone=True)

_PG_APPEND_ONLY = """
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % refused (record a reversing entry)',
        TG_OP USING ERRCODE = 'restrict_violation';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("member_id", sa.Text, primary_key=True),
        sa.Column("profile_id", sa.Text, nullable=False),
        sa.Column("enrolled_at", _Time, nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("tier", sa.Text, nullable=False, server_default="member"),
        sa.Column("tier_since", _Time, nullable=False),
        sa.UniqueConstraint("profile_id", name="members_profile_id_key"),
        sa.CheckConstraint("balance >= 0", name="members_balance_not_negative"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.Text, sa.ForeignKey("members.member_id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source_type", sa.Text),
        sa.Column("source_id", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", _Time, nullable=False),
        sa.Column("reverses", sa.BigInteger, sa.ForeignKey("ledger_entries.id")),
        sa.Column("shortfall", sa.BigInteger, nullable=False, server_default="0"),
        sa.UniqueConstraint("reverses", name="ledger_entries_reversed_once"),
        sa.CheckConstraint(
            "kind IN ('earn', 'redeem', 'expire', 'adjust', 'reverse')",
            name="ledger_entries_kind",
        ),
        sa.CheckConstraint("points <> 0 OR kind = 'reverse'", name="ledger_entries_points"),
        sa.CheckConstraint("shortfall >= 0", name="ledger_entries_shortfall"),
        sa.CheckConstraint(
            "(kind = 'reverse') = (reverses IS NOT NULL)", name="ledger_entries_reverses"
        ),
    )
    op.create_index("ledger_entries_member", "ledger_entries", ["member_id", "id"])
    op.create_index("ledger_entries_source", "ledger_entries", ["source_type", "source_id"])
    op.create_table(
        "lots",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.Text, sa.ForeignKey("members.member_id"), nullable=False),
        sa.Column("entry_id", sa.BigInteger, sa.ForeignKey("ledger_entries.id"), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("earned_at", _Time, nullable=False),
        sa.Column("expires_at", _Time),
        sa.UniqueConstraint("entry_id", name="lots_entry_id_key"),
        sa.CheckConstraint("points > 0", name="lots_points_positive"),
        sa.CheckConstraint("remaining >= 0 AND remaining <= points", name="lots_remaining"),
    )
    op.create_index("lots_member", "lots", ["member_id", "expires_at"])
    op.create_index("lots_expiry", "lots", ["expires_at"])
    op.create_table(
        "lot_consumption",
        sa.Column("entry_id", sa.BigInteger, sa.ForeignKey("ledger_entries.id"), nullable=False),
        sa.Column("lot_id", sa.BigInteger, sa.ForeignKey("lots.id"), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "lot_id", name="lot_consumption_pkey"),
        sa.CheckConstraint("points <> 0", name="lot_consumption_points"),
    )
    op.create_index("lot_consumption_lot", "lot_consumption", ["lot_id"])
    op.create_table(
        "idempotency",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", _Time, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE "
            "ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
        )
        op.execute(
            "CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE "
            "ON ledger_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entries_no_{operation.lower()} BEFORE {operation} "
                "ON ledger_entries BEGIN SELECT RAISE(ABORT, "
                f"'ledger_entries is append-only: {operation} refused (record a reversing entry)'"
                "); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_no_truncate ON ledger_entries")
        op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION ledger_entries_append_only()")
    for table in ("idempotency", "lot_consumption", "lots", "ledger_entries", "members"):
        op.drop_table(table)
