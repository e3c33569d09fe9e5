"""An ask is completed by an act that follows it, and by the first such act: answers given
before the ask neither complete nor pay it, and the completion time is never before the ask
(the report's "effect of asks" measures from it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from cxloop.programs.advocacy import decide_ask, record_completion
from cxloop.programs.advocacy.reactions import close_ledgers, program_ledger
from cxloop.programs.advocacy.tables import advocacy_asks
from cxloop.programs.errors import ProgramError
from cxloop.programs.store import ProgramStore
from tests.advocacy_fixtures import config_with, enable_advocacy
from tests.conftest import write
from tests.test_advocacy_asks import T0, promoter
from tests.test_advocacy_referrals import CUSTOMERS, points

HEADER = "response_id,customer_id,source,submitted_at,metric,score,text,public\n"


def test_a_completion_before_the_ask_is_refused(tmp_path):
    with ProgramStore.open(tmp_path) as store:
        decision = decide_ask(store, config_with(), promoter("E"), "review", source="s", at=T0)
        with pytest.raises(ProgramError, match="before the ask"):
            record_completion(store, decision.ask_id, at=T0 - timedelta(days=1))
        assert record_completion(store, decision.ask_id, at=T0) == ("E", "review", True)


def test_the_first_answer_after_the_ask_completes_it(ws, tmp_path):
    enable_advocacy(ws, ask_points=("survey:5", "review:0", "story:0", "referral:0",
                                    "reference:0"))  # fmt: skip
    try:
        ws.ingest([write(tmp_path / "a" / "customers.csv", CUSTOMERS)])
        store = program_ledger(ws).store
        facts = promoter(ws.profiles.lookup("S1", timeline_limit=0)["profile_id"])
        asked_at = datetime(2026, 1, 8, tzinfo=UTC)
        decision = decide_ask(store, config_with(), facts, "survey", source="t", at=asked_at)
        assert decision.issued
        answers = HEADER + "".join(
            f"A{day},S1,shop,2026-01-{day:02d}T10:00:00Z,nps,10,,false\n" for day in (3, 9, 20)
        )
        ws.ingest([write(tmp_path / "b" / "feedback.csv", answers)])
        with store.read() as conn:
            completed = conn.execute(
                sa.select(advocacy_asks.c.completed_at).where(
                    advocacy_asks.c.ask_id == decision.ask_id
                )
            ).scalar_one()
        assert completed == datetime(2026, 1, 9, 10, tzinfo=UTC)  # not the 3rd, not the 20th
        assert points(ws, "advocacy_ask") == {decision.ask_id: 5}
    finally:
        close_ledgers()
