"""The advocacy program's tables as SQLAlchemy Core objects (migration 0101 creates them).

They share `cxloop.programs.tables.metadata`, so the schema test compares them with the
migrated database like the ledger's. Points never live here: every reward is a loyalty ledger
entry, and `advocacy_rewards` only remembers which entry paid which act.
"""

from __future__ import annotations

import sqlalchemy as sa

from cxloop.programs.tables import UtcDateTime, metadata

#: A referral conversion's states: held for the holding period, held for review (a fraud
#: check flagged it), rewarded, reversed (its order was returned after the reward), void (its
#: order was returned or cancelled before), rejected (an operator decided it was fraud).
CONVERSION_STATES = ("holding", "flagged", "rewarded", "reversed", "void", "rejected")

#: Exact decimals: NUMERIC on PostgreSQL, the decimal's text on SQLite (no float rounding).
Exact = sa.Numeric(18, 4).with_variant(sa.Text(), "sqlite")

advocates = sa.Table(
    "advocates",
    metadata,
    sa.Column("profile_id", sa.Text, primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_ask_at", UtcDateTime),
)

advocacy_asks = sa.Table(
    "advocacy_asks",
    metadata,
    sa.Column("ask_id", sa.Text, primary_key=True),
    sa.Column("profile_id", sa.Text, nullable=False),
    sa.Column("ask", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("completed_at", UtcDateTime),
    sa.Column("completion_ref", sa.Text),
    sa.UniqueConstraint("profile_id", "ask", "source", name="advocacy_asks_once"),
)

referral_codes = sa.Table(
    "referral_codes",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("profile_id", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

referral_conversions = sa.Table(
    "referral_conversions",
    metadata,
    sa.Column("conversion_id", sa.Text, primary_key=True),
    sa.Column("referrer_profile", sa.Text, nullable=False),
    sa.Column("referee_profile", sa.Text, nullable=False),
    sa.Column("code", sa.Text),
    sa.Column("referral_ref", sa.Text),
    sa.Column("amount", Exact, nullable=False),
    sa.Column("converted_at", UtcDateTime, nullable=False),
    sa.Column("eligible_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("flags", sa.Text, nullable=False, server_default=""),
    sa.Column("decided_by", sa.Text),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(
        "status IN ('holding', 'flagged', 'rewarded', 'reversed', 'void', 'rejected')",
        name="referral_conversions_status",
    ),
)

advocacy_rewards = sa.Table(
    "advocacy_rewards",
    metadata,
    sa.Column("act_key", sa.Text, primary_key=True),
    sa.Column("profile_id", sa.Text, nullable=False),
    sa.Column("act", sa.Text, nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("member_id", sa.Text, nullable=False),
    sa.Column("entry_id", sa.BigInteger, nullable=False),
    sa.Column("rewarded_at", UtcDateTime, nullable=False),
    sa.Column("reversal_entry_id", sa.BigInteger),
)

sa.Index("advocacy_asks_profile", advocacy_asks.c.profile_id, advocacy_asks.c.issued_at)
sa.Index("referral_conversions_status", referral_conversions.c.status,
         referral_conversions.c.eligible_at)  # fmt: skip
sa.Index("referral_conversions_referrer", referral_conversions.c.referrer_profile)
sa.Index("advocacy_rewards_profile", advocacy_rewards.c.profile_id)
