"""Warehouse to ledger and back: generated data earns exactly the points the rules promise.

Expected points are computed here by another route than the sync takes: orders, reviews and
referrals are joined to profiles through their customer records (`profile_records`), not
through `profile_links`, and the rounding is done with exact rationals (`fractions`).
"""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import cxloop
from cxloop.cli.main import app
from cxloop.config import LoyaltySettings
from cxloop.generate import generate
from cxloop.programs.errors import IdempotencyConflict, UnknownMember
from cxloop.programs.loyalty import Ledger
from cxloop.programs.loyalty.facts import facts_to_warehouse
from cxloop.programs.loyalty.sync import apply_sync, plan_sync, sync_from_warehouse
from cxloop.programs.store import ProgramStore
from tests.conftest import run_cli

ENROLLED = datetime(2025, 1, 1, tzinfo=UTC)  # the generated window is 2024-07-01..2026-06-30
NOW = datetime(2026, 7, 1, tzinfo=UTC)
SETTINGS = LoyaltySettings()


@pytest.fixture(scope="module")
def data_files(tmp_path_factory) -> list[Path]:
    generated = generate(tmp_path_factory.mktemp("data"), people=400, seed=20240901)
    return sorted(generated.files.values())


@pytest.fixture
def ws(tmp_path, data_files):
    workspace = cxloop.Workspace.init(tmp_path / "ws", brand="Northwind")
    workspace.ingest(data_files)
    workspace.profiles.ensure_current()
    yield workspace
    workspace.close()


@pytest.fixture
def store(ws):
    with ProgramStore.open(ws.path) as program_store:
        yield program_store


def enrol_half(ws, store) -> dict[str, str]:
    """Every other known profile, and every referrer of a converted referral (so the bonus
    is exercised), enrolled at ENROLLED; a fifth of them silver. Profile id -> member id."""
    profiles = [
        row[0]
        for row in ws.engine.fetchall(
            "SELECT profile_id FROM profiles WHERE known ORDER BY profile_id"
        )
    ]
    referrers = [
        row[0]
        for row in ws.engine.fetchall(
            "SELECT pr.profile_id FROM referrals r JOIN profile_records pr "
            "ON pr.source = r.source AND pr.customer_id = r.referrer_id "
            "WHERE r.converted_order_id IS NOT NULL"
        )
    ]
    assert referrers, "the generated data has converted referrals"
    chosen = sorted(set(profiles[::2]) | set(referrers))
    early = Ledger(store, clock=lambda: ENROLLED)
    members = {}
    for i, profile_id in enumerate(chosen):
        member = early.enrol(profile_id, actor="test")
        if i % 5 == 0:
            early.set_tier(member.member_id, "silver", actor="test")
        members[profile_id] = member.member_id
    return members


def expected_balances(ws, ledger, members: dict[str, str], *, since=ENROLLED) -> dict[str, int]:
    """Points each member should hold, by the rules, computed independently of the sync."""
    tier = {p: ledger.member(m).tier for p, m in members.items()}
    multiplier = {"member": Fraction(1), "silver": Fraction(5, 4), "gold": Fraction(3, 2)}
    points = dict.fromkeys(members, 0)
    start, end = since.replace(tzinfo=None), NOW.replace(tzinfo=None)
    for profile_id, amount, at in ws.engine.fetchall(
        "SELECT pr.profile_id, o.amount, o.ordered_at FROM orders o "
        "JOIN profile_records pr USING (source, customer_id) "
        "WHERE o.status = 'completed' AND o.currency = 'USD'"
    ):
        if profile_id in points and start <= at <= end:
            points[profile_id] += math.floor(Fraction(amount) * multiplier[tier[profile_id]])
    for profile_id, at in ws.engine.fetchall(
        "SELECT pr.profile_id, f.submitted_at FROM feedback f "
        "JOIN profile_records pr USING (source, customer_id) "
        "WHERE f.public AND trim(f.text) <> ''"
    ):
        if profile_id in points and start <= at <= end:
            points[profile_id] += SETTINGS.review_bonus
    for profile_id, at in ws.engine.fetchall(
        "SELECT pr.profile_id, r.created_at FROM referrals r JOIN profile_records pr "
        "ON pr.source = r.source AND pr.customer_id = r.referrer_id "
        "WHERE r.converted_order_id IS NOT NULL"
    ):
        if profile_id in points and start <= at <= end:
            points[profile_id] += SETTINGS.referral_bonus
    return points


def balances(ledger, members: dict[str, str]) -> dict[str, int]:
    return {p: ledger.member(m).balance for p, m in members.items()}


def write_orders(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("workers", [1, 4])
def test_sync_earns_the_expected_points_and_a_second_run_writes_nothing(ws, store, workers):
    members = enrol_half(ws, store)
    ledger = Ledger(store, clock=lambda: NOW)
    expected = expected_balances(ws, ledger, members)
    plan = plan_sync(ws, ledger, SETTINGS)
    assert set(balances(ledger, members).values()) == {0}  # planning reads only
    report = apply_sync(ledger, plan, workers=workers)
    assert balances(ledger, members) == expected
    assert report.members == len(members) and report.members_without_profile == 0
    assert report.order_points + report.review_points + report.referral_points == sum(
        expected.values()
    )
    assert report.orders_earned > 100 and report.reviews > 10 and report.referrals >= 1
    assert report.skipped["before_enrolment"] > 0  # history before joining does not earn
    assert report.problems == ()
    assert report.entries_written == report.orders_earned + report.reviews + report.referrals
    assert ledger.verify().ok
    # Lots are dated by the act, not by the sync: an order's points expire from its date.
    member_id = next(m for p, m in members.items() if expected[p])
    for lot in ledger.lots(member_id):
        assert ENROLLED <= lot.earned_at < NOW

    assert plan_sync(ws, ledger, SETTINGS).acts == ()
    again = sync_from_warehouse(ws, ledger, SETTINGS, workers=workers)
    assert again.entries_written == 0
    assert (again.orders_earned, again.reviews, again.referrals, again.orders_reversed) == (
        0,
        0,
        0,
        0,
    )
    assert balances(ledger, members) == expected


def test_returned_orders_are_reversed_new_orders_earn_other_currencies_do_not(ws, store, tmp_path):
    members = enrol_half(ws, store)
    ledger = Ledger(store, clock=lambda: NOW)
    sync_from_warehouse(ws, ledger, SETTINGS)
    before = balances(ledger, members)
    # Three earned orders of three members come back as returned (an updated export).
    earned = {}
    for profile_id, member_id in members.items():
        for entry in ledger.entries(member_id):
            if entry.kind == "earn" and entry.source_type == "order":
                earned[profile_id] = entry
                break
        if len(earned) == 3:
            break
    spender, *_ = earned
    ledger.redeem(
        members[spender], before[spender], reason="spent it all", actor="test",
        idempotency_key="spend-all",
    )  # fmt: skip
    columns = "order_id, customer_id, source, ordered_at, amount, currency, status"
    rows = []
    for entry in earned.values():
        source, order_id = entry.source_id.split(":", 1)
        row = ws.engine.fetchone(
            f"SELECT {columns} FROM orders WHERE source = ? AND order_id = ?", [source, order_id]
        )
        rows.append(dict(zip([c.strip() for c in columns.split(",")], row, strict=True)))
        rows[-1]["status"] = "returned"
    # A new completed order in the workspace currency earns; one in euros does not.
    template = dict(rows[-1], status="completed", ordered_at="2026-06-30T12:00:00")
    rows.append(dict(template, order_id="NEW-USD", amount="80.50", currency="USD"))
    rows.append(dict(template, order_id="NEW-EUR", amount="99.00", currency="EUR"))
    report = ws.ingest([write_orders(tmp_path / "orders.csv", rows)])
    assert (report.files[0].updated, report.files[0].loaded) == (3, 2)

    result = sync_from_warehouse(ws, ledger, SETTINGS)
    assert result.orders_reversed == 3
    spent = earned[spender].points
    assert result.reversal_shortfall == spent  # already redeemed: a loss, not a debt
    assert result.reversed_points == sum(e.points for e in earned.values()) - spent
    assert result.orders_earned == 1 and result.skipped.get("other_currency") == 1
    last_profile = list(earned)[-1]
    tier = ledger.member(members[last_profile]).tier
    new_points = math.floor(Fraction("80.50") * (Fraction(5, 4) if tier == "silver" else 1))
    assert result.order_points == new_points
    after = balances(ledger, members)
    for profile_id, entry in earned.items():
        change = -entry.points if profile_id != spender else 0
        if profile_id == last_profile:
            change += new_points
        start = 0 if profile_id == spender else before[profile_id]
        assert after[profile_id] == start + change, profile_id
    reversal = ledger.entries(members[last_profile])[1]
    assert reversal.kind == "reverse" and reversal.reverses == earned[last_profile].entry_id
    assert ledger.verify().ok
    assert sync_from_warehouse(ws, ledger, SETTINGS).entries_written == 0


def test_an_order_credited_through_the_api_by_its_bare_id_is_not_credited_again(ws, store):
    members = enrol_half(ws, store)
    ledger = Ledger(store, clock=lambda: NOW)
    profile_id, source, order_id = next(
        row
        for row in ws.engine.fetchall(
            "SELECT l.profile_id, o.source, o.order_id FROM profile_links l JOIN orders o "
            "ON l.kind = 'orders' AND o.source = l.source AND o.order_id = l.id "
            "WHERE o.status = 'completed' AND o.ordered_at >= ? ORDER BY o.order_id",
            [ENROLLED.replace(tzinfo=None)],
        )
        if row[0] in members
    )
    by_api = ledger.earn(
        members[profile_id], 7, reason="order (API)", source_type="order", source_id=order_id,
        actor="api", idempotency_key="api-earn-1",
    )  # fmt: skip
    sync_from_warehouse(ws, ledger, SETTINGS)
    for_order = [
        entry
        for entry in ledger.entries(members[profile_id], limit=1000)
        if entry.source_type == "order" and entry.source_id in (order_id, f"{source}:{order_id}")
    ]
    assert for_order == [by_api]


def test_acts_whose_points_would_already_have_expired_do_not_earn(ws, store):
    members = enrol_half(ws, store)
    ledger = Ledger(store, expiry_months=12, clock=lambda: NOW)
    report = sync_from_warehouse(ws, ledger, SETTINGS)
    # Earned from 2025-07-01 on; what happened between enrolment and then had expired.
    cutoff = datetime(2025, 7, 1, tzinfo=UTC)
    assert report.skipped["already_expired"] > 0
    expected = expected_balances(ws, ledger, members, since=cutoff)
    got = balances(ledger, members)
    # An act exactly at the cutoff would have expired at NOW: none falls on it to the second.
    assert got == expected


def test_facts_become_events_linked_to_the_members_profiles(ws, store):
    members = enrol_half(ws, store)
    ledger = Ledger(store, clock=lambda: NOW)
    sync_from_warehouse(ws, ledger, SETTINGS)
    spender = next(m for m in members.values() if ledger.member(m).balance >= 10)
    redemption = ledger.redeem(
        spender, 10, reason="voucher", actor="test", idempotency_key="voucher-1"
    )
    with store.read() as conn:
        n_entries = conn.exec_driver_sql(
            "SELECT count(*) FROM ledger_entries WHERE kind IN ('earn', 'redeem')"
        ).scalar()
    loaded = facts_to_warehouse(ws, ledger)
    assert loaded == len(members) + n_entries
    version = ws.data_version
    assert facts_to_warehouse(ws, ledger) == 0  # idempotent, and the warehouse untouched
    assert ws.data_version == version

    ws.profiles.ensure_current()
    linked = dict(
        ws.engine.fetchall(
            "SELECT event_id, profile_id FROM profile_events "
            "WHERE touchpoint IN ('loyalty_enrol', 'loyalty_earn', 'loyalty_redeem')"
        )
    )
    assert len(linked) == loaded
    profile_of = {m: p for p, m in members.items()}
    for member_id, profile_id in profile_of.items():
        assert linked[f"loyalty-enrol-{member_id}"] == profile_id
    assert linked[f"loyalty-{redemption.entry_id}"] == profile_of[spender]
    for member_id in list(members.values())[:20]:
        for entry in ledger.entries(member_id):
            if entry.kind in ("earn", "redeem"):
                assert linked[f"loyalty-{entry.entry_id}"] == profile_of[member_id]
    stages = ws.engine.fetchall(
        "SELECT touchpoint, stage, owner FROM touchpoints "
        "WHERE touchpoint IN ('loyalty_enrol', 'loyalty_earn', 'loyalty_redeem') ORDER BY 1"
    )
    assert stages == [
        ("loyalty_earn", "own", "loyalty"),
        ("loyalty_enrol", "own", "loyalty"),
        ("loyalty_redeem", "own", "loyalty"),
    ]
    properties = json.loads(
        ws.engine.scalar(
            "SELECT properties FROM events WHERE event_id = ?", [f"loyalty-{redemption.entry_id}"]
        )
    )
    assert properties["points"] == 10 and properties["reason"] == "voucher"
    assert properties["entry_id"] == redemption.entry_id
    earned_at = ws.engine.scalar(
        "SELECT min(occurred_at) FROM events WHERE touchpoint = 'loyalty_earn'"
    )
    assert earned_at >= ENROLLED.replace(tzinfo=None)  # dated by the act, not by the sync


# -- the command line ------------------------------------------------------------------------
RUNNER = CliRunner()


def cli_json(*args: str) -> Any:
    """Run a command in this process (fast) and parse its JSON document."""
    result = RUNNER.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def one_line_error(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_round_trip(tmp_path, data_files):
    path, ws_ = tmp_path / "ws", str(tmp_path / "ws")
    with cxloop.Workspace.init(path) as ws:
        ws.ingest(data_files)
        ws.profiles.ensure_current()
        email, profile_id = ws.engine.fetchone(
            "SELECT p.email, p.profile_id FROM profiles p "
            "JOIN profile_records pr USING (profile_id) "
            "JOIN orders o ON o.source = pr.source AND o.customer_id = pr.customer_id "
            "WHERE p.email IS NOT NULL AND o.status = 'completed' AND o.ordered_at >= ? "
            "GROUP BY ALL ORDER BY count(*) DESC, p.profile_id LIMIT 1",
            [ENROLLED.replace(tzinfo=None)],
        )
    config = path / "cxloop.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("expiry_months = 24", "expiry_months = 0"), encoding="utf-8")

    member = cli_json("loyalty", "enrol", ws_, email, "--enrolled-at", "2025-01-01")
    assert member["profile_id"] == profile_id and member["balance"] == 0
    assert member["enrolled_at"] == ENROLLED.isoformat()
    member_id = member["member_id"]
    assert cli_json("loyalty", "enrol", ws_, profile_id)["member_id"] == member_id

    report = cli_json("loyalty", "sync", ws_)
    assert report["orders_earned"] >= 1 and report["facts_loaded"] >= 2
    with cxloop.Workspace.open(path) as ws, ProgramStore.open(path) as store:
        ledger = Ledger(store, expiry_months=None)
        expected = expected_balances(ws, ledger, {profile_id: member_id})
    shown = cli_json("loyalty", "member", ws_, member_id)
    assert shown["balance"] == expected[profile_id] > 0
    assert sum(lot["remaining"] for lot in shown["lots"]) == shown["balance"]
    assert all(lot["expires_at"] is None for lot in shown["lots"])  # expiry_months = 0

    # Ledger commands never open the warehouse: they work while another process (here this
    # one, as `cxloop serve` would) holds its lock.
    with cxloop.Workspace.open(path):
        first = cli_json("loyalty", "earn", ws_, member_id, "25", "--reason", "goodwill",
                         "--key", "gw-1")  # fmt: skip
        assert first["balance"] == expected[profile_id] + 25
        replay = cli_json("loyalty", "earn", ws_, member_id, "25", "--reason", "goodwill",
                          "--key", "gw-1")  # fmt: skip
        assert replay["entry_id"] == first["entry_id"]
        assert replay["balance"] == first["balance"]  # nothing written twice
        too_much = run_cli("loyalty", "redeem", ws_, member_id, str(first["balance"] + 1),
                           "--reason", "tv", "--key", "r-1")  # fmt: skip
        line = one_line_error(too_much)
        assert "never goes below zero" in line and f"{first['balance']:,}" in line
        reused = RUNNER.invoke(
            app, ["loyalty", "redeem", ws_, member_id, "5", "--reason", "mug", "--key", "gw-1"]
        )
        assert isinstance(reused.exception, IdempotencyConflict)
        spent = cli_json("loyalty", "redeem", ws_, member_id, "5", "--reason", "mug",
                         "--key", "r-2")  # fmt: skip
        assert spent["points"] == -5 and spent["balance"] == first["balance"] - 5
        entries = cli_json("loyalty", "ledger", ws_, member_id)
        assert [e["kind"] for e in entries[:2]] == ["redeem", "earn"]
        assert cli_json("loyalty", "expire", ws_, "--as-of", "2100-01-01")["lots"] == 0
        verified = cli_json("loyalty", "verify", ws_)
        assert verified["ok"] and verified["members"] == 1
        table = RUNNER.invoke(app, ["loyalty", "member", ws_, member_id])
        assert table.exit_code == 0 and f"{spent['balance']:,} points" in table.stdout

    again = cli_json("loyalty", "sync", ws_)
    assert again["entries_written"] == 0 and again["facts_loaded"] == 2  # the earn, the redeem
    assert cli_json("loyalty", "sync", ws_)["facts_loaded"] == 0

    unknown = run_cli("loyalty", "enrol", ws_, "nobody@example.invalid")
    assert unknown.returncode == 66 and "no profile matches" in one_line_error(unknown)
    missing = RUNNER.invoke(app, ["loyalty", "member", ws_, "mem_0000000000000000"])
    assert isinstance(missing.exception, UnknownMember)

    # A cached balance that disagrees with the entries is reported, and the exit code says so.
    with ProgramStore.open(path) as store, store.write() as conn:
        conn.exec_driver_sql("UPDATE members SET balance = balance + 1")
    broken = run_cli("loyalty", "verify", ws_)
    assert broken.returncode == 1 and "problems" in broken.stderr
    assert member_id in broken.stderr
