"""Triggered actions: set-based evaluation on ingest, consent (a property), caps, holdouts,
idempotency on re-ingest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.config import EngineSettings
from cxloop.engines.duckdb_engine import DuckDBEngine
from cxloop.generate import generate
from cxloop.loop_settings import TriggersSettings
from cxloop.programs.closed_loop_tables import action_log, outbox
from cxloop.programs.store import ProgramStore
from cxloop.programs.triggers.evaluate import (
    CANDIDATES,
    StoreState,
    holdout_bucket,
    judge,
    register_state,
)
from tests.loop_helpers import loop_workspace

RULES = [
    "ces_after_support: event touchpoint=support_contact -> survey ces",
    "ask_promoters: feedback metric=nps score>=9 -> review_request",
    "big_basket: order amount>=150 -> points 10",
    "returns_desk: event touchpoint=return -> case logistics",
]


@pytest.fixture(scope="module")
def data_files(tmp_path_factory) -> list[Path]:
    generated = generate(tmp_path_factory.mktemp("data"), people=300, seed=7)
    return sorted(generated.files.values())


@pytest.fixture(scope="module")
def fired(tmp_path_factory, data_files):
    ws = loop_workspace(
        tmp_path_factory.mktemp("ws") / "ws",
        triggers={
            "rules": RULES,
            "max_age_days": 0,
            "cap_messages": 2,
            "quiet_hours": "",
            "holdout_percent": 30,
        },
    )
    report = ws.ingest(data_files)
    yield ws, report
    ws.close()


def test_ingest_fires_the_triggers_once_and_reingesting_fires_nothing(fired, data_files):
    ws, report = fired
    [reaction] = [r for r in report.reactions if r.name == "triggers"]
    assert reaction.ok, reaction.error
    summary = reaction.summary
    expected = ws.engine.scalar(
        "SELECT (SELECT count(*) FROM events WHERE touchpoint IN ('support_contact', 'return'))"
        " + (SELECT count(*) FROM feedback WHERE metric = 'nps' AND score >= 9)"
        " + (SELECT count(*) FROM orders WHERE amount >= 150)"
    )
    assert summary["trigger_candidates"] == summary["decisions"] == expected
    assert summary["sent"] > 0 and summary["holdout"] > 0
    assert summary["skipped_by_reason"]["no marketing consent"] > 0
    assert summary["skipped_by_reason"]["not a loyalty member"] > 0  # nobody is enrolled
    # Review requests go through the advocacy ladder, switched off here: refused, with why.
    assert summary["skipped_by_reason"]["advocacy ladder: disabled"] > 0
    with ProgramStore.open(ws.path) as store, store.read() as conn:
        logged = conn.execute(sa.select(sa.func.count()).select_from(action_log)).scalar_one()
        messages = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
    assert logged == expected and messages == summary["messages"]
    again = ws.ingest(data_files)
    assert not [r for r in again.reactions if r.name == "triggers"]  # nothing new loaded
    from cxloop.programs.triggers.reactions import evaluate_loaded
    from cxloop.reactions import LoadedRows

    catch_up = evaluate_loaded(ws, [LoadedRows.everything(k) for k in ("events", "orders")])
    assert catch_up["decisions"] == 0  # every row was decided already
    with ProgramStore.open(ws.path) as store, store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == (
            messages
        )


def test_marketing_sent_only_to_consenting_profiles_within_the_cap(fired):
    ws, _ = fired
    with ProgramStore.open(ws.path) as store, store.read() as conn:
        rows = conn.execute(
            sa.select(action_log.c.profile_id, action_log.c.action, action_log.c.outcome).where(
                action_log.c.marketing.is_(True)
            )
        ).all()
    consent = dict(
        ws.engine.fetchall(
            "SELECT pr.profile_id, bool_and(coalesce(c.consent_marketing, false)) "
            "FROM profile_records pr JOIN customers c USING (source, customer_id) GROUP BY 1"
        )
    )
    sent = [r for r in rows if r[2] == "sent"]
    assert sent and all(consent.get(profile) is True for profile, _, _ in sent)
    # The holdout holds only those who would have been sent: within the cap counted with the
    # sends, and never a review request the advocacy ladder (switched off here) refuses.
    per_profile: dict[str, int] = {}
    for profile, _, outcome in rows:
        if outcome in ("sent", "holdout"):
            per_profile[profile] = per_profile.get(profile, 0) + 1
    assert max(per_profile.values()) <= 2  # cap_messages
    assert [r for r in rows if r[1] == "review_request" and r[2] != "skipped"] == []
    for profile, action, outcome in rows:
        if outcome == "holdout":
            assert holdout_bucket(profile, action) < 30


# -- the property: no marketing action without consent, whatever the data -------------------
candidate = st.fixed_dictionaries(
    {
        "profile": st.sampled_from([f"P{i:016x}" for i in range(6)] + [None]),
        "action": st.sampled_from(
            ["survey", "review_request", "winback_offer", "webhook", "points", "case"]
        ),
        "minute": st.integers(0, 10_000),
    }
)
records = st.lists(st.tuples(st.integers(0, 5), st.sampled_from([True, False, None])), max_size=14)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    candidates=st.lists(candidate, max_size=25),
    customer_records=records,
    complaints=st.sets(st.integers(0, 5)),
    members=st.sets(st.integers(0, 5)),
    sent_before=st.dictionaries(st.integers(0, 5), st.integers(0, 4)),
    cap=st.integers(0, 3),
    holdout=st.integers(0, 50),
    refused=st.sets(st.integers(0, 5)),
)
def test_no_marketing_action_is_ever_sent_without_consent(
    candidates, customer_records, complaints, members, sent_before, cap, holdout, refused
):
    """The judge (the SQL every trigger decision goes through) over arbitrary candidates and
    consent data: a marketing action is sent only to a profile with at least one customer
    record, all of which say consent_marketing = true; nothing is sent to a complainant or
    above the cap; every skipped decision has a reason. A held-out decision passed the same
    checks as a sent one (consent, complaint, the advocacy ladder, the cap counted with the
    sends): the holdout holds only those who would have been sent."""
    pid = [f"P{i:016x}" for i in range(6)]
    engine = DuckDBEngine(":memory:", EngineSettings(threads=1), "UTC")
    try:
        engine.execute(
            "CREATE TABLE customers (source VARCHAR, customer_id VARCHAR, "
            "consent_marketing BOOLEAN, attributes JSON)"
        )
        engine.execute(
            "CREATE TABLE profile_records (source VARCHAR, customer_id VARCHAR, profile_id VARCHAR)"
        )
        for n, (owner, flag) in enumerate(customer_records):
            engine.execute("INSERT INTO customers VALUES ('crm', ?, ?, NULL)", [f"c{n}", flag])
            engine.execute(
                "INSERT INTO profile_records VALUES ('crm', ?, ?)", [f"c{n}", pid[owner]]
            )
        marketing = {"survey", "review_request", "winback_offer", "webhook"}
        rows = [
            {
                "trigger": "t",
                "action": c["action"],
                "argument": None,
                "marketing": c["action"] in marketing,
                "subject": f"s{i}",
                "profile_id": c["profile"],
                "at": datetime(2026, 1, 1, c["minute"] // 600, c["minute"] % 60),
            }
            for i, c in enumerate(candidates)
        ]
        engine.register("__c", pa.Table.from_pylist(rows, schema=_CANDIDATE_SCHEMA))
        engine.execute(f"CREATE TEMP TABLE {CANDIDATES} AS SELECT * FROM __c")
        register_state(
            engine,
            StoreState(
                decided=pa.table(
                    {"trigger": pa.array([], pa.string()), "subject": pa.array([], pa.string())}
                ),
                recent_sends=pa.table(
                    {
                        "profile_id": pa.array([pid[k] for k in sent_before], pa.string()),
                        "n": pa.array(list(sent_before.values()), pa.int64()),
                    }
                ),
                complaints=pa.table(
                    {"profile_id": pa.array([pid[k] for k in complaints], pa.string())}
                ),
                members=pa.table(
                    {
                        "profile_id": pa.array([pid[k] for k in members], pa.string()),
                        "member_id": pa.array([f"m{k}" for k in members], pa.string()),
                    }
                ),
            ),
        )
        refused_ids = {pid[k] for k in refused}
        asked: list[tuple[str, str, str]] = []

        def ladder(rows: list[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
            asked.extend(rows)
            return {(t, s): "cooldown" for t, s, p in rows if p in refused_ids}

        decisions = judge(
            engine, TriggersSettings(cap_messages=cap, holdout_percent=holdout), ladder=ladder
        )
    finally:
        engine.con.close()
    assert all(subject in {d.subject for d in decisions} for _, subject, _ in asked)
    assert len(decisions) == len(candidates)
    flags: dict[str, list[bool | None]] = {}
    for owner, flag in customer_records:
        flags.setdefault(pid[owner], []).append(flag)
    sends: dict[str, int] = {}
    for d in decisions:
        if d.outcome == "skipped":
            assert d.reason
        if d.action == "review_request" and d.profile_id in refused_ids:
            assert d.outcome == "skipped"
        if d.outcome not in ("sent", "holdout") or not d.marketing:
            continue
        assert d.profile_id is not None
        assert flags.get(d.profile_id) and all(f is True for f in flags[d.profile_id])
        assert d.profile_id not in {pid[k] for k in complaints}
        sends[d.profile_id] = sends.get(d.profile_id, 0) + 1
    for profile, n in sends.items():
        before = sent_before.get(pid.index(profile), 0)
        assert cap == 0 or before + n <= cap


_CANDIDATE_SCHEMA = pa.schema(
    [
        ("trigger", pa.string()),
        ("action", pa.string()),
        ("argument", pa.string()),
        ("marketing", pa.bool_()),
        ("subject", pa.string()),
        ("profile_id", pa.string()),
        ("at", pa.timestamp("us")),
    ]
)


def test_holdout_is_deterministic_and_close_to_its_percent():
    buckets = [holdout_bucket(f"P{i:016x}", "survey") for i in range(5000)]
    assert buckets == [holdout_bucket(f"P{i:016x}", "survey") for i in range(5000)]
    share = sum(b < 10 for b in buckets) / len(buckets)
    assert 0.08 < share < 0.12
    con = duckdb.connect()
    sql = "SELECT CAST(('0x' || substr(md5(? || ':' || ?), 1, 8)) AS BIGINT) % 100"
    assert con.execute(sql, ["P0000000000000007", "survey"]).fetchone()[0] == holdout_bucket(
        "P0000000000000007", "survey"
    )


def test_quiet_hours_cross_midnight_in_the_customer_zone():
    from cxloop.programs.triggers.timing import release_time

    window = TriggersSettings().quiet_window
    late = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)
    assert release_time(late, window, None, "UTC") == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    # 21:30 UTC is 16:30 in New York: not quiet there.
    assert release_time(late, window, "America/New_York", "UTC") == late
    assert release_time(late, None, None, "UTC") == late


# -- segment and schedule triggers, holdout measurement -------------------------------------
SEGMENT_RULES = [
    "new_promoters: segment promoter -> webhook crm",
    "win_back: segment valuable_at_risk -> winback_offer",
    "weekly_captives: schedule weekly segment=captive -> survey nps",
    "past_support: event touchpoint=support_contact -> survey ces",
    "past_points: order amount>=0 -> points 5",
    "past_orders: order amount>=0 -> survey csat",  # the same action again, per order
]
DECIDED_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # inside the generated window


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory, data_files):
    from cxloop import reactions

    ws = loop_workspace(
        tmp_path_factory.mktemp("ws") / "ws",
        triggers={
            "rules": SEGMENT_RULES,
            "max_age_days": 0,
            "quiet_hours": "",
            "cap_messages": 0,
            "holdout_percent": 30,
            "webhooks": ["crm http://127.0.0.1:9/crm", "default http://127.0.0.1:9/hook"],
        },
    )
    saved, reactions.REACTORS = reactions.REACTORS, ()
    try:
        ws.ingest(data_files)
    finally:
        reactions.REACTORS = saved
    yield ws
    ws.close()


def test_segment_triggers_fire_on_entry_only_and_schedules_once_per_period(scheduled, tmp_path):
    from cxloop.programs.triggers.segments import run_scheduled

    ws = scheduled
    monday = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with ProgramStore.open(ws.path) as store:
        first = run_scheduled(ws, store, now=monday)
        # The first look at a segment records its members and sends nothing.
        assert first["seeded"] == ["new_promoters", "win_back"]
        captives = first["candidates"]
        assert captives > 0  # the schedule acts on every captive
        again = run_scheduled(ws, store, now=monday.replace(hour=18))  # same week
        assert again["decisions"] == 0
        # Two detractors become promoters: they enter the segment.
        detractors = ws.engine.fetchall(
            "SELECT l.profile_id, any_value(f.customer_id), any_value(f.source) "
            "FROM feedback f JOIN profile_links l ON l.kind = 'feedback' "
            "AND l.source = f.source AND l.id = f.response_id "
            "WHERE f.metric = 'nps' AND f.customer_id IS NOT NULL GROUP BY 1 "
            "HAVING arg_max(f.score, f.submitted_at) <= 6 ORDER BY 1 LIMIT 2"
        )
        rows = "".join(
            f"NEW{i},{customer},{source},2026-06-29T10:00:00Z,nps,10\n"
            for i, (_, customer, source) in enumerate(detractors)
        )
        path = tmp_path / "feedback.csv"
        path.write_text("response_id,customer_id,source,submitted_at,metric,score\n" + rows)
        from cxloop import reactions

        saved, reactions.REACTORS = reactions.REACTORS, ()
        try:
            ws.ingest([path])
        finally:
            reactions.REACTORS = saved
        later = run_scheduled(ws, store, now=monday.replace(day=3))
        with store.read() as conn:
            entered = (
                conn.execute(
                    sa.select(action_log.c.profile_id).where(
                        action_log.c.trigger == "new_promoters"
                    )
                )
                .scalars()
                .all()
            )
        assert sorted(entered) == sorted(p for p, _, _ in detractors)
        assert later["decisions"] == len(detractors)
        next_week = run_scheduled(ws, store, now=datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
        assert next_week["candidates"] >= captives - 2  # a new period: the schedule acts again


def test_outcome_against_the_holdout_matches_a_count_in_the_warehouse(scheduled):
    from cxloop.programs.triggers.measure import holdout_report
    from cxloop.programs.triggers.reactions import evaluate_loaded
    from cxloop.reactions import LoadedRows

    ws = scheduled
    summary = evaluate_loaded(
        ws,
        [LoadedRows.everything("events"), LoadedRows.everything("orders")],
        clock=lambda: DECIDED_AT,
    )
    assert summary["holdout"] > 0
    with ProgramStore.open(ws.path) as store:
        report = holdout_report(ws, store, now=datetime(2026, 3, 1, tzinfo=UTC))
        with store.read() as conn:
            decided = conn.execute(
                sa.select(action_log.c.action, action_log.c.outcome, action_log.c.profile_id).where(
                    action_log.c.trigger.in_(["past_support", "past_orders"]),
                    action_log.c.outcome.in_(["sent", "holdout"]),
                )
            ).all()
    [survey] = [a for a in report["actions"] if a["action"] == "survey"]
    bought = {
        r[0]
        for r in ws.engine.fetchall(
            "SELECT DISTINCT l.profile_id FROM orders o JOIN profile_links l "
            "ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id "
            "WHERE coalesce(o.status, 'completed') = 'completed' "
            "AND o.ordered_at > TIMESTAMP '2026-01-01 12:00:00' "
            "AND o.ordered_at <= TIMESTAMP '2026-01-31 12:00:00'"
        )
    }
    # The unit is the profile: a profile decided several times counts once.
    assert len({p for *_, p in decided}) < len(decided), "profiles with several decisions"
    for group in ("sent", "holdout"):
        profiles = {p for a, o, p in decided if a == "survey" and o == group}
        assert survey[group]["n"] == len(profiles) > 0
        assert survey[group]["converted"] == sum(p in bought for p in profiles)
    assert report["unit"].startswith("profile")
    assert survey["lift"] is not None
    assert survey["lift"]["ci_low"] <= survey["lift"]["value"] <= survey["lift"]["ci_high"]


def test_events_of_known_customers_are_decided_without_rebuilding_the_profiles(tmp_path):
    from tests.conftest import write

    ws = loop_workspace(
        tmp_path / "ws",
        triggers={"rules": RULES[:1], "max_age_days": 0, "quiet_hours": "", "holdout_percent": 0},
    )
    customers = "customer_id,source,email,consent_marketing\nC1,crm,a@example.com,true\n"
    header = "event_id,customer_id,source,occurred_at,touchpoint\n"
    try:
        first = header + "E0,C1,crm,2026-01-01T09:00:00Z,checkout\n"
        ws.ingest([write(tmp_path / "c" / "customers.csv", customers),
                   write(tmp_path / "e0" / "events.csv", first)])  # fmt: skip
        assert not ws.profiles.stale  # customer records loaded: the profiles were built
        profile = ws.engine.scalar("SELECT profile_id FROM profile_records")
        events = header + "E1,C1,crm,2026-01-01T10:00:00Z,support_contact\n"
        [reaction] = mine(ws.ingest([write(tmp_path / "e1" / "events.csv", events)]))
        assert reaction.summary["sent"] == 1
        assert ws.profiles.stale  # decided through the customer's record, no rebuild
        with ProgramStore.open(ws.path) as store, store.read() as conn:
            assert conn.execute(sa.select(action_log.c.profile_id)).scalars().all() == [profile]
        unknown = header + "E2,C9,crm,2026-01-01T11:00:00Z,support_contact\n"
        [reaction] = mine(ws.ingest([write(tmp_path / "e2" / "events.csv", unknown)]))
        assert not ws.profiles.stale  # someone new: the profiles were rebuilt first
        assert reaction.summary["skipped_by_reason"] == {"no marketing consent": 1}
    finally:
        ws.close()


def mine(report):
    return [r for r in report.reactions if r.name == "triggers"]


def test_a_points_award_the_ledger_refuses_skips_that_decision_only(tmp_path):
    """A member erased between the judgement and the award: the ledger refuses that earn. The
    other decisions of the batch are still logged and their messages queued, and the refused
    one is logged as skipped with the ledger's reason (not retried forever by the backlog)."""
    from cxloop.loop_settings import CasesSettings
    from cxloop.programs.triggers.act import act
    from cxloop.programs.triggers.evaluate import Decision

    def decision(action: str, subject: str, **kw) -> Decision:
        values = {
            "trigger": "t",
            "action": action,
            "argument": "10" if action == "points" else "ces",
            "marketing": action != "points",
            "subject": subject,
            "profile_id": "P0000000000000001",
            "timezone": None,
            "outcome": "sent",
            "reason": None,
            "member_id": None,
        }
        return Decision(**{**values, **kw})

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with ProgramStore.open(tmp_path) as store:
        summary = act(
            store,
            [decision("points", "order:shop:o1", member_id="gone"), decision("survey", "e1")],
            TriggersSettings(webhooks=("default http://127.0.0.1:9/hook",), quiet_hours=""),
            CasesSettings(),
            now=now,
            timezone="UTC",
        )
        with store.read() as conn:
            logged = {
                r.subject: (r.outcome, r.reason) for r in conn.execute(sa.select(action_log)).all()
            }
            messages = conn.execute(sa.select(outbox.c.message_key)).scalars().all()
    assert summary["points_awarded"] == 0 and summary["sent"] == 1
    assert logged["e1"] == ("sent", None) and messages == ["t:e1"]
    outcome, reason = logged["order:shop:o1"]
    assert outcome == "skipped" and reason.startswith("points refused:")


def test_the_ladder_check_refuses_as_the_ladder_would_and_records_nothing(fired):
    """The judge's ladder check with the advocacy program on: a detractor is refused a review
    request ("detractor"), a promoter is not refused for being one; no ask is recorded."""
    from dataclasses import replace
    from types import SimpleNamespace

    from cxloop.programs.advocacy.tables import advocacy_asks
    from cxloop.programs.triggers.ladder import ladder_check

    ws, _ = fired
    latest = ws.engine.fetchall(
        "SELECT l.profile_id, arg_max(f.score, f.submitted_at) FROM feedback f "
        "JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source "
        "AND l.id = f.response_id WHERE f.metric = 'nps' GROUP BY 1 ORDER BY 1"
    )
    detractor = next(p for p, score in latest if score <= 6)
    promoter = next(p for p, score in latest if score >= 9)
    config = replace(ws.config, advocacy=replace(ws.config.advocacy, enabled=True))
    on = SimpleNamespace(config=config, engine=ws.engine, profiles=ws.profiles, path=ws.path)
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with ProgramStore.open(ws.path) as store:
        refusals = ladder_check(on, store, now)([("ask", "s1", detractor), ("ask", "s2", promoter)])
        with store.read() as conn:
            asks = conn.execute(sa.select(sa.func.count()).select_from(advocacy_asks)).scalar()
    assert refusals.get(("ask", "s1")) == "detractor"
    assert refusals.get(("ask", "s2")) != "detractor"
    assert asks == 0
