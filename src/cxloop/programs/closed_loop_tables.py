"""The closed loop's tables (migrations 0201, 0202) as SQLAlchemy Core objects: cases, their
history, the triggered actions' decision log, segment snapshots and the outbox.

They join the programs' shared `metadata`, so the schema comparison test holds them to the
migration like the ledger's tables.
"""

from __future__ import annotations

import sqlalchemy as sa

from cxloop.programs.tables import BigId, UtcDateTime, metadata

cases = sa.Table(
    "cases",
    metadata,
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
    sa.Column("answered_at", UtcDateTime),
    sa.Column("contactable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("timezone", sa.Text),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("first_response_due", UtcDateTime, nullable=False),
    sa.Column("resolution_due", UtcDateTime, nullable=False),
    sa.Column("first_response_at", UtcDateTime),
    sa.Column("resolved_at", UtcDateTime),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("resolution_code", sa.Text),
    sa.Column("followed_up_at", UtcDateTime),
    sa.Column("reopened", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("feedback_key", name="cases_feedback_key"),
)

case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Text, sa.ForeignKey("cases.case_id"), nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("from_status", sa.Text),
    sa.Column("to_status", sa.Text),
    sa.Column("assignee", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
)

action_log = sa.Table(
    "action_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("profile_id", sa.Text),
    sa.Column("marketing", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("message_key", sa.Text),
    sa.Column("decided_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("trigger", "subject", name="action_log_trigger_subject"),
)

segment_members = sa.Table(
    "segment_members",
    metadata,
    sa.Column("trigger", sa.Text, primary_key=True),
    sa.Column("profile_id", sa.Text, primary_key=True),
    sa.Column("since", UtcDateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_key", sa.Text, nullable=False),
    sa.Column("webhook", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("claimed_until", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime),
    # Migration 0202: the current claim's token, and the zone whose quiet hours hold it.
    sa.Column("claim_token", sa.Text),
    sa.Column("zone", sa.Text),
    sa.UniqueConstraint("message_key", name="outbox_message_key"),
)

sa.Index("cases_team_status", cases.c.team, cases.c.status)
sa.Index("cases_profile", cases.c.profile_id, cases.c.opened_at)
sa.Index("case_events_case", case_events.c.case_id, case_events.c.id)
sa.Index("action_log_profile", action_log.c.profile_id, action_log.c.decided_at)
sa.Index("outbox_due", outbox.c.status, outbox.c.next_attempt_at)
