"""Acting on decisions: one store transaction writes every decision (`action_log`, skipped ones
with their reason) and the outbox messages of the actions sent, so a decision and its message
commit together; points go through the loyalty ledger with an idempotency key first.

Action by action (docs/triggers.md#actions):

- `survey METRIC`, `winback_offer`, `webhook NAME`: an outbox message (topic = the action) to
  the "default" webhook, or to NAME;
- `review_request`: an outbox message to "default" (topic review_request);
- `points N`: `Ledger.earn` for the profile's member, key `trigger:{trigger}:{subject}`
  (earned before the decision is logged: a crash in between earns once when run again; a
  refusal of the ledger is that decision's skip reason, not the batch's failure);
- `case TEAM`: a case for TEAM (normal priority), keyed by the subject.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from cxloop.loop_settings import CasesSettings, TriggersSettings
from cxloop.programs.cases.lifecycle import Cases
from cxloop.programs.cases.routing import CaseDraft
from cxloop.programs.closed_loop_tables import action_log, cases
from cxloop.programs.errors import ProgramError, StoreUnavailable
from cxloop.programs.outbox import enqueue, insert_ignoring_duplicates
from cxloop.programs.store import ProgramStore, retrying
from cxloop.programs.tables import members
from cxloop.programs.triggers.evaluate import Decision, StoreState
from cxloop.programs.triggers.timing import release_time, zone_of


def read_state(
    store: ProgramStore, subjects: Sequence[str], settings: TriggersSettings, now: datetime
) -> StoreState:
    """Decisions already made about these subjects (the candidates' rows), marketing sends
    within the cap window (held-out decisions count as sent: a held-out profile is capped as
    it would have been had it been sent, so the two groups stay alike), complaints within the
    suppression window, and loyalty members.

    Decisions are looked up by subject, in chunks, so the cost follows the new rows, not the
    size of the decision log."""
    since_cap = now - timedelta(days=settings.cap_days)
    since_complaint = now - timedelta(days=settings.complaint_suppression_days)
    with store.read() as conn:
        decided = []
        for start in range(0, len(subjects), 1000):
            chunk = list(subjects[start : start + 1000])
            decided += conn.execute(
                sa.select(action_log.c.trigger, action_log.c.subject).where(
                    action_log.c.subject.in_(chunk)
                )
            ).all()
        sends = conn.execute(
            sa.select(action_log.c.profile_id, sa.func.count())
            .where(
                action_log.c.outcome.in_(("sent", "holdout")),
                action_log.c.marketing.is_(True),
                action_log.c.decided_at >= since_cap,
                action_log.c.profile_id.is_not(None),
            )
            .group_by(action_log.c.profile_id)
        ).all()
        # The complaint's time is the answer's (a case about an old answer loaded late is
        # an old complaint); a case opened by a trigger has no answer: its opening time.
        complained_at = sa.func.coalesce(cases.c.answered_at, cases.c.opened_at)
        complaints = (
            conn.execute(
                sa.select(cases.c.profile_id)
                .where(complained_at >= since_complaint, cases.c.profile_id.is_not(None))
                .distinct()
            )
            .scalars()
            .all()
        )
        member_rows = conn.execute(sa.select(members.c.profile_id, members.c.member_id)).all()
    return StoreState(
        decided=pa.table(
            {
                "trigger": pa.array([r[0] for r in decided], pa.string()),
                "subject": pa.array([r[1] for r in decided], pa.string()),
            }
        ),
        recent_sends=pa.table(
            {
                "profile_id": pa.array([r[0] for r in sends], pa.string()),
                "n": pa.array([int(r[1]) for r in sends], pa.int64()),
            }
        ),
        complaints=pa.table({"profile_id": pa.array(list(complaints), pa.string())}),
        members=pa.table(
            {
                "profile_id": pa.array([r[0] for r in member_rows], pa.string()),
                "member_id": pa.array([r[1] for r in member_rows], pa.string()),
            }
        ),
    )


def act(
    store: ProgramStore,
    decisions: Sequence[Decision],
    settings: TriggersSettings,
    cases_settings: CasesSettings,
    *,
    now: datetime,
    timezone: str,
    expiry_months: int | None = None,
) -> dict[str, Any]:
    """Carry out and record the decisions; returns counts by outcome, action and reason."""
    sent = [d for d in decisions if d.outcome == "sent"]
    earned, refused = _award_points(
        [d for d in sent if d.action == "points"], store, now, expiry_months
    )
    if refused:  # logged as skipped with the ledger's reason; the other decisions go on
        decisions = [
            replace(d, outcome="skipped", reason=refused[(d.trigger, d.subject)])
            if (d.trigger, d.subject) in refused
            else d
            for d in decisions
        ]
        sent = [d for d in decisions if d.outcome == "sent"]
    drafts = [
        CaseDraft(
            feedback_key=d.subject,
            profile_id=d.profile_id,
            customer_ref=None,
            team=d.argument or cases_settings.relational_team,
            priority="normal",
            rule=f"trigger {d.trigger}",
            metric=None,
            score=None,
            touchpoint=None,
            themes=(),
            answered_at=None,
            contactable=False,
            timezone=d.timezone,
        )
        for d in sent
        if d.action == "case"
    ]
    opened = 0
    if drafts:
        opened = Cases(
            store, cases_settings, settings, timezone=timezone, clock=lambda: now
        ).open_many(drafts, actor="triggers")
    window = settings.quiet_window
    customer_zone = settings.quiet_hours_zone == "customer"
    log_rows, messages = [], []
    for d in decisions:
        key = f"{d.trigger}:{d.subject}"
        outbound = d.outcome == "sent" and d.action not in ("points", "case")
        log_rows.append(
            {
                "trigger": d.trigger,
                "subject": d.subject,
                "action": d.action,
                "profile_id": d.profile_id,
                "marketing": bool(d.marketing),
                "outcome": d.outcome,
                "reason": d.reason,
                "message_key": key if outbound else None,
                "decided_at": now,
            }
        )
        if outbound:
            zone = zone_of(d.timezone if customer_zone else None, timezone).key
            messages.append(
                {
                    "message_key": key,
                    "webhook": d.argument if d.action == "webhook" else "default",
                    "topic": "survey_invitation" if d.action == "survey" else d.action,
                    "not_before": release_time(now, window, zone, timezone),
                    "zone": zone,  # quiet hours hold every later attempt too
                    "payload": {
                        "trigger": d.trigger,
                        "action": d.action,
                        "argument": d.argument,
                        "subject": d.subject,
                        "profile_id": d.profile_id,
                        "decided_at": now.isoformat(),
                    },
                }
            )

    def transaction() -> None:
        with store.write() as conn:
            insert_ignoring_duplicates(conn, action_log, log_rows)
            enqueue(conn, messages, now=now)

    if log_rows:
        retrying(transaction)
    outcomes = Counter(d.outcome for d in decisions)
    reasons = Counter(d.reason for d in decisions if d.outcome == "skipped")
    return {
        "decisions": len(decisions),
        "sent": outcomes.get("sent", 0),
        "skipped": outcomes.get("skipped", 0),
        "holdout": outcomes.get("holdout", 0),
        "messages": len(messages),
        "points_awarded": earned,
        "cases_opened_by_triggers": opened,
        "skipped_by_reason": dict(sorted((str(k), v) for k, v in reasons.items())),
    }


def _award_points(
    decisions: Sequence[Decision], store: ProgramStore, now: datetime, expiry_months: int | None
) -> tuple[int, dict[tuple[str, str], str]]:
    """Earn each decision's points; returns the points earned and, per (trigger, subject),
    why the ledger refused one (the member was erased or closed meanwhile, ...).

    One refusal must not abort the batch: the other decisions, their log rows and messages
    still commit, and the refused one is logged as skipped with its reason (a backlog retry
    would otherwise fail on it forever). A store that cannot be reached still raises: the
    rows stay queued and are offered again."""
    refused: dict[tuple[str, str], str] = {}
    if not decisions:
        return 0, refused
    from cxloop.programs.loyalty.ledger import Ledger

    ledger = Ledger(store, expiry_months=expiry_months)
    total = 0
    for d in decisions:
        points = int(d.argument or 0)
        try:
            ledger.earn(
                str(d.member_id),
                points,
                reason=f"trigger {d.trigger}",
                source_type="trigger",
                source_id=d.subject,
                actor="triggers",
                idempotency_key=f"trigger:{d.trigger}:{d.subject}",
            )
        except StoreUnavailable:
            raise
        except ProgramError as exc:
            refused[(d.trigger, d.subject)] = f"points refused: {exc}"[:300]
            continue
        total += points
    return total, refused
