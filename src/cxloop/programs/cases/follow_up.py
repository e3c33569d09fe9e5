"""Close the loop: when a case is resolved, the customer is invited to a follow-up survey.

Called inside the resolving transaction, so the case's resolution and the outbox message commit
together. Once per case (a reopened case resolved again is not surveyed twice: the decision is
unique in `action_log`), only when the profile may be contacted for marketing (`contactable`,
read conservatively at routing and again whenever customer records are loaded while the case
is open: cases/consent.py) and `[triggers] cap_messages` allows one more marketing contact;
otherwise the skipped follow-up is logged with its reason.
Quiet hours hold the message; they do not drop it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.loop_settings import CasesSettings, TriggersSettings
from cxloop.programs.closed_loop_tables import action_log
from cxloop.programs.outbox import enqueue
from cxloop.programs.triggers.timing import release_time, zone_of


def follow_up(
    conn: Connection,
    row: Any,
    now: datetime,
    settings: CasesSettings,
    triggers: TriggersSettings,
    timezone: str,
) -> dict[str, Any]:
    """Queue the close-the-loop survey (once per case), or log why it is skipped."""
    if not settings.follow_up:
        return {}
    subject = row["case_id"]
    done = conn.execute(
        sa.select(action_log.c.id).where(
            action_log.c.trigger == "case_follow_up", action_log.c.subject == subject
        )
    ).first()
    if done is not None:
        return {}  # a reopened case that is resolved again is not surveyed twice
    key = f"case_follow_up:{subject}"
    reason = None if row["contactable"] else "no marketing consent"
    if reason is None and row["profile_id"] is None:
        reason = "anonymous answer: no one to contact"
    if reason is None and _capped(conn, row["profile_id"], now, triggers):
        reason = "frequency cap"
    conn.execute(
        action_log.insert().values(
            trigger="case_follow_up",
            subject=subject,
            action="survey",
            profile_id=row["profile_id"],
            marketing=True,
            outcome="skipped" if reason else "sent",
            reason=reason,
            message_key=None if reason else key,
            decided_at=now,
        )
    )
    if reason:
        return {}
    customer_zone = row["timezone"] if triggers.quiet_hours_zone == "customer" else None
    zone = zone_of(customer_zone, timezone).key
    enqueue(
        conn,
        [
            {
                "message_key": key,
                "webhook": settings.follow_up_webhook,
                "topic": "survey_invitation",
                "not_before": release_time(now, triggers.quiet_window, zone, timezone),
                "zone": zone,  # quiet hours hold every later attempt too
                "payload": {
                    "reason": "case_follow_up",
                    "case_id": subject,
                    "profile_id": row["profile_id"],
                    "customer_ref": row["customer_ref"],
                    "metric": settings.follow_up_metric,
                    "touchpoint": row["touchpoint"],
                },
            }
        ],
        now=now,
    )
    return {"followed_up_at": now}


def _capped(conn: Connection, profile_id: str, now: datetime, triggers: TriggersSettings) -> bool:
    """The follow-up is a marketing contact: `[triggers] cap_messages` within `cap_days`
    applies to it like to any triggered action (held-out decisions count, as there)."""
    if triggers.cap_messages <= 0:
        return False
    recent = conn.execute(
        sa.select(sa.func.count())
        .select_from(action_log)
        .where(
            action_log.c.profile_id == profile_id,
            action_log.c.marketing.is_(True),
            action_log.c.outcome.in_(("sent", "holdout")),
            action_log.c.decided_at >= now - timedelta(days=triggers.cap_days),
        )
    ).scalar_one()
    return int(recent) >= triggers.cap_messages
