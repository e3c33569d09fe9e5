"""The ladder of asks: eligibility, cool-downs, idempotency per (profile, ask, source), and the
rule that a detractor is never asked for a review (a property over random facts and configs)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.programs.advocacy import AdvocateFacts, decide_ask, issue_ask, record_completion
from cxloop.programs.advocacy.tables import advocacy_asks
from cxloop.programs.store import ProgramStore
from tests.advocacy_fixtures import config_with, enable_advocacy
from tests.conftest import write
from tests.programs_db import program_store  # noqa: F401

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def promoter(profile: str = "P1", **facts) -> AdvocateFacts:
    values = {"latest_nps": 10, "last_good_at": T0 - timedelta(days=3), "completed_orders": 2}
    return AdvocateFacts(profile_id=profile, **(values | facts))


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    with ProgramStore.open(tmp_path_factory.mktemp("asks")) as store:
        yield store


def test_a_promoter_is_asked_once_per_source_and_cooldowns_hold(sqlite_store):
    cfg = config_with(cooldown_days=30, ask_cooldown_days=180)
    first = decide_ask(sqlite_store, cfg, promoter("A"), "review", source="t1", at=T0)
    assert first.issued and first.reason == "eligible" and first.ask_id.startswith("ask_")
    again = decide_ask(sqlite_store, cfg, promoter("A"), "review", source="t1", at=T0)
    assert again.replayed and again.ask_id == first.ask_id
    soon = decide_ask(sqlite_store, cfg, promoter("A"), "survey", source="t2", at=T0 + timedelta(1))
    assert (soon.issued, soon.reason) == (False, "cooldown")
    later = T0 + timedelta(days=40)
    same_ask = decide_ask(sqlite_store, cfg, promoter("A"), "review", source="t3", at=later)
    assert (same_ask.issued, same_ask.reason) == (False, "ask_cooldown")
    other = decide_ask(sqlite_store, cfg, promoter("A"), "survey", source="t3", at=later)
    assert other.issued


def test_eligibility_conditions_are_named_when_they_refuse(sqlite_store):
    cfg = config_with()
    passive = promoter("B", latest_nps=8)
    assert decide_ask(sqlite_store, cfg, passive, "review", source="s", at=T0).reason == (
        "not_eligible:promoter"
    )
    stale = promoter("C", last_good_at=T0 - timedelta(days=400))
    assert decide_ask(sqlite_store, cfg, stale, "review", source="s", at=T0).reason == (
        "not_eligible:recent_good"
    )
    story = decide_ask(sqlite_store, cfg, promoter("D"), "story", source="s", at=T0)
    assert story.reason == "not_eligible:completed:review"
    assert decide_ask(sqlite_store, cfg, promoter("D", public_reviews=1), "story",
                      source="s", at=T0).issued  # fmt: skip


def test_completing_an_ask_is_recorded_once(sqlite_store):
    cfg = config_with()
    decision = decide_ask(sqlite_store, cfg, promoter("E"), "review", source="s", at=T0)
    assert record_completion(sqlite_store, decision.ask_id, at=T0) == ("E", "review", True)
    assert record_completion(sqlite_store, decision.ask_id, at=T0) == ("E", "review", False)
    story = decide_ask(
        sqlite_store, cfg, promoter("E"), "story", source="s", at=T0 + timedelta(days=31)
    )
    assert story.issued  # the completed review opened the next rung


CONDITIONS = ["anyone", "promoter", "not_detractor", "recent_good", "customer", "consent"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    nps=st.one_of(st.none(), st.integers(0, 10)),
    conditions=st.lists(st.sampled_from(CONDITIONS), max_size=3),
    asks=st.lists(st.sampled_from(["survey", "review", "story", "referral", "reference"]),
                  min_size=1, max_size=6),
    gaps=st.lists(st.integers(0, 400), min_size=6, max_size=6),
    cooldown=st.integers(0, 60),
)  # fmt: skip
def test_no_configuration_asks_a_detractor_for_a_review(
    sqlite_store, nps, conditions, asks, gaps, cooldown
):
    """Whatever the eligibility lines (even "review: anyone") and cool-downs, a person whose
    latest likelihood to recommend is 0-6 is never issued a review request."""
    line = "review: " + (", ".join(conditions) or "anyone")
    cfg = config_with(eligibility=(line,), cooldown_days=cooldown, ask_cooldown_days=cooldown)
    profile = f"H{threading.get_ident()}-{id(conditions)}-{nps}-{len(asks)}-{sum(gaps)}"
    facts = AdvocateFacts(
        profile_id=profile, latest_nps=nps, last_good_at=T0, completed_orders=1,
        consent_marketing=True,
    )  # fmt: skip
    at = T0
    for i, ask in enumerate(asks):
        at = at + timedelta(days=gaps[i])
        decision = decide_ask(sqlite_store, cfg, facts, ask, source=f"src{i}", at=at)
        if ask == "review" and nps is not None and nps <= 6:
            assert not decision.issued and decision.reason == "detractor"
    with sqlite_store.read() as conn:
        reviews = conn.execute(
            sa.select(sa.func.count()).where(
                advocacy_asks.c.profile_id == profile, advocacy_asks.c.ask == "review"
            )
        ).scalar()
    if nps is not None and nps <= 6:
        assert reviews == 0


def test_detractor_reviews_only_when_explicitly_allowed(sqlite_store):
    cfg = config_with(eligibility=("review: anyone",), allow_detractor_reviews=True)
    assert decide_ask(
        sqlite_store, cfg, promoter("F", latest_nps=2), "review", source="s", at=T0
    ).issued


def test_the_same_ask_at_once_is_recorded_once(program_store):  # noqa: F811
    cfg = config_with()
    results = []
    barrier = threading.Barrier(8)

    def ask(i: int) -> None:
        barrier.wait()
        source = "trigger-1" if i % 2 else "trigger-2"
        results.append(decide_ask(program_store, cfg, promoter("G"), "review", source=source,
                                  at=T0))  # fmt: skip

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    issued = {r.ask_id for r in results if r.issued}
    # one ask per (profile, ask, source); the second source is refused by the cool-down
    assert len(issued) == 1
    assert sorted({r.reason for r in results if not r.issued}) in (["ask_cooldown"],
                                                                  ["cooldown"], [])  # fmt: skip
    with program_store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(advocacy_asks)).scalar() == 1


def test_issue_ask_reads_the_warehouse(ws, tmp_path):
    write(tmp_path / "customers.csv", "customer_id,email\nc1,a@x.org\nc2,b@x.org\n")
    write(
        tmp_path / "feedback.csv",
        "response_id,customer_id,submitted_at,metric,score\n"
        "r1,c1,2026-02-20T10:00:00Z,nps,10\nr2,c2,2026-02-20T10:00:00Z,nps,3\n",
    )
    ws.ingest([tmp_path / "customers.csv", tmp_path / "feedback.csv"])
    with ProgramStore.open(ws.path) as store:
        off = issue_ask(store, ws, "c1", "review", source="case-1", at=T0)
        assert (off.issued, off.reason) == (False, "disabled")
        enable_advocacy(ws)
        happy = issue_ask(store, ws, "c1", "review", source="case-1", at=T0)
        unhappy = issue_ask(store, ws, "b@x.org", "review", source="case-1", at=T0)
    assert happy.issued and happy.profile_id.startswith("P")
    assert (unhappy.issued, unhappy.reason) == (False, "detractor")
