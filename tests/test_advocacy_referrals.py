"""Referrals end to end through ingest: attribution, fraud flags, holding, rewards, reversals;
public reviews rewarded once as they load."""

from __future__ import annotations

import sqlalchemy as sa

from cxloop.programs.advocacy.conversions import conversions
from cxloop.programs.advocacy.reactions import close_ledgers, program_ledger
from cxloop.programs.tables import ledger_entries
from tests.advocacy_fixtures import enable_advocacy
from tests.conftest import write

CUSTOMERS = """customer_id,source,email,phone,address,postcode
S1,shop,alice@x.org,+14155550100,1 Oak Street,10001
S2,shop,bob@y.org,,9 Elm Road,10002
S3,shop,a.lice+promo@x.org,,,
S4,shop,carol@z.org,,1 OAK ST,10001
"""
ORDERS = """order_id,customer_id,source,ordered_at,amount,status,referral_code
O1,S1,shop,2026-01-01T10:00:00Z,50.00,completed,
O2,S2,shop,2026-02-01T10:00:00Z,80.00,{o2},NW-1
O3,S3,shop,2026-02-02T10:00:00Z,20.00,completed,NW-1
O4,S4,shop,2026-02-03T10:00:00Z,30.00,completed,NW-1
O5,S2,shop,2026-02-05T10:00:00Z,40.00,completed,NW-1
"""
REFERRALS = """referral_id,referrer_id,source,code,referee_id,created_at,converted_order_id
RF1,S1,shop,NW-1,S2,2026-01-20T10:00:00,O2
"""
FEEDBACK = """response_id,customer_id,source,submitted_at,metric,score,text,public
R1,S1,shop,2026-01-10T10:00:00Z,rating,5,Lovely shoes,true
R2,S2,shop,2026-02-10T10:00:00Z,rating,2,,true
"""


def points(ws, source_type: str) -> dict[str, int]:
    ledger = program_ledger(ws)
    with ledger.store.read() as conn:
        rows = conn.execute(
            sa.select(ledger_entries.c.source_id, sa.func.sum(ledger_entries.c.points))
            .where(ledger_entries.c.source_type == source_type)
            .group_by(ledger_entries.c.source_id)
        ).all()
    return {r[0]: int(r[1]) for r in rows}


def test_referrals_and_reviews_end_to_end(ws, tmp_path):
    enable_advocacy(ws, holding_days=30)
    try:
        files = [
            write(tmp_path / "a" / "customers.csv", CUSTOMERS),
            write(tmp_path / "a" / "orders.csv", ORDERS.format(o2="completed")),
            write(tmp_path / "a" / "referrals.csv", REFERRALS),
            write(tmp_path / "a" / "feedback.csv", FEEDBACK),
        ]
        report = ws.ingest(files)
        outcome = {r.name: r for r in report.reactions}["advocacy"]
        assert outcome.ok, outcome.error
        states = {c["conversion_id"]: c for c in conversions(program_ledger(ws).store)}
        assert states["shop:O2"]["status"] == "rewarded"
        assert states["shop:O2"]["referral_ref"] == "shop:RF1"
        assert "shared_email" in states["shop:O3"]["flags"]
        assert states["shop:O3"]["status"] == "flagged"
        assert states["shop:O4"]["flags"] == ["shared_address"]
        assert "shop:O5" not in states  # not the referee's first order
        assert points(ws, "referral") == {"shop:RF1": 500}
        assert points(ws, "referee") == {"shop:RF1": 250}
        assert points(ws, "review") == {"shop:R1": 50}  # R2 has no text: not a review

        # The same rows again, and a return of the converting order: the review is not paid
        # twice, the referral's two rewards are reversed.
        again = [
            write(tmp_path / "b" / "feedback.csv", FEEDBACK.replace("Lovely", "Lovely!")),
            write(tmp_path / "b" / "orders.csv", ORDERS.format(o2="returned")),
        ]
        ws.ingest(again)
        assert points(ws, "review") == {"shop:R1": 50}
        assert points(ws, "referral") == {"shop:RF1": 0}
        assert points(ws, "referee") == {"shop:RF1": 0}
        states = {c["conversion_id"]: c for c in conversions(program_ledger(ws).store)}
        assert states["shop:O2"]["status"] == "reversed"
    finally:
        close_ledgers()


def test_a_disabled_program_does_nothing(ws, tmp_path):
    report = ws.ingest([write(tmp_path / "feedback.csv", FEEDBACK)])
    assert [r.name for r in report.reactions if r.summary] == []
    assert not (ws.path / "programs.sqlite").exists()


def test_erasure_unlinks_the_person_from_the_advocacy_tables(ws, tmp_path):
    from cxloop.privacy import erase_person, export_person
    from cxloop.programs.advocacy import tables as adv
    from cxloop.programs.advocacy.referrals import referral_code

    enable_advocacy(ws)
    try:
        ws.ingest([
            write(tmp_path / "customers.csv", CUSTOMERS),
            write(tmp_path / "orders.csv", ORDERS.format(o2="completed")),
            write(tmp_path / "referrals.csv", REFERRALS),
            write(tmp_path / "feedback.csv", FEEDBACK),
        ])  # fmt: skip
        alice = ws.profiles.lookup("alice@x.org", timeline_limit=0)["profile_id"]
        store = program_ledger(ws).store
        referral_code(store, alice)
        exported = export_person(ws, "alice@x.org")["advocacy"]
        assert exported["referral_code"] and exported["rewards"] and exported["referrals"]
        erase_person(ws, "alice@x.org", reason="ticket 1")
        with store.read() as conn:
            for table in (adv.advocates, adv.advocacy_asks, adv.advocacy_rewards,
                          adv.referral_codes, adv.referral_conversions):  # fmt: skip
                for row in conn.execute(sa.select(table)).all():
                    assert alice not in [str(v) for v in row], (table.name, row)
    finally:
        close_ledgers()


def test_a_store_code_attributes_first_orders_and_velocity_holds_the_excess(ws, tmp_path):
    from cxloop.programs.advocacy.referrals import referral_code

    enable_advocacy(ws, holding_days=30, velocity_max=5, velocity_days=7)
    try:
        ws.ingest([write(tmp_path / "a" / "customers.csv", CUSTOMERS)])
        alice = ws.profiles.lookup("alice@x.org", timeline_limit=0)["profile_id"]
        code = referral_code(program_ledger(ws).store, alice)
        people = "".join(f"N{i},shop,new{i}@w{i}.org,,{i} Pine Way,2{i:04d}\n" for i in range(7))
        orders = "".join(
            f"Q{i},N{i},shop,2026-03-0{1 + i // 3}T1{i}:00:00Z,25.00,completed,{code}\n"
            for i in range(7)
        )
        ws.ingest([
            write(tmp_path / "b" / "customers.csv", CUSTOMERS.split("\n")[0] + "\n" + people),
            write(tmp_path / "b" / "orders.csv", ORDERS.split("\n")[0] + "\n" + orders),
        ])  # fmt: skip
        states = {c["conversion_id"]: c for c in conversions(program_ledger(ws).store)}
        assert len(states) == 7 and all(c["code"] == code for c in states.values())
        velocity = sorted(k for k, c in states.items() if c["flags"] == ["velocity"])
        assert velocity == ["shop:Q5", "shop:Q6"]  # the 6th and 7th within 7 days
        assert {c["status"] for k, c in states.items() if k not in velocity} == {"rewarded"}
    finally:
        close_ledgers()


def test_a_review_completes_the_review_ask_made_before_it(ws, tmp_path):
    from datetime import UTC, datetime

    from cxloop.programs.advocacy import issue_ask

    enable_advocacy(ws, ask_points=("survey:5", "review:20", "story:0", "referral:0",
                                    "reference:0"))  # fmt: skip
    try:
        nps = "N1,S1,shop,2026-01-05T10:00:00Z,nps,10,,false\n"
        ws.ingest(
            [
                write(tmp_path / "a" / "customers.csv", CUSTOMERS),
                write(tmp_path / "a" / "feedback.csv", FEEDBACK.split("\n")[0] + "\n" + nps),
            ]
        )
        store = program_ledger(ws).store
        decision = issue_ask(store, ws, "S1", "review", source="test",
                             at=datetime(2026, 1, 8, tzinfo=UTC))  # fmt: skip
        assert decision.issued, decision
        early = "R0,S1,shop,2026-01-07T10:00:00Z,rating,5,Before the ask,true\n"
        ws.ingest([write(tmp_path / "b" / "feedback.csv", FEEDBACK.split("\n")[0] + "\n" + early)])
        assert points(ws, "advocacy_ask") == {}  # a review before the ask completes nothing
        late = "R9,S1,shop,2026-01-20T10:00:00Z,rating,5,After the ask,true\n"
        ws.ingest([write(tmp_path / "c" / "feedback.csv", FEEDBACK.split("\n")[0] + "\n" + late)])
        assert points(ws, "advocacy_ask") == {decision.ask_id: 20}
        assert points(ws, "review") == {"shop:R0": 50, "shop:R9": 50}
    finally:
        close_ledgers()


def test_switching_the_program_on_later_catches_up_once(ws, tmp_path):
    from cxloop.programs.advocacy.operations import catch_up

    ws.ingest([
        write(tmp_path / "customers.csv", CUSTOMERS),
        write(tmp_path / "orders.csv", ORDERS.format(o2="completed")),
        write(tmp_path / "referrals.csv", REFERRALS),
        write(tmp_path / "feedback.csv", FEEDBACK),
    ])  # fmt: skip
    enable_advocacy(ws)
    try:
        first = catch_up(ws)
        assert first["reviews_rewarded"] == 1 and first["referrals_rewarded"] == 1
        assert catch_up(ws).get("reviews_rewarded") is None  # nothing new the second time
        assert points(ws, "review") == {"shop:R1": 50}
        assert points(ws, "referral") == {"shop:RF1": 500}
    finally:
        close_ledgers()
