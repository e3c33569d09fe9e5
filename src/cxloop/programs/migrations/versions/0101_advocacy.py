"""The advocacy program: advocates, asks, referral codes, conversions and rewards.

Revision ID: 0101
Revises: 0002
Create Date: 2026-11-23

Frozen: this file describes the schema as it was at revision 0101 and never changes. The
advocacy program keeps its own branch of migrations (label `advocacy`) from the loyalty head.
Points are not stored here: `advocacy_rewards` names the ledger entry that paid each act.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0101"
down_revision = "0002"
branch_labels = ("advocacy",)
depends_on = None

_Time = sa.DateTime(timezone=True)
_Exact = sa.Numeric(18, 4).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "advocates",
        sa.Column("profile_id", sa.Text, primary_key=True),
        sa.Column("created_at", _Time, nullable=False),
        sa.Column("last_ask_at", _Time),
    )
    op.create_table(
        "advocacy_asks",
        sa.Column("ask_id", sa.Text, primary_key=True),
        sa.Column("profile_id", sa.Text, nullable=False),
        sa.Column("ask", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("issued_at", _Time, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("completed_at", _Time),
        sa.Column("completion_ref", sa.Text),
        sa.UniqueConstraint("profile_id", "ask", "source", name="advocacy_asks_once"),
    )
    op.create_index("advocacy_asks_profile", "advocacy_asks", ["profile_id", "issued_at"])
    op.create_table(
        "referral_codes",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("profile_id", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", _Time, nullable=False),
    )
    op.create_table(
        "referral_conversions",
        sa.Column("conversion_id", sa.Text, primary_key=True),
        sa.Column("referrer_profile", sa.Text, nullable=False),
        sa.Column("referee_profile", sa.Text, nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("referral_ref", sa.Text),
        sa.Column("amount", _Exact, nullable=False),
        sa.Column("converted_at", _Time, nullable=False),
        sa.Column("eligible_at", _Time, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("flags", sa.Text, nullable=False, server_default=""),
        sa.Column("decided_by", sa.Text),
        sa.Column("updated_at", _Time, nullable=False),
        sa.CheckConstraint(
            "status IN ('holding', 'flagged', 'rewarded', 'reversed', 'void', 'rejected')",
            name="referral_conversions_status",
        ),
    )
    op.create_index(
        "referral_conversions_status", "referral_conversions", ["status", "eligible_at"]
    )
    op.create_index("referral_conversions_referrer", "referral_conversions", ["referrer_profile"])
    op.create_table(
        "advocacy_rewards",
        sa.Column("act_key", sa.Text, primary_key=True),
        sa.Column("profile_id", sa.Text, nullable=False),
        sa.Column("act", sa.Text, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("member_id", sa.Text, nullable=False),
        sa.Column("entry_id", sa.BigInteger, nullable=False),
        sa.Column("rewarded_at", _Time, nullable=False),
        sa.Column("reversal_entry_id", sa.BigInteger),
    )
    op.create_index("advocacy_rewards_profile", "advocacy_rewards", ["profile_id"])


def downgrade() -> None:
    op.drop_index("advocacy_rewards_profile", table_name="advocacy_rewards")
    op.drop_table("advocacy_rewards")
    op.drop_index("referral_conversions_referrer", table_name="referral_conversions")
    op.drop_index("referral_conversions_status", table_name="referral_conversions")
    op.drop_table("referral_conversions")
    op.drop_table("referral_codes")
    op.drop_index("advocacy_asks_profile", table_name="advocacy_asks")
    op.drop_table("advocacy_asks")
    op.drop_table("advocates")
