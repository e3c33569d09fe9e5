"""What a reward reports is what the ledger paid: an act reported again answers the points
its entry paid, a completion that paid nothing says so; and an ask completed at once by
separate processes (their own stores, their own ledger batchers) pays once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from cxloop.programs.advocacy import AdvocateFacts, decide_ask
from cxloop.programs.advocacy.operations import complete
from cxloop.programs.advocacy.rewards import reward_act
from cxloop.programs.loyalty import Ledger
from cxloop.programs.store import ProgramStore
from cxloop.programs.tables import ledger_entries
from tests.advocacy_fixtures import config_with
from tests.programs_db import STORES, fresh_database, program_store  # noqa: F401

ASKED = datetime(2026, 3, 1, tzinfo=UTC)


def _review(ledger: Ledger, points: int):
    return reward_act(
        ledger, config_with(), act_key="review:shop:R5", act="review",
        profile_id="P0000000000000005", points=points, reason="public review shop:R5",
        source_type="review", source_id="shop:R5",
    )  # fmt: skip


def test_an_act_reported_again_answers_the_points_paid(program_store):  # noqa: F811
    ledger = Ledger(program_store)
    assert _review(ledger, 50).points == 50
    again = _review(ledger, 80)  # the settings changed since: the act was paid 50
    assert (again.status, again.points) == ("already_rewarded", 50)


def test_a_completion_that_paid_nothing_reports_no_points(program_store):  # noqa: F811
    ledger = Ledger(program_store)
    cfg = config_with(enrol_on_reward=False)
    facts = AdvocateFacts("P0000000000000006", latest_nps=10, public_reviews=1)
    decision = decide_ask(program_store, cfg, facts, "story", source="t", at=ASKED)
    done = complete(ledger, cfg, decision.ask_id)
    assert done["newly_completed"] and (done["points"], done["reward"]) == (0, "not_member")


@pytest.mark.parametrize("kind", STORES)
def test_an_ask_completed_at_once_by_separate_processes_pays_once(kind, tmp_path):
    def run(url: str | None) -> None:
        stores = [ProgramStore.open(tmp_path, url, pool_size=4) for _ in range(2)]
        try:
            ledgers = [Ledger(s) for s in stores]
            cfg = config_with()
            facts = AdvocateFacts("P0000000000000007", latest_nps=10, public_reviews=1)
            decision = decide_ask(stores[0], cfg, facts, "story", source="t", at=ASKED)
            outcomes: list[bool] = []
            barrier = threading.Barrier(6)

            def report(ledger: Ledger) -> None:
                barrier.wait()
                outcomes.append(complete(ledger, cfg, decision.ask_id)["newly_completed"])

            threads = [threading.Thread(target=report, args=(ledgers[i % 2],)) for i in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(outcomes) == [False] * 5 + [True]
            with stores[1].read() as conn:
                paid = conn.execute(
                    sa.select(ledger_entries.c.points).where(
                        ledger_entries.c.source_id == decision.ask_id
                    )
                ).scalars()
                assert list(paid) == [100]
        finally:
            for s in stores:
                s.close()

    if kind == "postgresql":
        with fresh_database() as url:
            run(url)
    else:
        run(None)


def test_referral_sides_left_unpaid_for_not_being_members_are_counted(ws, tmp_path):
    from cxloop.programs.advocacy.reactions import close_ledgers
    from tests.advocacy_fixtures import enable_advocacy
    from tests.conftest import write
    from tests.test_advocacy_referrals import CUSTOMERS, ORDERS, REFERRALS, points

    enable_advocacy(ws, enrol_on_reward=False)
    try:
        report = ws.ingest([
            write(tmp_path / "customers.csv", CUSTOMERS),
            write(tmp_path / "orders.csv", ORDERS.format(o2="completed")),
            write(tmp_path / "referrals.csv", REFERRALS),
        ])  # fmt: skip
        summary = {r.name: r for r in report.reactions}["advocacy"].summary
        assert summary["referrals_rewarded"] == 1
        assert summary["referrals_sides_not_member"] == 2  # neither side is a member
        assert points(ws, "referral") == points(ws, "referee") == {}
    finally:
        close_ledgers()
