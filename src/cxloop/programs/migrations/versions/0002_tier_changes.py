"""Tier changes: every upgrade and downgrade of a member, with its date and the figure behind it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Frozen: this file describes the schema as it was at revision 0002 and never changes; later
changes are new revisions. `members.tier` and `tier_since` say where a member is now; this
table says how they got there, so a tier can be read as of any past date (the liability
report by tier) and a member can be shown when and why they moved. Like the ledger's entries
it is append-only: a wrong change is corrected by the next change, never by editing history.

`basis_value` is exact on both databases: NUMERIC on PostgreSQL, the decimal's text on SQLite
(which has no decimal type and would round through a float).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.DateTime(timezone=True)
_Exact = sa.Numeric(24, 4).with_variant(sa.Text(), "sqlite")

_PG_APPEND_ONLY = """
CREATE FUNCTION tier_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tier_changes is append-only: % refused (record a new change)',
        TG_OP USING ERRCODE = 'restrict_violation';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "tier_changes",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.Text, sa.ForeignKey("members.member_id"), nullable=False),
        sa.Column("from_tier", sa.Text, nullable=False),
        sa.Column("to_tier", sa.Text, nullable=False),
        sa.Column("changed_at", _Time, nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("basis_value", _Exact, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.UniqueConstraint("member_id", "changed_at", name="tier_changes_member_changed_at"),
        sa.CheckConstraint("from_tier <> to_tier", name="tier_changes_is_a_change"),
        sa.CheckConstraint("basis IN ('points', 'spend')", name="tier_changes_basis"),
    )
    op.create_index("tier_changes_changed_at", "tier_changes", ["changed_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER tier_changes_append_only BEFORE UPDATE OR DELETE "
            "ON tier_changes FOR EACH ROW EXECUTE FUNCTION tier_changes_append_only()"
        )
        op.execute(
            "CREATE TRIGGER tier_changes_no_truncate BEFORE TRUNCATE "
            "ON tier_changes FOR EACH STATEMENT EXECUTE FUNCTION tier_changes_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER tier_changes_no_{operation.lower()} BEFORE {operation} "
                "ON tier_changes BEGIN SELECT RAISE(ABORT, "
                f"'tier_changes is append-only: {operation} refused (record a new change)'"
                "); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER tier_changes_no_truncate ON tier_changes")
        op.execute("DROP TRIGGER tier_changes_append_only ON tier_changes")
        op.execute("DROP FUNCTION tier_changes_append_only()")
    op.drop_index("tier_changes_changed_at", table_name="tier_changes")
    op.drop_table("tier_changes")
