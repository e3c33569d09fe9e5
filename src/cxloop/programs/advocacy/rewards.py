"""Rewards: every completed act is paid once, in points, through the loyalty ledger.

There is no second ledger. A reward is a ledger `earn` whose idempotency key is derived from
the act (``advocacy:{act_key}``), so the same act reported twice, at once or a day apart, by
the reactor, the API and the command line, writes one entry: the ledger's own key check
answers the second request with the first entry. `advocacy_rewards` then remembers which entry
paid which act (for reversals and the report); it is written after the entry, and a run that
died in between writes it on the next run (the ledger replays the same entry).

Acts the loyalty program credited before advocacy was switched on (its sync pays a
`review_bonus` and a `referral_bonus` under the same source references) are not paid again.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import sqlalchemy as sa

from cxloop.config import AdvocacySettings
from cxloop.programs.advocacy.models import RewardOutcome
from cxloop.programs.advocacy.tables import advocacy_rewards
from cxloop.programs.errors import AlreadyReversed
from cxloop.programs.loyalty.ledger import Ledger
from cxloop.programs.store import retrying
from cxloop.programs.tables import ledger_entries

#: Who the ledger says wrote the advocacy program's entries.
ACTOR = "advocacy"


def reward_act(
    ledger: Ledger,
    settings: AdvocacySettings,
    *,
    act_key: str,
    act: str,
    profile_id: str,
    points: int,
    reason: str,
    source_type: str,
    source_id: str,
) -> RewardOutcome:
    """Pay `points` for the act `act_key` to the member of `profile_id`, once."""
    store = ledger.store
    with store.read() as conn:
        paid = conn.execute(
            sa.select(advocacy_rewards.c.entry_id).where(advocacy_rewards.c.act_key == act_key)
        ).scalar()
        credited = conn.execute(
            sa.select(ledger_entries.c.id).where(
                ledger_entries.c.kind == "earn",
                ledger_entries.c.source_type == source_type,
                ledger_entries.c.source_id == source_id,
                ledger_entries.c.actor != ACTOR,
            )
        ).scalar()
    if paid is not None:
        return RewardOutcome(act_key, profile_id, points, int(paid), "already_rewarded")
    if credited is not None:
        return RewardOutcome(act_key, profile_id, 0, int(credited), "credited_by_loyalty")
    if points <= 0:
        return RewardOutcome(act_key, profile_id, 0, None, "no_points")
    member = ledger.member_for_profile(profile_id)
    if member is None:
        if not settings.enrol_on_reward:
            return RewardOutcome(act_key, profile_id, 0, None, "not_member")
        member = ledger.enrol(profile_id, actor=ACTOR)
    entry = ledger.earn(
        member.member_id,
        points,
        reason=reason,
        source_type=source_type,
        source_id=source_id,
        actor=ACTOR,
        idempotency_key=f"advocacy:{act_key}",
    )

    def remember() -> None:
        with store.write() as conn:
            exists = conn.execute(
                sa.select(advocacy_rewards.c.act_key).where(advocacy_rewards.c.act_key == act_key)
            ).first()
            if exists is None:
                conn.execute(
                    sa.insert(advocacy_rewards).values(
                        act_key=act_key, profile_id=profile_id, act=act, points=entry.points,
                        member_id=member.member_id, entry_id=entry.entry_id,
                        rewarded_at=entry.created_at,
                    )
                )  # fmt: skip

    with contextlib.suppress(sa.exc.IntegrityError):  # remembered by a concurrent report
        retrying(remember)
    return RewardOutcome(act_key, profile_id, entry.points, entry.entry_id, "rewarded")


def reverse_reward(ledger: Ledger, act_key: str, *, reason: str) -> int | None:
    """Reverse the entry that paid `act_key` (once); the reversing entry's id, or None when
    the act was never paid."""
    store = ledger.store
    with store.read() as conn:
        row = conn.execute(
            sa.select(advocacy_rewards).where(advocacy_rewards.c.act_key == act_key)
        ).first()
    if row is None:
        return None
    if row.reversal_entry_id is not None:
        return int(row.reversal_entry_id)
    try:
        reversal = ledger.reverse(
            int(row.entry_id), reason=reason, actor=ACTOR,
            idempotency_key=f"advocacy-reversal:{act_key}",
        ).entry_id  # fmt: skip
    except AlreadyReversed:
        with store.read() as conn:
            reversal = conn.execute(
                sa.select(ledger_entries.c.id).where(ledger_entries.c.reverses == row.entry_id)
            ).scalar_one()

    def remember() -> None:
        with store.write() as conn:
            conn.execute(
                sa.update(advocacy_rewards)
                .where(advocacy_rewards.c.act_key == act_key)
                .values(reversal_entry_id=reversal)
            )

    retrying(remember)
    return int(reversal)


def now_utc() -> datetime:
    return datetime.now(UTC)
