"""Rewards: every completed act is paid once, in points, through the loyalty ledger.

There is no second ledger. A reward is a ledger `earn` whose idempotency key is derived from
the act (``advocacy:{act_key}``), so the same act reported twice, at once or a day apart, by
the reactor, the API and the command line, writes one entry: the ledger's own key check
answers the second request with the first entry. `advocacy_rewards` then remembers which entry
paid which act (for reversals and the report); it is written after the entry, and a run that
died in between writes it on the next run (the ledger replays the same entry).

Acts the loyalty program credited before advocacy was switched on (its sync pays a
`review_bonus` and a `referral_bonus` under the same source references) are not paid again,
whether the credit names the act `{source}:{id}` (the sync) or by its bare id (an earn through
the loyalty API), as the loyalty sync itself reads them. Such a credit is the act's reward:
`reverse_reward` takes it back through the ledger when given the act's source reference.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import NamedTuple

import sqlalchemy as sa

from cxloop.config import AdvocacySettings
from cxloop.programs import tables
from cxloop.programs.advocacy.models import RewardOutcome
from cxloop.programs.advocacy.tables import advocacy_rewards
from cxloop.programs.errors import AlreadyReversed
from cxloop.programs.loyalty.ledger import Ledger
from cxloop.programs.loyalty.models import Entry
from cxloop.programs.store import ProgramStore, retrying
from cxloop.programs.tables import ledger_entries

#: Who the ledger says wrote the advocacy program's entries.
ACTOR = "advocacy"


class Act(NamedTuple):
    """A completed act to pay: its key (unique per act), who, how many points, and the
    ledger entry's reason and source reference."""

    act_key: str
    act: str
    profile_id: str
    points: int
    reason: str
    source_type: str
    source_id: str


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
    one = Act(act_key, act, profile_id, points, reason, source_type, source_id)
    return reward_acts(ledger, settings, [one], workers=1)[0]


def reward_acts(
    ledger: Ledger, settings: AdvocacySettings, acts: Sequence[Act], *, workers: int = 8
) -> list[RewardOutcome]:
    """Pay many acts, each once: what the store already holds (acts paid, acts the loyalty
    sync credited, members) is read once for all of them, then only the writes remain, made
    by `workers` threads (the embedded store commits concurrent writers together)."""
    paid, credited, members = _known(ledger.store, acts)

    def pay(a: Act) -> RewardOutcome:
        if a.act_key in paid:
            entry_id, paid_points = paid[a.act_key]  # what was paid, not what is asked now
            return RewardOutcome(a.act_key, a.profile_id, paid_points, entry_id,
                                 "already_rewarded")  # fmt: skip
        earlier = credited.get((a.source_type, a.source_id))
        if earlier is None:
            earlier = credited.get((a.source_type, bare_id(a.source_id)))
        if earlier is not None:
            return RewardOutcome(a.act_key, a.profile_id, 0, earlier, "credited_by_loyalty")
        if a.points <= 0:
            return RewardOutcome(a.act_key, a.profile_id, 0, None, "no_points")
        member_id = members.get(a.profile_id)
        if member_id is None:
            if not settings.enrol_on_reward:
                return RewardOutcome(a.act_key, a.profile_id, 0, None, "not_member")
            member_id = ledger.enrol(a.profile_id, actor=ACTOR).member_id
        entry = ledger.earn(
            member_id, a.points, reason=a.reason, source_type=a.source_type,
            source_id=a.source_id, actor=ACTOR, idempotency_key=f"advocacy:{a.act_key}",
        )  # fmt: skip
        _remember(ledger.store, a, member_id, entry)
        return RewardOutcome(a.act_key, a.profile_id, entry.points, entry.entry_id, "rewarded")

    unique = list({a.act_key: a for a in acts}.values())  # an act twice in a batch: once
    if workers <= 1 or len(unique) < 2:
        done = [pay(a) for a in unique]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="advocacy") as pool:
            done = list(pool.map(pay, unique))
    by_key = {o.act_key: o for o in done}
    return [by_key[a.act_key] for a in acts]


_CHUNK = 500  # bound parameters per IN list (well under SQLite's limit)


def _known(
    store: ProgramStore, acts: Sequence[Act]
) -> tuple[dict[str, tuple[int, int]], dict[tuple[str, str], int], dict[str, str]]:
    """Acts already paid (entry and points by act key), acts credited by the loyalty sync
    (earn entry by source reference) and members (by profile), in one read transaction."""
    paid: dict[str, tuple[int, int]] = {}
    credited: dict[tuple[str, str], int] = {}
    members: dict[str, str] = {}
    keys = sorted({a.act_key for a in acts})
    sources = sorted({a.source_id for a in acts} | {bare_id(a.source_id) for a in acts})
    profiles = sorted({a.profile_id for a in acts})
    with store.read() as conn:
        for chunk in _chunks(keys):
            for key, entry_id, points in conn.execute(
                sa.select(advocacy_rewards.c.act_key, advocacy_rewards.c.entry_id,
                          advocacy_rewards.c.points)
                .where(advocacy_rewards.c.act_key.in_(chunk))
            ):  # fmt: skip
                paid[key] = (int(entry_id), int(points))
        for chunk in _chunks(sources):
            for source_type, source_id, entry in conn.execute(
                sa.select(ledger_entries.c.source_type, ledger_entries.c.source_id,
                          sa.func.min(ledger_entries.c.id))
                .where(ledger_entries.c.kind == "earn", ledger_entries.c.actor != ACTOR,
                       ledger_entries.c.source_id.in_(chunk))
                .group_by(ledger_entries.c.source_type, ledger_entries.c.source_id)
            ):  # fmt: skip
                credited[(source_type, source_id)] = int(entry)
        for chunk in _chunks(profiles):
            members |= dict(conn.execute(
                sa.select(tables.members.c.profile_id, tables.members.c.member_id)
                .where(tables.members.c.profile_id.in_(chunk))
            ).all())  # fmt: skip
    return paid, credited, members


def bare_id(source_id: str) -> str:
    """`R1` of `shop:R1`: how an earn through the loyalty API may have named the same act."""
    return source_id.split(":", 1)[1] if ":" in source_id else source_id


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _remember(store: ProgramStore, a: Act, member_id: str, entry: Entry) -> None:
    """Record which entry paid the act (after the entry: a run that died in between records
    it next time, the ledger replaying the same entry)."""

    def transaction() -> None:
        with store.write() as conn:
            exists = conn.execute(
                sa.select(advocacy_rewards.c.act_key).where(advocacy_rewards.c.act_key == a.act_key)
            ).first()
            if exists is None:
                conn.execute(
                    sa.insert(advocacy_rewards).values(
                        act_key=a.act_key, profile_id=a.profile_id, act=a.act,
                        points=entry.points, member_id=member_id, entry_id=entry.entry_id,
                        rewarded_at=entry.created_at,
                    )
                )  # fmt: skip

    with contextlib.suppress(sa.exc.IntegrityError):  # recorded by a concurrent report
        retrying(transaction)


def reverse_reward(
    ledger: Ledger, act_key: str, *, reason: str, source: tuple[str, str] | None = None
) -> int | None:
    """Reverse the entry that paid `act_key` (once); the reversing entry's id, or None when
    the act was never paid. With the act's `source` (source type, source id), an act paid by
    an entry no row remembers (a loyalty credit, see the module docstring, or a run that died
    between paying and remembering) has that entry reversed."""
    store = ledger.store
    with store.read() as conn:
        row = conn.execute(
            sa.select(advocacy_rewards).where(advocacy_rewards.c.act_key == act_key)
        ).first()
    if row is None:
        return None if source is None else _reverse_credit(ledger, act_key, source, reason)
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


def _reverse_credit(
    ledger: Ledger, act_key: str, source: tuple[str, str], reason: str
) -> int | None:
    """Reverse the entry that paid an act with no `advocacy_rewards` row (once): a loyalty
    credit, or advocacy's own entry when the run that wrote it died before remembering it. An
    act's source reference names it alone, so the first earn under it is the act's."""
    source_type, source_id = source
    with ledger.store.read() as conn:
        entry = conn.execute(
            sa.select(sa.func.min(ledger_entries.c.id)).where(
                ledger_entries.c.kind == "earn",
                ledger_entries.c.source_type == source_type,
                ledger_entries.c.source_id.in_(sorted({source_id, bare_id(source_id)})),
            )
        ).scalar()
    if entry is None:
        return None
    try:
        return ledger.reverse(
            int(entry), reason=reason, actor=ACTOR, idempotency_key=f"advocacy-reversal:{act_key}"
        ).entry_id
    except AlreadyReversed:  # by the loyalty program, or by a concurrent run
        return None


def now_utc() -> datetime:
    return datetime.now(UTC)
