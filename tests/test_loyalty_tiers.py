"""Tiers from a rolling window: upgrades and downgrades with their dates, idempotence, the
window's edges, what qualifies (reversed earns and late entries do not), spend by order.

The ladder in every test: member 0, silver 100, gold 500 (points or currency), 12 months.
Times are controlled through the ledger's clock, so "recorded at" is exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

import cxloop
from cxloop.config import LoyaltySettings
from cxloop.programs.errors import ProgramError
from cxloop.programs.loyalty import Ledger
from cxloop.programs.loyalty.tiers import (
    assign_tiers,
    ladder_of,
    tier_as_of,
    tier_changes,
    tier_for,
    tier_history,
    warehouse_order_amounts,
)
from cxloop.programs.store import ProgramStore
from cxloop.programs.tables import members
from tests.conftest import run_cli, write
from tests.programs_db import program_store  # noqa: F401

TIERS = ("member:0:1", "silver:100:1.25", "gold:500:1.5")
POINTS = LoyaltySettings(tiers=TIERS, tier_basis="points", tier_window_months=12)
SPEND = LoyaltySettings(tiers=TIERS, tier_basis="spend", tier_window_months=12)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Clock:
    """The ledger's "now", moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProgramStore]:
    with ProgramStore.open(tmp_path / "ws") as store:
        yield store


@pytest.fixture
def clock() -> Clock:
    return Clock(utc(2025, 1, 1))


@pytest.fixture
def ledger(store: ProgramStore, clock: Clock) -> Ledger:
    return Ledger(store, expiry_months=24, clock=clock)


_keys = iter(range(10**9))


def earn(ledger: Ledger, member_id: str, points: int, at: datetime, **source: str) -> int:
    """Earn `points` earned `at` (recorded at the clock's now); the entry id."""
    entry = ledger.earn(
        member_id,
        points,
        reason="test",
        source_type=source.get("source_type"),
        source_id=source.get("source_id"),
        actor="test",
        idempotency_key=f"k{next(_keys)}",
        at=at,
    )
    return entry.entry_id


def test_ladder_and_tier_for():
    ladder = ladder_of(POINTS)
    assert [t.name for t in ladder] == ["member", "silver", "gold"]
    assert tier_for(Decimal(0), ladder) == "member"
    assert tier_for(Decimal(99), ladder) == "member"
    assert tier_for(Decimal(100), ladder) == "silver"  # the threshold itself reaches it
    assert tier_for(Decimal("499.9999"), ladder) == "silver"
    assert tier_for(Decimal(500), ladder) == "gold"


def test_upgrade_then_downgrade_with_their_dates(ledger, clock, store):
    member = ledger.enrol("p1", actor="test").member_id
    clock.now = utc(2025, 1, 10)
    earn(ledger, member, 150, utc(2025, 1, 10))

    clock.now = utc(2025, 2, 1)
    report = assign_tiers(ledger, POINTS, utc(2025, 2, 1))
    assert [(c.from_tier, c.to_tier, c.changed_at) for c in report.upgrades] == [
        ("member", "silver", utc(2025, 2, 1))
    ]
    assert report.upgrades[0].basis_value == 150 and report.downgrades == ()
    assert report.by_tier == {"member": 0, "silver": 1, "gold": 0}
    after = ledger.member(member)
    assert (after.tier, after.tier_since) == ("silver", utc(2025, 2, 1))

    # More points in a later month: gold.
    clock.now = utc(2025, 6, 1)
    earn(ledger, member, 400, utc(2025, 5, 20))
    report = assign_tiers(ledger, POINTS, utc(2025, 6, 1))
    assert [(c.from_tier, c.to_tier, c.basis_value) for c in report.upgrades] == [
        ("silver", "gold", 550)
    ]

    # 12 months after the first earn it leaves the window (400 remain: silver) ...
    clock.now = utc(2026, 3, 1)
    report = assign_tiers(ledger, POINTS, utc(2026, 1, 10))
    assert [(c.from_tier, c.to_tier, c.basis_value) for c in report.downgrades] == [
        ("gold", "silver", 400)
    ]
    # ... and 12 months after the second, nothing is left: the lowest tier.
    report = assign_tiers(ledger, POINTS, utc(2026, 2, 1))
    assert report.downgrades == ()  # 2026-02-01 is before 2026-05-20: 400 still count
    clock.now = utc(2026, 6, 1)
    report = assign_tiers(ledger, POINTS, utc(2026, 5, 20))
    assert [(c.from_tier, c.to_tier, c.basis_value) for c in report.downgrades] == [
        ("silver", "member", 0)
    ]
    assert report.downgrades[0].direction == "downgrade"

    history = [(c.from_tier, c.to_tier, c.changed_at) for c in tier_history(store, member)]
    assert history == [
        ("member", "silver", utc(2025, 2, 1)),
        ("silver", "gold", utc(2025, 6, 1)),
        ("gold", "silver", utc(2026, 1, 10)),
        ("silver", "member", utc(2026, 5, 20)),
    ]
    assert ledger.member(member).tier_since == utc(2026, 5, 20)


def test_rerunning_the_same_date_changes_nothing(ledger, clock, store):
    a = ledger.enrol("p1", actor="test").member_id
    b = ledger.enrol("p2", actor="test").member_id
    clock.now = utc(2025, 3, 1)
    earn(ledger, a, 120, utc(2025, 2, 1))
    earn(ledger, b, 600, utc(2025, 2, 1))
    first = assign_tiers(ledger, POINTS, utc(2025, 3, 1))
    assert len(first.upgrades) == 2 and first.unchanged == 0
    with store.read() as conn:
        before = conn.execute(sa.select(members).order_by(members.c.member_id)).all()
        changes = conn.execute(sa.select(sa.func.count()).select_from(tier_changes)).scalar()
    for _ in range(2):
        again = assign_tiers(ledger, POINTS, utc(2025, 3, 1))
        assert again.changes == () and again.unchanged == 2 and again.skipped == 0
        assert again.by_tier == first.by_tier == {"member": 0, "silver": 1, "gold": 1}
    with store.read() as conn:
        assert conn.execute(sa.select(members).order_by(members.c.member_id)).all() == before
        assert conn.execute(sa.select(sa.func.count()).select_from(tier_changes)).scalar() == (
            changes
        )
    # Entries recorded after the date do not move it either: the tier as of a date depends
    # only on what the ledger held then (here: a back-dated earn recorded a month later).
    clock.now = utc(2025, 4, 1)
    earn(ledger, a, 1000, utc(2025, 2, 15))
    assert assign_tiers(ledger, POINTS, utc(2025, 3, 1)).changes == ()
    assert [c.to_tier for c in assign_tiers(ledger, POINTS, utc(2025, 4, 1)).upgrades] == ["gold"]


def test_window_edges(ledger, clock):
    """The window is (as_of - 12 months, as_of] on the day the points were earned."""
    member = ledger.enrol("p1", actor="test").member_id
    earned = utc(2025, 3, 31, 12)
    clock.now = earned
    earn(ledger, member, 100, earned)
    clock.now = utc(2027, 1, 1)
    # Earned exactly at as_of: inside.
    assert [c.to_tier for c in assign_tiers(ledger, POINTS, earned).upgrades] == ["silver"]
    # One microsecond before 12 months have passed: still inside.
    edge = utc(2026, 3, 31, 12)
    assert assign_tiers(ledger, POINTS, edge - timedelta(microseconds=1)).changes == ()
    # Exactly 12 calendar months later: outside (the anniversary ends it).
    report = assign_tiers(ledger, POINTS, edge)
    assert [(c.to_tier, c.changed_at) for c in report.downgrades] == [("member", edge)]


def test_window_months_are_calendar_months_clamped_to_the_month_end(ledger, clock):
    """as_of 2028-02-29 (a leap day) with 12 months reaches back to 2027-02-28 (add_months
    clamps the day to the month's end): an earn then is out, one the next day in."""
    a = ledger.enrol("p1", actor="test").member_id
    b = ledger.enrol("p2", actor="test").member_id
    clock.now = utc(2028, 2, 29)
    earn(ledger, a, 100, utc(2027, 2, 28))
    earn(ledger, b, 100, utc(2027, 3, 1))
    report = assign_tiers(ledger, POINTS, utc(2028, 2, 29))
    assert report.window_start == utc(2027, 2, 28)
    assert [c.member_id for c in report.upgrades] == [b]


def test_reversed_earns_and_adjustments_do_not_qualify(ledger, clock):
    member = ledger.enrol("p1", actor="test").member_id
    clock.now = utc(2025, 2, 1)
    entry = earn(ledger, member, 700, utc(2025, 2, 1), source_type="order", source_id="o1")
    ledger.adjust(member, 300, reason="goodwill", actor="ops", idempotency_key="adj")
    clock.now = utc(2025, 2, 10)
    ledger.reverse(entry, reason="returned", actor="sync", idempotency_key="rev")
    clock.now = utc(2025, 3, 1)
    # As of before the reversal was recorded, the earn counted; after, it does not.
    before = assign_tiers(ledger, POINTS, utc(2025, 2, 5))
    assert [(c.to_tier, c.basis_value) for c in before.upgrades] == [("gold", 700)]
    after = assign_tiers(ledger, POINTS, utc(2025, 3, 1))
    assert [(c.from_tier, c.to_tier, c.basis_value) for c in after.downgrades] == [
        ("gold", "member", 0)  # the adjustment of 300 never qualifies
    ]


def test_members_enrolled_after_the_date_are_not_evaluated(ledger, clock):
    clock.now = utc(2025, 1, 1)
    ledger.enrol("p1", actor="test")
    clock.now = utc(2025, 6, 1)
    ledger.enrol("p2", actor="test")
    report = assign_tiers(ledger, POINTS, utc(2025, 3, 1))
    assert report.members == 1 and report.by_tier["member"] == 1


def test_a_later_change_is_never_rewritten(ledger, clock, store):
    member = ledger.enrol("p1", actor="test").member_id
    clock.now = utc(2025, 2, 1)
    earn(ledger, member, 200, utc(2025, 2, 1))
    clock.now = utc(2025, 5, 1)
    assign_tiers(ledger, POINTS, utc(2025, 5, 1))  # silver from May
    # Evaluating an earlier date (before the earn) would say "member": left alone.
    report = assign_tiers(ledger, POINTS, utc(2025, 1, 15))
    assert report.changes == () and report.skipped == 1
    assert ledger.member(member).tier == "silver"
    assert len(tier_history(store, member)) == 1


def test_future_dates_and_naive_times_are_refused(ledger, clock):
    clock.now = utc(2025, 1, 1)
    with pytest.raises(ProgramError, match="future"):
        assign_tiers(ledger, POINTS, utc(2025, 1, 2))
    with pytest.raises(ProgramError, match="timezone"):
        assign_tiers(ledger, POINTS, datetime(2024, 12, 1))


def test_spend_basis_counts_the_orders_behind_unreversed_earns(ledger, clock):
    a = ledger.enrol("p1", actor="test").member_id
    b = ledger.enrol("p2", actor="test").member_id
    clock.now = utc(2025, 2, 1)
    earn(ledger, a, 80, utc(2025, 1, 20), source_type="order", source_id="shop:o1")
    earn(ledger, a, 45, utc(2025, 1, 25), source_type="order", source_id="shop:o2")
    earn(ledger, a, 50, utc(2025, 1, 26), source_type="review", source_id="shop:r1")
    returned = earn(ledger, b, 900, utc(2025, 1, 20), source_type="order", source_id="shop:o3")
    ledger.reverse(returned, reason="returned", actor="sync", idempotency_key="r3")
    amounts = {
        "shop:o1": Decimal("80.10"),
        "shop:o2": Decimal("420.00"),
        "shop:o3": Decimal("900.00"),
    }
    asked: list[list[str]] = []

    def lookup(ids):
        asked.append(list(ids))
        return {i: amounts[i] for i in ids if i in amounts}

    report = assign_tiers(ledger, SPEND, utc(2025, 2, 1), order_amounts=lookup)
    # a: 80.10 + 420.00 = 500.10 >= 500 (the review's points are not spend); b: returned.
    assert [(c.member_id, c.to_tier, c.basis_value) for c in report.upgrades] == [
        (a, "gold", Decimal("500.10"))
    ]
    assert report.to_dict()["changes"][0]["basis_value"] == "500.10"
    assert asked == [["shop:o1", "shop:o2"]]
    with pytest.raises(ProgramError, match="spend"):
        assign_tiers(ledger, SPEND, utc(2025, 2, 1))


def test_basis_values_are_stored_exactly(ledger, clock, store):
    member = ledger.enrol("p1", actor="test").member_id
    clock.now = utc(2025, 2, 1)
    earn(ledger, member, 1, utc(2025, 1, 20), source_type="order", source_id="o1")
    value = Decimal("123456789012.3456")  # beyond a float's 15-16 digits
    assign_tiers(ledger, SPEND, utc(2025, 2, 1), order_amounts=lambda ids: {"o1": value})
    assert [c.basis_value for c in tier_history(store, member)] == [value]


def test_tier_as_of_reads_history_back(ledger, clock, store):
    member = ledger.enrol("p1", actor="test").member_id
    clock.now = utc(2025, 2, 1)
    earn(ledger, member, 600, utc(2025, 2, 1))
    clock.now = utc(2026, 6, 1)
    assign_tiers(ledger, POINTS, utc(2025, 3, 1))  # member -> gold
    assign_tiers(ledger, POINTS, utc(2026, 3, 1))  # gold -> member

    def tier_then(moment: datetime) -> str:
        with store.read() as conn:
            return conn.execute(sa.select(tier_as_of(moment))).scalar_one()

    assert tier_then(utc(2025, 2, 15)) == "member"  # before the first change: its from_tier
    assert tier_then(utc(2025, 3, 1)) == "gold"
    assert tier_then(utc(2026, 2, 28)) == "gold"
    assert tier_then(utc(2026, 3, 1)) == "member"


def test_tier_changes_are_append_only(ledger, clock, store):
    member = ledger.enrol("p1", actor="test").member_id
    clock.now = utc(2025, 2, 1)
    earn(ledger, member, 600, utc(2025, 2, 1))
    assign_tiers(ledger, POINTS, utc(2025, 2, 1))
    for statement in (sa.update(tier_changes).values(to_tier="silver"), sa.delete(tier_changes)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.write() as conn:
            conn.execute(statement)


def test_table_mirrors_the_migration(store):
    columns = {c["name"]: c for c in sa.inspect(store.engine).get_columns("tier_changes")}
    assert list(columns) == [c.name for c in tier_changes.columns]
    for column in tier_changes.columns:
        assert columns[column.name]["nullable"] == column.nullable, column.name


def test_warehouse_order_amounts(tmp_path):
    ws = cxloop.Workspace.init(tmp_path / "ws", brand="Northwind")
    try:
        orders = write(
            tmp_path / "orders.csv",
            "order_id,customer_id,source,ordered_at,amount,status\n"
            "o1,c1,shop,2025-01-05,100.25,completed\n"
            "o1,c9,app,2025-01-06,7,completed\n"
            "o2,c1,,2025-01-07,30,returned\n",
        )
        assert ws.ingest([orders]).files[0].rejected == 0
        lookup = warehouse_order_amounts(ws)
        found = lookup(["shop:o1", "app:o1", "o1", "default:o2", "nope"])
        assert found == {
            "shop:o1": Decimal("100.25"),
            "app:o1": Decimal("7"),
            "o1": Decimal("100.25"),  # a bare id: the largest of the sources holding it
            "default:o2": Decimal("30"),  # the ledger, not the status, says if it counts
        }
        assert lookup([]) == {}
    finally:
        ws.close()


def test_migration_and_tiers_on_both_stores(program_store: ProgramStore):  # noqa: F811
    """Migration 0002 on SQLite and on a real PostgreSQL server (fresh database): the table,
    exact basis values, append-only, and a downgrade to 0001 and back."""
    from alembic import command
    from alembic.config import Config

    from cxloop.programs.store import MIGRATIONS

    clock = Clock(utc(2025, 1, 1))
    ledger = Ledger(program_store, clock=clock)
    member = ledger.enrol("p1", actor="test").member_id
    clock.now = utc(2025, 2, 1)
    earn(ledger, member, 1, utc(2025, 1, 20), source_type="order", source_id="o1")
    value = Decimal("123456789012.3456")
    report = assign_tiers(ledger, SPEND, clock.now, order_amounts=lambda ids: {"o1": value})
    assert [c.to_tier for c in report.upgrades] == ["gold"]
    assert (
        assign_tiers(ledger, SPEND, clock.now, order_amounts=lambda ids: {"o1": value}).changes
        == ()
    )
    assert [c.basis_value for c in tier_history(program_store, member)] == [value]
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), program_store.write() as conn:
        conn.execute(sa.delete(tier_changes))

    def migrate(to: str) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with program_store.engine.begin() as conn:
            config.attributes["connection"] = conn
            (command.downgrade if to == "0001" else command.upgrade)(config, to)

    migrate("0001")
    assert "tier_changes" not in sa.inspect(program_store.engine).get_table_names()
    migrate("heads")  # every program's branch of migrations
    assert "tier_changes" in sa.inspect(program_store.engine).get_table_names()


def test_cli_tiers_by_spend_from_the_warehouse(tmp_path):
    """Default settings (spend, member 0 / silver 500 / gold 2000): an order of 600 earned
    points yesterday, so the member is silver; the same date again changes nothing."""
    ws = cxloop.Workspace.init(tmp_path / "ws", brand="Northwind")
    orders = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount,status\no1,c1,2025-01-05,600.50,completed\n",
    )
    assert ws.ingest([orders]).files[0].rejected == 0
    ws.profiles.ensure_current()
    profile = ws.engine.scalar("SELECT profile_id FROM profile_links WHERE kind = 'orders'")
    ws.close()
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with ProgramStore.open(tmp_path / "ws") as store:
        ledger = Ledger(store)
        member = ledger.enrol(profile, actor="test").member_id
        earn(ledger, member, 600, yesterday, source_type="order", source_id="default:o1")
    result = run_cli("loyalty", "tiers", str(tmp_path / "ws"), "--json")  # as of now
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    as_of = doc["as_of"]
    assert (doc["basis"], doc["upgraded"], doc["downgraded"]) == ("spend", 1, 0)
    assert doc["changes"][0] | {"changed_at": None} == {
        "member_id": member,
        "from_tier": "member",
        "to_tier": "silver",
        "changed_at": None,
        "basis": "spend",
        "basis_value": "600.5000",  # the warehouse keeps 4 places
        "direction": "upgrade",
    }
    again = run_cli("loyalty", "tiers", str(tmp_path / "ws"), "--as-of", as_of)
    assert again.returncode == 0, again.stderr
    assert "0 upgraded, 0 downgraded, 1 unchanged" in again.stdout
    assert "Members by tier" in again.stdout
    future = run_cli("loyalty", "tiers", str(tmp_path / "ws"), "--as-of", "2999-01-01")
    assert future.returncode != 0 and "future" in future.stderr
