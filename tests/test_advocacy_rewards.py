"""Rewards go through the loyalty ledger once per act: the same completed act reported at once
from many threads, on the embedded store and on PostgreSQL, writes one entry."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from cxloop.programs.advocacy.rewards import reverse_reward, reward_act
from cxloop.programs.advocacy.tables import advocacy_rewards
from cxloop.programs.loyalty import Ledger
from cxloop.programs.tables import ledger_entries
from tests.advocacy_fixtures import config_with
from tests.programs_db import program_store  # noqa: F401


def _report(ledger: Ledger, act_key: str) -> str:
    return reward_act(
        ledger, config_with(), act_key=act_key, act="review", profile_id="P0000000000000001",
        points=50, reason=f"public review {act_key}", source_type="review", source_id=act_key,
    ).status  # fmt: skip


def test_the_same_act_reported_at_once_rewards_once(program_store):  # noqa: F811
    ledger = Ledger(program_store)
    statuses: list[str] = []
    barrier = threading.Barrier(12)

    def report() -> None:
        barrier.wait()
        statuses.append(_report(ledger, "shop:R1"))

    threads = [threading.Thread(target=report) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 12 and set(statuses) <= {"rewarded", "already_rewarded"}
    with program_store.read() as conn:
        entries = conn.execute(
            sa.select(ledger_entries.c.points).where(ledger_entries.c.source_id == "shop:R1")
        ).all()
        remembered = conn.execute(sa.select(sa.func.count()).select_from(advocacy_rewards))
        assert remembered.scalar() == 1
    assert [e.points for e in entries] == [50]
    member = ledger.member_for_profile("P0000000000000001")
    assert member is not None and member.balance == 50
    assert not ledger.verify().problems

    # Reversed once, however often asked.
    first = reverse_reward(ledger, "shop:R1", reason="fraud")
    assert first is not None
    assert reverse_reward(ledger, "shop:R1", reason="fraud") == first
    assert ledger.member(member.member_id).balance == 0
    assert _report(ledger, "shop:R1") == "already_rewarded"  # a reversed act is not paid again


def test_an_act_the_loyalty_sync_paid_is_not_paid_again(program_store):  # noqa: F811
    ledger = Ledger(program_store)
    member = ledger.enrol("P0000000000000002", actor="test")
    ledger.earn(member.member_id, 50, reason="public review shop:R9", source_type="review",
                source_id="shop:R9", actor="sync", idempotency_key="review:shop:R9")  # fmt: skip
    outcome = reward_act(
        ledger, config_with(), act_key="review:shop:R9", act="review",
        profile_id="P0000000000000002", points=50, reason="public review shop:R9",
        source_type="review", source_id="shop:R9",
    )  # fmt: skip
    assert outcome.status == "credited_by_loyalty"
    assert ledger.member(member.member_id).balance == 50


def test_an_ask_completed_twice_at_once_pays_once(program_store):  # noqa: F811
    from datetime import UTC, datetime

    from cxloop.programs.advocacy import AdvocateFacts, decide_ask
    from cxloop.programs.advocacy.operations import complete

    ledger = Ledger(program_store)
    cfg = config_with()
    facts = AdvocateFacts("P0000000000000003", latest_nps=10, public_reviews=1)
    decision = decide_ask(program_store, cfg, facts, "story", source="t",
                          at=datetime(2026, 3, 1, tzinfo=UTC))  # fmt: skip
    assert decision.issued
    outcomes: list[bool] = []
    barrier = threading.Barrier(6)

    def report() -> None:
        barrier.wait()
        outcomes.append(complete(ledger, cfg, decision.ask_id)["newly_completed"])

    threads = [threading.Thread(target=report) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False] * 5 + [True]
    with program_store.read() as conn:
        points = (
            conn.execute(
                sa.select(ledger_entries.c.points).where(
                    ledger_entries.c.source_id == decision.ask_id
                )
            )
            .scalars()
            .all()
        )
    assert points == [cfg.points_of_ask("story")] == [100]
