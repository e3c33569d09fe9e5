"""Members vs non-members in the scorecard (`--by membership`) and in the segments document.

A small workspace worked out by hand (default segment thresholds, no purchase model):

| customer | completed orders (revenue) | NPS | segment | member |
|---|---|---|---|---|
| c1 | 2 (150) | 10 | loyal | yes |
| c2 | 1 (30) | 9 | fan | no |
| c3 | 2 (50) | 4 | captive | yes |
| c4 | 1 (40) | 7 | other | no |
| c5 | 2 (25) | 2 | captive | yes |

A fourth member holds a profile id that is no longer a profile (profiles merged since).
Members: revenue 225 from 6 orders and 3 customers, NPS 100 x (1 - 2) / 3 = -33.3;
non-members: 70 from 2 orders and 2 customers, NPS 100 x (1 - 0) / 2 = 50.
"""

from __future__ import annotations

import json

import pytest

import cxloop
from cxloop.analytics.periods import Period
from cxloop.analytics.scorecard import Scope, build_scorecard
from cxloop.analytics.segments import SegmentsSettings, build_segments
from cxloop.programs.loyalty import Ledger
from cxloop.programs.store import DATABASE_FILE, ProgramStore
from tests.conftest import run_cli, write

CUSTOMERS = "customer_id,email\n" + "".join(f"c{i},c{i}@x.com\n" for i in range(1, 6))
ORDERS = """order_id,customer_id,ordered_at,amount,status
o1,c1,2025-01-05,100,completed
o2,c1,2025-02-10,50,completed
o3,c2,2025-01-20,30,completed
o4,c3,2025-02-03,20,completed
o5,c3,2025-03-05,30,completed
o6,c4,2025-03-01,40,completed
o7,c5,2025-01-15,10,completed
o8,c5,2025-02-15,15,completed
"""
FEEDBACK = """response_id,customer_id,submitted_at,metric,score
r1,c1,2025-03-10,nps,10
r2,c2,2025-03-10,nps,9
r3,c3,2025-03-10,nps,4
r4,c4,2025-03-10,nps,7
r5,c5,2025-03-10,nps,2
"""
MEMBERS = ("c1", "c3", "c5")


def make_workspace(base, *, members: tuple[str, ...]):
    ws = cxloop.Workspace.init(base / "ws", brand="Northwind")
    files = [
        write(base / f"{name}.csv", text)
        for name, text in [("customers", CUSTOMERS), ("orders", ORDERS), ("feedback", FEEDBACK)]
    ]
    assert all(f.rejected == 0 for f in ws.ingest(files).files)
    if members:
        ws.profiles.ensure_current()
        with ProgramStore.open(ws.path) as store:
            ledger = Ledger(store)
            for customer in members:
                ledger.enrol(profile_of(ws, customer), actor="test")
            ledger.enrol("P0000000000000000", actor="test")  # merged away since
    return ws


def profile_of(ws, customer: str) -> str:
    order = {"c1": "o1", "c3": "o4", "c5": "o7"}[customer]
    return ws.engine.scalar(
        "SELECT profile_id FROM profile_links WHERE kind = 'orders' AND id = ?", [order]
    )


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    workspace = make_workspace(tmp_path_factory.mktemp("members"), members=MEMBERS)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def no_program(tmp_path_factory):
    workspace = make_workspace(tmp_path_factory.mktemp("no_program"), members=())
    yield workspace
    workspace.close()


def groups(doc):
    return {b["group"]: b["metrics"] for b in doc["breakdown"]}


def test_scorecard_by_membership(ws):
    doc = build_scorecard(ws, Scope(period=Period.MONTH, by="membership"))
    assert doc["by"] == "membership"
    by = groups(doc)
    assert set(by) == {"member", "non-member"}
    member, other = by["member"], by["non-member"]
    assert (member["revenue"]["value"], member["orders"]["value"]) == (225, 6)
    assert (other["revenue"]["value"], other["orders"]["value"]) == (70, 2)
    assert (member["customers"]["value"], other["customers"]["value"]) == (3, 2)
    assert member["nps"]["value"] == pytest.approx(-100 / 3) and member["nps"]["n"] == 3
    assert other["nps"]["value"] == pytest.approx(50.0) and other["nps"]["n"] == 2
    # Retention and repeat purchase break down by a profile attribute too.
    assert member["repeat_purchase_rate"]["value"] == pytest.approx(1.0)
    assert other["repeat_purchase_rate"]["value"] == pytest.approx(0.0)
    assert doc["notes"] == [
        "1 of 4 members' profiles are not among the current profiles (profile ids change "
        "when profiles merge; docs/loyalty.md): their records count as non-member"
    ]


def test_other_breakdowns_leave_the_program_store_alone(no_program):
    doc = build_scorecard(no_program, Scope(period=Period.MONTH, by="country"))
    assert doc["notes"] == []
    assert not (no_program.path / DATABASE_FILE).exists()


def test_without_a_program_every_profile_is_a_non_member_and_it_is_said(no_program):
    doc = build_scorecard(no_program, Scope(period=Period.MONTH, by="membership"))
    assert list(groups(doc)) == ["non-member"]
    assert groups(doc)["non-member"]["revenue"]["value"] == 295
    assert "no loyalty program store" in doc["notes"][0]
    # Looking did not create a store.
    assert not (no_program.path / DATABASE_FILE).exists()


def test_segments_membership_table(ws):
    doc = build_segments(ws, SegmentsSettings.from_config(ws, use_clv=False))
    table = doc["membership"]
    assert table["program"] is True
    assert (table["profiles"], table["members"], table["non_members"]) == (5, 3, 2)
    rows = {r["segment"]: r for r in table["segments"]}
    counts = {s: (r["profiles"], r["members"], r["non_members"]) for s, r in rows.items()}
    assert counts == {
        "loyal": (1, 1, 0),
        "captive": (2, 2, 0),
        "fan": (1, 0, 1),
        "other": (1, 0, 1),
    }
    assert rows["captive"]["member_share"]["value"] == pytest.approx(1.0)
    assert rows["captive"]["member_share"]["n"] == 2
    assert rows["captive"]["share_of_members"]["value"] == pytest.approx(2 / 3)
    assert rows["fan"]["share_of_non_members"]["value"] == pytest.approx(0.5)
    assert rows["captive"]["member_share"]["ci_low"] < 1.0  # Wilson, not a zero-width 1.0
    assert "1 of 4 members' profiles" in table["notes"][0]
    assert "membership" in doc["definitions"]


def test_segments_without_a_program(no_program):
    table = build_segments(no_program, SegmentsSettings.from_config(no_program, use_clv=False))[
        "membership"
    ]
    assert table["program"] is False and table["members"] == 0 and table["non_members"] == 5
    assert all(r["members"] == 0 for r in table["segments"])
    assert "no loyalty program store" in table["notes"][0]


def test_cli_scorecard_by_membership(tmp_path):
    ws = make_workspace(tmp_path, members=("c1",))
    ws.close()
    result = run_cli("scorecard", str(tmp_path / "ws"), "--by", "membership", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {b["group"] for b in doc["breakdown"]} == {"member", "non-member"}
    text = run_cli("scorecard", str(tmp_path / "ws"), "--by", "membership")
    assert text.returncode == 0 and "By membership" in text.stdout


def test_segments_view_shows_the_membership_table(ws, capsys):
    from cxloop.cli.segments_view import render_segments

    render_segments(build_segments(ws, SegmentsSettings.from_config(ws, use_clv=False)))
    shown = capsys.readouterr().out
    assert "Loyalty program members by segment" in shown and "members' profiles" in shown
