"""Cases, triggered actions and the outbox: the closed loop's transactional tables.

Revision ID: 0201
Revises: 0002
Create Date: 2026-11-23

Frozen: this file describes the schema as it was at revision 0201 and never changes; later
changes are new revisions. The constraints restate the rules in the database itself:

- `cases.feedback_key` is unique: a feedback answer opens at most one case, whoever races.
- `case_events` is the case's history (who did what when); append-only like the ledger.
- `action_log` has one row per (trigger, subject): a trigger decides once per source record
  (or per profile and period for segment and schedule triggers), so re-ingesting, or two
  evaluations racing, never acts twice; skipped decisions keep their reason there.
- `outbox.message_key` is the idempotency key a receiver sees; it is unique, so a message
  written twice (a retried transaction) is one message.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0201"
down_revision = "0002"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.DateTime(timezone=True)

_STATUSES = "'open', 'assigned', 'in_progress', 'resolved', 'closed'"


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("feedback_key", sa.Text, nullable=False),
        sa.Column("profile_id", sa.Text),
        sa.Column("customer_ref", sa.Text),
        sa.Column("team", sa.Text, nullable=False),
        sa.Column("assignee", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("metric", sa.Text),
        sa.Column("score", sa.Float),
        sa.Column("touchpoint", sa.Text),
        sa.Column("themes", sa.Text, nullable=False, server_default=""),
        sa.Column("answered_at", _Time),
        sa.Column("contactable", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("timezone", sa.Text),
        sa.Column("opened_at", _Time, nullable=False),
        sa.Column("first_response_due", _Time, nullable=False),
        sa.Column("resolution_due", _Time, nullable=False),
        sa.Column("first_response_at", _Time),
        sa.Column("resolved_at", _Time),
        sa.Column("closed_at", _Time),
        sa.Column("resolution_code", sa.Text),
        sa.Column("followed_up_at", _Time),
        sa.Column("reopened", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", _Time, nullable=False),
        sa.UniqueConstraint("feedback_key", name="cases_feedback_key"),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name="cases_status"),
    )
    op.create_index("cases_team_status", "cases", ["team", "status"])
    op.create_index("cases_profile", "cases", ["profile_id", "opened_at"])
    op.create_table(
        "case_events",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Text, sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text),
        sa.Column("assignee", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", _Time, nullable=False),
    )
    op.create_index("case_events_case", "case_events", ["case_id", "id"])
    op.create_table(
        "action_log",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("profile_id", sa.Text),
        sa.Column("marketing", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("message_key", sa.Text),
        sa.Column("decided_at", _Time, nullable=False),
        sa.UniqueConstraint("trigger", "subject", name="action_log_trigger_subject"),
        sa.CheckConstraint("outcome IN ('sent', 'skipped', 'holdout')", name="action_log_outcome"),
    )
    op.create_index("action_log_profile", "action_log", ["profile_id", "decided_at"])
    op.create_table(
        "segment_members",
        sa.Column("trigger", sa.Text, primary_key=True),
        sa.Column("profile_id", sa.Text, primary_key=True),
        sa.Column("since", _Time, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("message_key", sa.Text, nullable=False),
        sa.Column("webhook", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _Time, nullable=False),
        sa.Column("claimed_until", _Time),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", _Time, nullable=False),
        sa.Column("delivered_at", _Time),
        sa.UniqueConstraint("message_key", name="outbox_message_key"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="outbox_status"),
    )
    op.create_index("outbox_due", "outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("segment_members")
    op.drop_index("action_log_profile", table_name="action_log")
    op.drop_table("action_log")
    op.drop_index("case_events_case", table_name="case_events")
    op.drop_table("case_events")
    op.drop_index("cases_profile", table_name="cases")
    op.drop_index("cases_team_status", table_name="cases")
    op.drop_table("cases")
