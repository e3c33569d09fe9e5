"""The liability report on a small ledger worked out by hand, as of 2026-01-01 00:00 UTC.

Point value 0.0125 (so values show Decimal exactness: 473 points are 5.9125, not 5.9124999).
Two ledgers share one store: `forever` (points never expire) and `yearly` (12 months).

| when | what | lots after (remaining) |
|---|---|---|
| 2023-06-01 | A earns 1000 (forever) | LA1 1000 |
| 2024-09-15 | A earns 200 (forever) | LA2 200 |
| 2024-12-01 | B earns 500 (yearly, expires 2025-12-01) | LB1 500 |
| 2024-12-20 | E earns 10 (yearly, expires 2025-12-20) | LE1 10 |
| 2025-01-20 | C earns 75 (expires 2026-01-20) | LC3 75 |
| 2025-02-01 | B redeems 100 | LB1 400 |
| 2025-02-15 | C earns 120 (expires 2026-02-15) | LC2 120 |
| 2025-03-01 | D earns 100 | LD1 100 |
| 2025-03-10 | A redeems 300 (FIFO: the older lot) | LA1 700 |
| 2025-04-01 | D's earn reversed (a return) | LD1 0 |
| 2025-05-01/02 | D earns 40, redeems 40 | LD2 0 |
| 2025-06-30 | tiers (points, 12 months): A silver (200), B gold (500), C silver (195) | |
| 2025-07-01 | B earns 50 (expires 2026-07-01) | LB3 50 |
| 2025-08-01/02 | B redeems 30 (from LB1, first to expire), then it is reversed | LB1 400 |
| 2025-10-15 | C earns 333 | LC1 333 |
| 2025-11-20 | B earns 80 | LB2 80 |
| 2025-12-05 | expiry run: LB1 expires (400) | LB1 0 |
| 2025-12-28/29 | C adjusts +60 (lot LC4), then -20 (from LC3, first to expire) | LC4 60, LC3 55 |
| after as_of | A earns 999, B redeems 10, tiers again, an expiry run: none of it counts | |

As of 2026-01-01: A 900 (LA1 700 aged 31 months, LA2 200 aged 15), B 130 (LB3 50 aged
exactly 6 months, LB2 80), C 568 (LC1 333, LC4 60 under 3 months; LC2 120, LC3 55 aged 6-12),
D 0, E 10 (LE1, 12-24 months, overdue for expiry since 2025-12-20). Outstanding 1608 points,
20.1000 in value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from scipy import stats as sps

from cxloop.config import LoyaltySettings
from cxloop.programs.loyalty import Ledger
from cxloop.programs.loyalty.liability import breakage_estimate, liability_report
from cxloop.programs.loyalty.tiers import assign_tiers
from cxloop.programs.store import ProgramStore

SETTINGS = LoyaltySettings(
    point_value="0.0125",
    tiers=("member:0:1", "silver:100:1.25", "gold:500:1.5"),
    tier_basis="points",
    tier_window_months=12,
)
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = utc(2023, 1, 1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Iterator[tuple[ProgramStore, dict[str, str]]]:
    """The ledger of the table above, built once."""
    store = ProgramStore.open(tmp_path_factory.mktemp("liability") / "ws")
    clock = Clock()
    forever = Ledger(store, expiry_months=None, clock=clock)
    yearly = Ledger(store, expiry_months=12, clock=clock)
    keys = iter(range(10**6))
    ids: dict[str, str] = {}

    def at(*args: int) -> datetime:
        clock.now = utc(*args)
        return clock.now

    def earn(ledger: Ledger, who: str, points: int, when: datetime) -> int:
        return ledger.earn(
            ids[who],
            points,
            reason="order",
            source_type="order",
            source_id=f"o{next(keys)}",
            actor="test",
            idempotency_key=f"k{next(keys)}",
            at=when,
        ).entry_id

    def redeem(who: str, points: int) -> int:
        return yearly.redeem(
            ids[who], points, reason="reward", actor="test", idempotency_key=f"k{next(keys)}"
        ).entry_id

    def reverse(entry_id: int) -> None:
        yearly.reverse(entry_id, reason="undo", actor="test", idempotency_key=f"k{next(keys)}")

    def adjust(who: str, points: int) -> None:
        yearly.adjust(
            ids[who], points, reason="ops", actor="test", idempotency_key=f"k{next(keys)}"
        )

    at(2023, 1, 1)
    ids["A"] = yearly.enrol("pA", actor="test").member_id
    earn(forever, "A", 1000, at(2023, 6, 1))
    at(2024, 1, 1)
    ids["B"] = yearly.enrol("pB", actor="test").member_id
    ids["E"] = yearly.enrol("pE", actor="test").member_id
    earn(forever, "A", 200, at(2024, 9, 15))
    earn(yearly, "B", 500, at(2024, 12, 1))
    earn(yearly, "E", 10, at(2024, 12, 20))
    at(2025, 1, 1)
    ids["C"] = yearly.enrol("pC", actor="test").member_id
    ids["D"] = yearly.enrol("pD", actor="test").member_id
    earn(yearly, "C", 75, at(2025, 1, 20))
    at(2025, 2, 1)
    redeem("B", 100)
    earn(yearly, "C", 120, at(2025, 2, 15))
    d_earn = earn(yearly, "D", 100, at(2025, 3, 1))
    at(2025, 3, 10)
    redeem("A", 300)
    at(2025, 4, 1)
    reverse(d_earn)
    earn(yearly, "D", 40, at(2025, 5, 1))
    at(2025, 5, 2)
    redeem("D", 40)
    assign_tiers(yearly, SETTINGS, at(2025, 6, 30))
    earn(yearly, "B", 50, at(2025, 7, 1))
    at(2025, 8, 1)
    b_redeem = redeem("B", 30)
    at(2025, 8, 2)
    reverse(b_redeem)
    earn(yearly, "C", 333, at(2025, 10, 15))
    earn(yearly, "B", 80, at(2025, 11, 20))
    yearly.expire(at(2025, 12, 5), actor="test")
    at(2025, 12, 28)
    adjust("C", 60)
    at(2025, 12, 29)
    adjust("C", -20)
    # After as_of: must not count.
    earn(forever, "A", 999, at(2026, 1, 5))
    at(2026, 1, 10)
    redeem("B", 10)
    assign_tiers(yearly, SETTINGS, at(2026, 1, 15))
    yearly.expire(at(2026, 1, 25), actor="test")
    yield store, ids
    store.close()


@pytest.fixture(scope="module")
def report(book):
    store, _ = book
    return liability_report(store, SETTINGS, AS_OF, currency="EUR")


def test_outstanding_and_members(report):
    assert report["as_of"] == "2026-01-01T00:00:00+00:00"
    assert report["point_value"] == "0.0125" and report["currency"] == "EUR"
    assert report["outstanding"] == {"points": 1608, "value": "20.1000", "lots": 9}
    assert report["members"] == {"enrolled": 5, "with_balance": 4}  # D holds nothing
    assert report["reconciled"] is True


def test_by_age_of_lot(report):
    rows = {r["age_months"]: (r["points"], r["value"], r["lots"]) for r in report["by_age"]}
    assert rows == {
        "0-3": (473, "5.9125", 3),  # LB2 80 + LC1 333 + LC4 60
        "3-6": (0, "0.0000", 0),
        "6-12": (225, "2.8125", 3),  # LB3 50 (exactly 6 months) + LC2 120 + LC3 55
        "12-24": (210, "2.6250", 2),  # LA2 200 + LE1 10
        "24+": (700, "8.7500", 1),  # LA1
    }
    assert [r["to_months"] for r in report["by_age"]] == [3, 6, 12, 24, None]
    values = sum(Decimal(r["value"]) for r in report["by_age"])
    assert values == Decimal(report["outstanding"]["value"])  # exact, not approximately


def test_by_tier_as_held_on_the_day(report):
    # Tiers at 2025-06-30: A silver, B gold, C silver, D and E member; the run of
    # 2026-01-15 (A and C gold, B silver) is after as_of and does not count.
    assert report["by_tier"] == [
        {"tier": "member", "members_with_balance": 1, "points": 10, "value": "0.1250"},
        {"tier": "silver", "members_with_balance": 2, "points": 1468, "value": "18.3500"},
        {"tier": "gold", "members_with_balance": 1, "points": 130, "value": "1.6250"},
    ]


def test_expiring_and_overdue(report):
    assert report["expiring"] == [
        {"days": 30, "points": 55, "value": "0.6875", "lots": 1},  # LC3 on 2026-01-20
        {"days": 90, "points": 175, "value": "2.1875", "lots": 2},  # and LC2 on 2026-02-15
    ]
    # LE1 passed its date on 2025-12-20 and no expiry run has taken it yet.
    assert report["overdue_expiry"] == {"points": 10, "value": "0.1250", "lots": 1}


def test_flows_over_the_window(report):
    window = report["window"]
    assert window["start"] == "2025-01-01T00:00:00+00:00"
    assert window["opening_points"] == 1710  # A 1200, B 500, E 10
    assert window["earned"] == 50 + 80 + 75 + 120 + 333 + 100 + 40
    assert window["redeemed"] == 300 + 100 + 30 + 40  # the reversed 30 was a redemption
    assert window["expired"] == 400
    assert (window["adjusted_up"], window["adjusted_down"]) == (60, 20)
    assert window["reversed"] == {
        "entries": 2,
        "taken_back": 100,  # D's returned order
        "given_back": 30,  # B's reversed redemption
        "shortfall": 0,
    }
    assert window["net"] == -102 and window["entries"] == 16
    assert window["opening_points"] + window["net"] == window["closing_points"] == 1608


def test_breakage_excludes_reversals(report):
    """Per member, expired y and expired + redeemed-and-not-reversed x in the window:
    A (0, 300), B (400, 500: 100 redeemed, the 30 reversed), D (0, 40: its reversed earn is
    neither). R = 400 / 840."""
    b = report["breakage"]
    assert b["rate"] == str((Decimal(400) / Decimal(840)).quantize(Decimal("0.000001")))
    assert b["rate"] == "0.476190"
    assert (b["n"], b["expired_points"], b["redeemed_points"]) == (3, 400, 440)
    # The interval of 3 clusters is wide (t with 2 df): clipped to [0, 1].
    assert (b["ci_low"], b["ci_high"]) == ("0.000000", "1.000000")
    expected = reference_interval([(0, 300), (400, 500), (0, 40)])
    assert expected[0] < 0 and expected[1] > 1


def reference_interval(pairs):
    """The ratio estimator's interval in plain floats (Cochran 1977, §6.3-6.4), unclipped."""
    y = np.array([p[0] for p in pairs], dtype=float)
    x = np.array([p[1] for p in pairs], dtype=float)
    n = len(pairs)
    r = y.sum() / x.sum()
    var = n / (n - 1) * ((y - r * x) ** 2).sum() / x.sum() ** 2
    half = sps.t.ppf(0.975, n - 1) * np.sqrt(var)
    return r - half, r + half


def test_breakage_interval_against_a_float_reference():
    pairs = [(20, 100), (15, 50), (60, 200), (20, 80), (30, 90)]
    pairs += [(0, 20), (15, 60), (90, 300), (10, 40), (25, 110)]
    got = breakage_estimate(pairs)
    low, high = reference_interval(pairs)
    assert 0 < low < high < 1
    assert got["rate"] == "0.271429"  # 285 / 1050
    assert float(got["ci_low"]) == pytest.approx(low, abs=1.5e-6)
    assert float(got["ci_high"]) == pytest.approx(high, abs=1.5e-6)
    assert got["n"] == 10 and got["expired_points"] == 285 and got["redeemed_points"] == 765


def test_breakage_without_enough_data():
    assert breakage_estimate([])["rate"] is None
    one = breakage_estimate([(10, 40)])
    assert (one["rate"], one["n"], one["ci_low"], one["ci_high"]) == ("0.250000", 1, None, None)


def test_the_document_is_json_with_integers_and_decimal_text_only(report):
    def walk(value):
        assert not isinstance(value, float | Decimal), value
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(report)
    assert json.loads(json.dumps(report)) == report


def test_an_earlier_date_shows_the_books_as_they_were(book):
    """As of 2025-06-30: A 900, B 400 (LB1; the later earns do not exist yet), C 195,
    D 0, E 10: 1505 points; nothing has expired yet."""
    store, _ = book
    before = liability_report(store, SETTINGS, utc(2025, 6, 30))
    assert before["outstanding"]["points"] == 900 + 400 + 195 + 10
    assert before["window"]["expired"] == 0 and before["reconciled"]
    assert before["breakage"]["rate"] == "0.000000"


def test_today_reconciles_with_every_later_entry(book):
    store, _ = book
    now = liability_report(store, SETTINGS, utc(2026, 2, 1))
    # After as_of: A +999, B -10, and the run of 2026-01-25 expires LE1 (10) and LC3 (55).
    assert now["outstanding"]["points"] == 1608 + 999 - 10 - 10 - 55
    assert now["overdue_expiry"]["points"] == 0 and now["reconciled"]


def test_an_empty_program(tmp_path):
    with ProgramStore.open(tmp_path / "ws") as store:
        empty = liability_report(store, SETTINGS, AS_OF)
    assert empty["outstanding"] == {"points": 0, "value": "0.0000", "lots": 0}
    assert empty["breakage"]["rate"] is None and empty["breakage"]["n"] == 0
    assert [r["points"] for r in empty["by_tier"]] == [0, 0, 0] and empty["reconciled"]


def test_cli_liability(tmp_path):
    """Default settings (point value 0.01): 1,234 points earned now are worth 12.34 USD."""
    from cxloop.workspace import Workspace
    from tests.conftest import run_cli

    Workspace.init(tmp_path / "ws", brand="Northwind").close()
    with ProgramStore.open(tmp_path / "ws") as store:
        ledger = Ledger(store)
        member = ledger.enrol("P0123456789abcdef", actor="test").member_id
        ledger.earn(
            member,
            1234,
            reason="welcome",
            source_type=None,
            source_id=None,
            actor="test",
            idempotency_key="k1",
        )
    result = run_cli("loyalty", "liability", str(tmp_path / "ws"), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["outstanding"] == {"points": 1234, "value": "12.34", "lots": 1}
    assert doc["currency"] == "USD" and doc["reconciled"] is True
    assert doc["by_age"][0]["points"] == 1234
    text = run_cli("loyalty", "liability", str(tmp_path / "ws"), "--as-of", "2020-01-01")
    assert text.returncode == 0, text.stderr
    assert "0 points outstanding" in text.stdout and "Breakage: no points" in text.stdout
    text = run_cli("loyalty", "liability", str(tmp_path / "ws"))
    assert "1,234 points outstanding, worth 12.34 USD" in text.stdout, text.stdout
