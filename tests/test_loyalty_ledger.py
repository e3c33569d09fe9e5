"""The loyalty ledger's behaviour, on the embedded store and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from cxloop.programs import ProgramStore
from cxloop.programs.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientPoints,
    NotReversible,
    ProgramError,
    StoreUnavailable,
    UnknownEntry,
    UnknownMember,
)
from cxloop.programs.loyalty import Ledger, add_months
from cxloop.programs.store import RetryTransaction, retrying
from cxloop.programs.tables import ledger_entries, members
from tests.programs_db import program_store  # noqa: F401

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(program_store: ProgramStore, clock: Clock) -> Ledger:  # noqa: F811
    return Ledger(program_store, expiry_months=12, clock=clock)


def earn(ledger: Ledger, member_id: str, points: int, key: str, **extra):
    return ledger.earn(
        member_id,
        points,
        reason="order completed",
        source_type="order",
        source_id=extra.pop("source_id", key),
        actor="test",
        idempotency_key=key,
        **extra,
    )


def redeem(ledger: Ledger, member_id: str, points: int, key: str):
    return ledger.redeem(member_id, points, reason="reward", actor="test", idempotency_key=key)


def test_enrol_is_idempotent_by_profile_and_by_key(ledger: Ledger):
    member = ledger.enrol("profile-1", actor="test")
    assert member.balance == 0 and member.tier == "member" and member.enrolled_at == T0
    assert ledger.enrol("profile-1", actor="someone else") == member
    assert ledger.member_for_profile("profile-1") == member
    assert ledger.member_for_profile("profile-2") is None
    keyed = ledger.enrol("profile-2", actor="test", idempotency_key="enrol-2")
    assert ledger.enrol("profile-2", actor="test", idempotency_key="enrol-2") == keyed
    with pytest.raises(IdempotencyConflict):
        ledger.enrol("profile-3", actor="test", idempotency_key="enrol-2")
    assert ledger.member(member.member_id) == member
    with pytest.raises(UnknownMember) as missing:
        ledger.member("mem_nobody")
    assert missing.value.http_status == 404


def test_earn_and_redeem_spend_the_lot_that_expires_first(ledger: Ledger, clock: Clock):
    member = ledger.enrol("p", actor="test").member_id
    # Earned later but back-dated: expires first, so it is spent first.
    late = earn(ledger, member, 100, "order-late")
    clock.advance(days=10)
    early = earn(ledger, member, 50, "order-early", at=T0 - timedelta(days=30))
    assert early.created_at == clock.now  # recorded now, earned a month ago
    lots = ledger.lots(member)
    assert [lot.source_id for lot in lots] == ["order-early", "order-late"]
    assert lots[0].expires_at == add_months(T0 - timedelta(days=30), 12)
    spent = redeem(ledger, member, 70, "redeem-1")
    assert (spent.kind, spent.points) == ("redeem", -70)
    assert [(lot.source_id, lot.remaining) for lot in ledger.lots(member)] == [("order-late", 80)]
    assert ledger.member(member).balance == 80
    assert late.points == 100
    assert ledger.verify().ok


def test_points_that_never_expire_are_spent_last(program_store: ProgramStore):  # noqa: F811
    clock = Clock()
    forever = Ledger(program_store, expiry_months=None, clock=clock)
    yearly = Ledger(program_store, expiry_months=12, clock=clock)
    member = forever.enrol("p", actor="test").member_id
    earn(forever, member, 10, "no-expiry")
    earn(yearly, member, 10, "expires")
    assert [lot.expires_at is None for lot in forever.lots(member)] == [False, True]
    redeem(forever, member, 15, "r")
    assert [(lot.source_id, lot.remaining) for lot in forever.lots(member)] == [("no-expiry", 5)]


def test_redeeming_more_than_the_balance_is_refused_with_the_figures(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    earn(ledger, member, 40, "o1")
    with pytest.raises(InsufficientPoints) as refused:
        redeem(ledger, member, 50, "too-much")
    error = refused.value
    assert "has 40 points; 50 requested" in str(error)
    assert (error.balance, error.requested, error.http_status) == (40, 50, 409)
    assert ledger.member(member).balance == 40
    assert [e.kind for e in ledger.entries(member)] == ["earn"]
    # The failed request left no key behind: the same request succeeds once it can.
    earn(ledger, member, 10, "o2")
    assert redeem(ledger, member, 50, "too-much").points == -50
    assert ledger.member(member).balance == 0


def test_same_key_same_request_returns_the_first_entry(ledger: Ledger, clock: Clock):
    member = ledger.enrol("p", actor="test").member_id
    first = earn(ledger, member, 25, "k-1")
    clock.advance(minutes=5)
    assert earn(ledger, member, 25, "k-1") == first
    assert ledger.member(member).balance == 25
    spent = redeem(ledger, member, 5, "k-2")
    assert redeem(ledger, member, 5, "k-2") == spent
    assert ledger.member(member).balance == 20
    assert len(ledger.entries(member)) == 2


def test_same_key_different_request_is_a_conflict(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    other = ledger.enrol("q", actor="test").member_id
    earn(ledger, member, 25, "k-1")
    with pytest.raises(IdempotencyConflict) as conflict:
        earn(ledger, member, 26, "k-1", source_id="k-1")
    assert conflict.value.http_status == 409 and "'k-1'" in str(conflict.value)
    with pytest.raises(IdempotencyConflict):
        earn(ledger, other, 25, "k-1", source_id="k-1")  # same request, another member
    with pytest.raises(IdempotencyConflict):
        redeem(ledger, member, 25, "k-1")  # another operation
    assert ledger.member(member).balance == 25 and ledger.member(other).balance == 0


def test_reversing_a_redemption_restores_the_lots_it_drew_from(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    earn(ledger, member, 30, "a", at=T0 - timedelta(days=2))
    earn(ledger, member, 30, "b", at=T0 - timedelta(days=1))
    spent = redeem(ledger, member, 45, "r")
    assert [(lot.source_id, lot.remaining) for lot in ledger.lots(member)] == [("b", 15)]
    back = ledger.reverse(
        spent.entry_id, reason="order cancelled", actor="ops", idempotency_key="x"
    )
    assert (back.kind, back.points, back.reverses, back.shortfall) == (
        "reverse",
        45,
        spent.entry_id,
        0,
    )
    assert [(lot.source_id, lot.remaining) for lot in ledger.lots(member)] == [("a", 30), ("b", 30)]
    assert ledger.member(member).balance == 60
    assert ledger.verify().ok


def test_reversing_an_earn_takes_back_what_is_left_and_records_the_shortfall(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    first = earn(ledger, member, 100, "order-1", at=T0 - timedelta(days=1))
    earn(ledger, member, 30, "order-2")
    redeem(ledger, member, 120, "r")  # all of order-1, 20 of order-2
    back = ledger.reverse(first.entry_id, reason="order returned", actor="ops", idempotency_key="x")
    # 100 owed: nothing left in its lot, 10 from order-2, 90 already spent.
    assert (back.points, back.shortfall) == (-10, 90)
    assert (back.source_type, back.source_id) == ("order", "order-1")
    assert ledger.member(member).balance == 0
    assert ledger.lots(member) == []
    assert ledger.verify().ok


def test_a_shortfall_is_repaid_when_the_spending_is_reversed_too(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    returned = earn(ledger, member, 100, "order-1", at=T0 - timedelta(days=1))
    earn(ledger, member, 50, "order-2")
    gift = redeem(ledger, member, 120, "gift")
    back = ledger.reverse(returned.entry_id, reason="returned", actor="ops", idempotency_key="x1")
    assert (back.points, back.shortfall) == (-30, 70)
    ledger.reverse(gift.entry_id, reason="gift cancelled", actor="ops", idempotency_key="x2")
    # Without order-1 and without the gift, the member holds order-2's 50 points, not 120.
    assert ledger.member(member).balance == 50
    recovery = ledger.entries(member, limit=1)[0]
    assert (recovery.kind, recovery.points) == ("adjust", -70)
    assert (recovery.source_type, recovery.source_id) == ("shortfall", str(back.entry_id))
    assert ledger.verify().ok


def test_a_reversed_recovery_gives_the_points_back_for_good(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    credit = ledger.adjust(member, 10, reason="goodwill", actor="ops", idempotency_key="a")
    debit = ledger.adjust(member, -10, reason="spent", actor="ops", idempotency_key="b")
    ledger.reverse(credit.entry_id, reason="wrong", actor="ops", idempotency_key="c")
    ledger.reverse(debit.entry_id, reason="wrong too", actor="ops", idempotency_key="d")
    recovery = ledger.entries(member, limit=1)[0]
    assert (recovery.source_type, recovery.points, ledger.member(member).balance) == (
        "shortfall",
        -10,
        0,
    )
    ledger.reverse(recovery.entry_id, reason="forgiven", actor="ops", idempotency_key="e")
    assert ledger.member(member).balance == 10  # not recovered a second time
    assert ledger.verify().ok


def test_reversing_an_earn_after_its_points_expired_takes_nothing_else(
    ledger: Ledger, clock: Clock
):
    member = ledger.enrol("p", actor="test").member_id
    old = earn(ledger, member, 100, "old", at=T0 - timedelta(days=400))
    earn(ledger, member, 40, "new")
    ledger.expire(T0, actor="job")
    back = ledger.reverse(old.entry_id, reason="returned", actor="ops", idempotency_key="x")
    assert (back.points, back.shortfall) == (0, 0)
    assert ledger.member(member).balance == 40


def test_an_entry_is_reversed_at_most_once(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    entry = earn(ledger, member, 10, "o")
    back = ledger.reverse(entry.entry_id, reason="returned", actor="ops", idempotency_key="x")
    assert (
        ledger.reverse(entry.entry_id, reason="returned", actor="ops", idempotency_key="x") == back
    )
    with pytest.raises(AlreadyReversed, match=f"reversed by entry {back.entry_id}"):
        ledger.reverse(entry.entry_id, reason="again", actor="ops", idempotency_key="y")
    with pytest.raises(NotReversible):
        ledger.reverse(back.entry_id, reason="undo the undo", actor="ops", idempotency_key="z")
    with pytest.raises(UnknownEntry):
        ledger.reverse(10**9, reason="?", actor="ops", idempotency_key="w")


def test_expiry_is_idempotent_and_one_entry_per_lot(ledger: Ledger, clock: Clock):
    a = ledger.enrol("a", actor="test").member_id
    b = ledger.enrol("b", actor="test").member_id
    earn(ledger, a, 10, "a1", at=T0 - timedelta(days=800))
    earn(ledger, a, 20, "a2", at=T0 - timedelta(days=500))
    earn(ledger, a, 40, "a3")
    earn(ledger, b, 5, "b1", at=T0 - timedelta(days=700))
    redeem(ledger, a, 15, "spend")  # 10 from a1, 5 from a2
    report = ledger.expire(T0, actor="job")
    assert (report.members, report.lots, report.points) == (2, 2, 20)
    expired = [e for e in ledger.entries(a) if e.kind == "expire"]
    assert [(e.points, e.source_type) for e in expired] == [(-15, "lot")]
    assert ledger.member(a).balance == 40 and ledger.member(b).balance == 0
    again = ledger.expire(T0, actor="job")
    assert (again.lots, again.points, again.entry_ids) == (0, 0, ())
    assert ledger.member(a).balance == 40
    assert ledger.expire(add_months(T0, 12), actor="job").points == 40
    assert ledger.verify().ok


def test_adjustments_credit_a_lot_or_debit_like_a_redemption(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    up = ledger.adjust(member, 25, reason="goodwill", actor="ops", idempotency_key="a1")
    assert (up.kind, up.points) == ("adjust", 25)
    assert ledger.lots(member)[0].expires_at == add_months(T0, 12)
    down = ledger.adjust(member, -5, reason="correction", actor="ops", idempotency_key="a2")
    assert down.points == -5 and ledger.member(member).balance == 20
    with pytest.raises(InsufficientPoints):
        ledger.adjust(member, -21, reason="too much", actor="ops", idempotency_key="a3")
    ledger.reverse(down.entry_id, reason="wrong", actor="ops", idempotency_key="a4")
    assert ledger.member(member).balance == 25


def test_entries_page_newest_first(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    made = [earn(ledger, member, i + 1, f"o{i}") for i in range(7)]
    page1 = ledger.entries(member, limit=3)
    page2 = ledger.entries(member, limit=3, before=page1[-1].entry_id)
    page3 = ledger.entries(member, limit=3, before=page2[-1].entry_id)
    assert page1 + page2 + page3 == made[::-1]
    assert ledger.entries(member, before=made[0].entry_id) == []
    with pytest.raises(ProgramError):
        ledger.entries(member, limit=0)


@pytest.mark.parametrize(
    "statement", ["UPDATE ledger_entries SET points = 1000", "DELETE FROM ledger_entries"]
)
def test_the_database_refuses_to_change_entries(ledger: Ledger, statement: str):
    member = ledger.enrol("p", actor="test").member_id
    earn(ledger, member, 10, "o")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.store.write() as conn:
        conn.execute(sa.text(statement))
    assert [e.points for e in ledger.entries(member)] == [10]


def test_the_database_refuses_a_negative_balance(ledger: Ledger):
    ledger.enrol("p", actor="test")
    with pytest.raises(sa.exc.IntegrityError), ledger.store.write() as conn:
        conn.execute(sa.update(members).values(balance=-1))


def test_verify_finds_a_tampered_balance_and_a_forged_entry(ledger: Ledger):
    member = ledger.enrol("p", actor="test").member_id
    earn(ledger, member, 10, "o")
    assert ledger.verify().ok
    with ledger.store.write() as conn:
        conn.execute(sa.update(members).where(members.c.member_id == member).values(balance=15))
    report = ledger.verify()
    assert not report.ok
    assert any(f"member {member}: cached balance 15" in p for p in report.problems)
    with ledger.store.write() as conn:  # an entry written behind the ledger's back
        conn.execute(
            sa.insert(ledger_entries).values(
                member_id=member,
                kind="earn",
                points=5,
                reason="forged",
                actor="x",
                created_at=T0,
            )
        )
    problems = ledger.verify().problems
    assert any("created no lot" in p for p in problems)
    assert not any(
        f"member {member}: cached balance 15, sum of entries 15, points left in lots 15" in p
        for p in problems
    )


@pytest.mark.parametrize(
    "points",
    [0, -3, 1.5, True, "10", 10**13],
    ids=["zero", "negative", "float", "bool", "text", "huge"],
)
def test_points_are_positive_whole_numbers(ledger: Ledger, points):
    member = ledger.enrol("p", actor="test").member_id
    with pytest.raises(ProgramError, match="whole number"):
        earn(ledger, member, points, "o")
    with pytest.raises(ProgramError, match="whole number"):
        redeem(ledger, member, points, "r")


def test_times_must_be_aware_and_not_in_the_future(ledger: Ledger, clock: Clock):
    member = ledger.enrol("p", actor="test").member_id
    with pytest.raises(ProgramError, match="timezone-aware"):
        earn(ledger, member, 1, "o1", at=datetime(2025, 1, 1))
    with pytest.raises(ProgramError, match="future"):
        earn(ledger, member, 1, "o2", at=clock.now + timedelta(hours=1))
    with pytest.raises(ProgramError, match="timezone-aware"):
        ledger.expire(datetime(2025, 1, 1), actor="job")
    with pytest.raises(ProgramError, match="idempotency key"):
        earn(ledger, member, 1, "", source_id="o3")


def test_set_tier_moves_tier_since_only_on_a_change(ledger: Ledger, clock: Clock):
    member = ledger.enrol("p", actor="test").member_id
    assert ledger.set_tier(member, "member", actor="job").tier_since == T0
    clock.advance(days=3)
    gold = ledger.set_tier(member, "gold", actor="job")
    assert (gold.tier, gold.tier_since) == ("gold", clock.now)
    clock.advance(days=3)
    assert ledger.set_tier(member, "gold", actor="job").tier_since == gold.tier_since


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2023, 12, 31, tzinfo=UTC), 2) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2025, 3, 15, tzinfo=UTC), 24) == datetime(2027, 3, 15, tzinfo=UTC)


def test_retrying_reruns_transient_failures_then_gives_up():
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RetryTransaction("again")
        return "done"

    assert retrying(flaky) == "done" and len(calls) == 3

    def never() -> None:
        raise RetryTransaction("again")

    with pytest.raises(StoreUnavailable, match="3 attempts"):
        retrying(never, attempts=3)
    with pytest.raises(ZeroDivisionError):
        retrying(lambda: 1 / 0)


def test_store_urls(tmp_path):
    with pytest.raises(ProgramError, match="not supported"):
        ProgramStore.open(tmp_path, "mysql://root@localhost/db")
    with pytest.raises(StoreUnavailable) as unreachable:
        ProgramStore.open(tmp_path, "postgresql://cxloop:s3cret@127.0.0.1:1/nothing")
    assert "s3cret" not in str(unreachable.value) and "127.0.0.1:1" in str(unreachable.value)
    with ProgramStore.open(tmp_path) as store:
        assert store.dialect == "sqlite"
        assert (tmp_path / "programs.sqlite").is_file()


def test_the_migrations_create_the_tables_the_code_queries(program_store):  # noqa: F811
    """tables.py (what queries are built from) and the migrations (what the database holds)
    describe the same columns, types and indexes; tables of other programs are left out."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from cxloop.programs.tables import metadata

    with program_store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)

    def ours(difference) -> bool:
        if isinstance(difference, list):  # column changes: [(op, schema, table, column, ...)]
            return difference[0][2] in metadata.tables
        subject = difference[1]  # (op, table or index or constraint, ...)
        table = subject if isinstance(subject, sa.Table) else subject.table
        return table.name in metadata.tables

    assert [d for d in differences if ours(d)] == []
