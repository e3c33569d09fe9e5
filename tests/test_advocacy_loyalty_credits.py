"""Acts the loyalty program already credited are not paid again by advocacy, whichever form of
the source reference the credit used (the sync's `{source}:{id}` or the API's bare id), and a
referral credited by loyalty is taken back like advocacy's own rewards when its order returns."""

from __future__ import annotations

from cxloop.programs.advocacy.conversions import conversions
from cxloop.programs.advocacy.operations import catch_up
from cxloop.programs.advocacy.reactions import close_ledgers, program_ledger
from cxloop.programs.advocacy.rewards import reward_act
from cxloop.programs.loyalty import Ledger
from tests.advocacy_fixtures import config_with, enable_advocacy
from tests.conftest import write
from tests.programs_db import program_store  # noqa: F401
from tests.test_advocacy_referrals import CUSTOMERS, ORDERS, REFERRALS, points


def test_a_review_the_loyalty_api_credited_under_its_bare_id_is_not_paid_again(
    program_store,  # noqa: F811
):
    ledger = Ledger(program_store)
    member = ledger.enrol("P0000000000000004", actor="test")
    ledger.earn(member.member_id, 40, reason="review R7", source_type="review", source_id="R7",
                actor="api", idempotency_key="api-review-R7")  # fmt: skip
    outcome = reward_act(
        ledger, config_with(), act_key="review:shop:R7", act="review",
        profile_id="P0000000000000004", points=50, reason="public review shop:R7",
        source_type="review", source_id="shop:R7",
    )  # fmt: skip
    assert outcome.status == "credited_by_loyalty"
    assert ledger.member(member.member_id).balance == 40


def test_a_referral_loyalty_credited_is_reversed_when_its_order_returns(ws, tmp_path):
    ws.ingest([
        write(tmp_path / "a" / "customers.csv", CUSTOMERS),
        write(tmp_path / "a" / "orders.csv", ORDERS.format(o2="completed")),
        write(tmp_path / "a" / "referrals.csv", REFERRALS),
    ])  # fmt: skip
    enable_advocacy(ws, holding_days=30)
    try:
        ledger = program_ledger(ws)
        alice = ws.profiles.lookup("alice@x.org", timeline_limit=0)["profile_id"]
        member = ledger.enrol(alice, actor="test")
        ledger.earn(member.member_id, 300, reason="converted referral shop:RF1",
                    source_type="referral", source_id="shop:RF1", actor="sync",
                    idempotency_key="referral:shop:RF1")  # fmt: skip
        catch_up(ws)
        states = {c["conversion_id"]: c["status"] for c in conversions(ledger.store)}
        assert states["shop:O2"] == "rewarded"
        assert points(ws, "referral") == {"shop:RF1": 300}  # loyalty's credit, not paid again
        assert points(ws, "referee") == {"shop:RF1": 250}
        ws.ingest([write(tmp_path / "b" / "orders.csv", ORDERS.format(o2="returned"))])
        assert points(ws, "referee") == {"shop:RF1": 0}
        assert points(ws, "referral") == {"shop:RF1": 0}
        assert ledger.member(member.member_id).balance == 0
    finally:
        close_ledgers()
