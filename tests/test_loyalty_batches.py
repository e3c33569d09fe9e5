"""Postings applied many to a transaction (postings.py) answer exactly as one at a time would.

Each case builds a batch by hand and applies it with `Ledger.post` (what concurrent clients
share through the batcher), on the embedded store and on a real PostgreSQL server: two
postings for one member, a refusal beside acceptances, a key twice in one batch, a key
stored by a concurrent transaction (the batch is run again and answers from it).
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from cxloop.programs import ProgramStore
from cxloop.programs.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    ProgramError,
    UnknownMember,
)
from cxloop.programs.loyalty import Entry, Ledger, postings
from cxloop.programs.tables import idempotency
from tests.programs_db import STORES, open_store, program_store  # noqa: F401

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def ledger(program_store: ProgramStore) -> Ledger:  # noqa: F811
    return Ledger(program_store, expiry_months=12, clock=lambda: T0)


def earn(member: str, points: int, key: str, **extra) -> postings.Posting:
    return postings.earn(
        member,
        points,
        reason="order",
        source_type="order",
        source_id=key,
        actor="test",
        idempotency_key=key,
        **extra,
    )


def redeem(member: str, points: int, key: str) -> postings.Posting:
    return postings.redeem(member, points, reason="reward", actor="test", idempotency_key=key)


def test_two_postings_for_one_member_see_each_other(ledger: Ledger):
    member = ledger.enrol("p", actor="t").member_id
    # From a zero balance: the redemption draws from the lot the earn just before it created;
    # the one before the earn is refused, as it would be one transaction at a time.
    early, earned, spent = ledger.post(
        [redeem(member, 30, "r0"), earn(member, 50, "e1"), redeem(member, 30, "r1")]
    )
    assert isinstance(early, InsufficientPoints) and early.balance == 0
    assert isinstance(earned, Entry) and isinstance(spent, Entry)
    assert (earned.points, spent.points) == (50, -30)
    assert spent.entry_id > earned.entry_id
    assert ledger.member(member).balance == 20
    assert [(lot.points, lot.remaining) for lot in ledger.lots(member)] == [(50, 20)]
    assert ledger.verify().ok


def test_a_back_dated_lot_of_the_batch_is_spent_first(ledger: Ledger):
    member = ledger.enrol("p", actor="t").member_id
    ledger.earn(
        member, 40, reason="o", source_type=None, source_id=None, actor="t", idempotency_key="a"
    )
    # Earned 100 days ago: it expires before the stored lot and before the batch's other one.
    outcomes = ledger.post(
        [
            earn(member, 10, "new"),
            earn(member, 25, "old", at=T0 - timedelta(days=100)),
            redeem(member, 30, "spend"),
        ]
    )
    assert all(isinstance(o, Entry) for o in outcomes)
    lots = {lot.source_id: lot.remaining for lot in ledger.lots(member)}
    assert lots == {None: 35, "new": 10}  # 25 from "old", then 5 from the stored lot
    assert ledger.member(member).balance == 45
    assert ledger.verify().ok


def test_a_refusal_leaves_the_other_postings_written(ledger: Ledger):
    rich = ledger.enrol("rich", actor="t").member_id
    poor = ledger.enrol("poor", actor="t").member_id
    ledger.post([earn(rich, 100, "seed-rich"), earn(poor, 10, "seed-poor")])
    outcomes = ledger.post(
        [
            redeem(rich, 60, "r1"),
            redeem(poor, 50, "r2"),
            earn("mem_nobody", 5, "e0"),
            earn(rich, 5, "future", at=T0 + timedelta(days=1)),
            redeem(rich, 40, "r3"),
        ]
    )
    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == ["Entry", "InsufficientPoints", "UnknownMember", "ProgramError", "Entry"]
    assert isinstance(outcomes[2], UnknownMember) and isinstance(outcomes[3], ProgramError)
    assert "future" in str(outcomes[3])
    assert (ledger.member(rich).balance, ledger.member(poor).balance) == (0, 10)
    # A refused posting stored no key: the same request succeeds once it can.
    ledger.post([earn(poor, 40, "top-up")])
    again = ledger.post([redeem(poor, 50, "r2")])[0]
    assert isinstance(again, Entry) and ledger.member(poor).balance == 0
    assert ledger.verify().ok


def test_a_key_twice_in_one_batch_answers_like_a_replay(ledger: Ledger):
    member = ledger.enrol("p", actor="t").member_id
    first, replay, conflict = ledger.post(
        [earn(member, 10, "k"), earn(member, 10, "k"), redeem(member, 5, "k")]
    )
    assert isinstance(first, Entry) and replay == first
    assert isinstance(conflict, IdempotencyConflict) and conflict.http_status == 409
    assert ledger.member(member).balance == 10
    assert len(ledger.entries(member)) == 1
    # Refused first, the key is still free for the same request later in the batch.
    refused, topped, spent = ledger.post(
        [redeem(member, 30, "z"), earn(member, 40, "top"), redeem(member, 30, "z")]
    )
    assert isinstance(refused, InsufficientPoints)
    assert isinstance(topped, Entry) and isinstance(spent, Entry)
    # And across batches, a stored key answers with the stored entry or a conflict.
    replayed, stolen = ledger.post([earn(member, 10, "k"), earn(member, 11, "k")])
    assert replayed == first and isinstance(stolen, IdempotencyConflict)
    assert ledger.member(member).balance == 20
    assert ledger.verify().ok


def test_a_key_stored_while_the_batch_ran_makes_it_run_again(ledger: Ledger):
    """The key's insert fails (as when a concurrent transaction stored it first): the whole
    batch rolls back and runs again; nothing is written twice, and every posting is answered."""
    member = ledger.enrol("p", actor="t").member_id
    store = ledger.store
    planted = []

    def plant_the_key(conn, cursor, statement, parameters, context, executemany):
        if not planted and statement.lstrip().upper().startswith("INSERT INTO IDEMPOTENCY"):
            planted.append(statement)
            conn.execute(
                sa.insert(idempotency).values(
                    key="e2", request_hash="0" * 64, response='{"entry_id": 1}', created_at=T0
                )
            )

    sa.event.listen(store.engine, "before_cursor_execute", plant_the_key)
    try:
        outcomes = ledger.post([earn(member, 10, "e1"), earn(member, 20, "e2")])
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", plant_the_key)
    assert planted, "the hook ran"
    assert [type(o).__name__ for o in outcomes] == ["Entry", "Entry"]
    assert ledger.member(member).balance == 30
    assert len(ledger.entries(member)) == 2
    assert ledger.verify().ok


def test_a_key_committed_by_a_concurrent_batch_is_answered_from_it(tmp_path):
    """PostgreSQL: batch A holds key "k" uncommitted; batch B (another process: another
    ledger) with "k" for the same request waits on the key's insert, fails when A commits,
    runs again and answers with A's entry. (SQLite cannot interleave: one writer at a time.)"""
    with open_store("postgresql", tmp_path / "ws") as store:
        first, second = Ledger(store, clock=lambda: T0), Ledger(store, clock=lambda: T0)
        a = first.enrol("a", actor="t").member_id
        b = first.enrol("b", actor="t").member_id
        inside, go_on = threading.Event(), threading.Event()

        def hold(conn, entry):
            inside.set()
            assert go_on.wait(30)

        first.before_commit = hold
        with ThreadPoolExecutor(2) as pool:
            held = pool.submit(first.post, [earn(a, 10, "k")])
            assert inside.wait(30)
            racing = pool.submit(second.post, [earn(b, 7, "other"), earn(a, 10, "k")])
            with pytest.raises(TimeoutError):  # B waits on A's uncommitted key
                racing.result(timeout=0.5)
            go_on.set()
            (entry,) = held.result(timeout=30)
            other, replay = racing.result(timeout=30)
        assert isinstance(entry, Entry) and replay == entry
        assert isinstance(other, Entry) and other.points == 7
        assert (first.member(a).balance, first.member(b).balance) == (10, 7)
        assert first.verify().ok


@pytest.mark.parametrize("kind", STORES)
def test_two_processes_batching_redemptions_of_one_member_never_overspend(kind, tmp_path):
    """Two ledgers (two batchers: two processes) race 120 redemptions of 10 against 600
    points; batches hold several redemptions of the member at once: exactly 60 succeed."""
    with open_store(kind, tmp_path / "ws", pool_size=16) as store:
        ledgers = [Ledger(store), Ledger(store)]
        member = ledgers[0].enrol("p", actor="t").member_id
        ledgers[0].post([earn(member, 100, f"seed-{i}") for i in range(6)])
        barrier = threading.Barrier(16)

        def spend(i: int):
            if i < 16:
                barrier.wait(30)
            try:
                return ledgers[i % 2].redeem(
                    member, 10, reason="r", actor="t", idempotency_key=f"r{i}"
                )
            except InsufficientPoints as refused:
                return refused

        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(spend, range(120)))
        assert Counter(type(o).__name__ for o in outcomes) == {
            "Entry": 60,
            "InsufficientPoints": 60,
        }
        assert sum(ledger.batcher.batches for ledger in ledgers) < 120  # batches did form
        assert ledgers[0].member(member).balance == 0
        assert ledgers[0].verify().ok


def test_a_refusal_looks_for_its_key_once_more(tmp_path):
    """PostgreSQL: batch A redeems 40 of 50 under key "k", uncommitted; batch B, the same
    request, waits for the member's lock. When A commits, B finds 10 points (too few) but the
    key it missed while waiting: it answers with A's entry, not with a refusal."""
    with open_store("postgresql", tmp_path / "ws") as store:
        first, second = Ledger(store, clock=lambda: T0), Ledger(store, clock=lambda: T0)
        member = first.enrol("a", actor="t").member_id
        first.post([earn(member, 50, "seed")])
        inside, go_on = threading.Event(), threading.Event()

        def hold(conn, entry):
            inside.set()
            assert go_on.wait(30)

        first.before_commit = hold
        with ThreadPoolExecutor(2) as pool:
            held = pool.submit(first.post, [redeem(member, 40, "k")])
            assert inside.wait(30)
            racing = pool.submit(second.post, [redeem(member, 40, "k")])
            with pytest.raises(TimeoutError):  # B waits for the member's lock
                racing.result(timeout=0.5)
            go_on.set()
            (entry,) = held.result(timeout=30)
            (answer,) = racing.result(timeout=30)
        assert isinstance(entry, Entry) and answer == entry
        assert first.member(member).balance == 10
        assert first.verify().ok
