"""Closed-loop cases: routing on the generator's data, idempotency, the lifecycle, the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import cxloop
from cxloop.generate import generate
from cxloop.loop_settings import CasesSettings, TriggersSettings
from cxloop.programs.cases import Cases, InvalidTransition, UnknownCase
from cxloop.programs.cases.routing import CaseDraft
from cxloop.programs.closed_loop_tables import action_log, cases, outbox
from cxloop.programs.store import ProgramStore
from tests.conftest import run_cli
from tests.loop_helpers import DEFAULT_HOOK, loop_workspace, set_settings
from tests.programs_db import postgres_url, program_store  # noqa: F401

# Detractor bands of the default routing rules (docs/cases.md#routing).
DETRACTOR_SQL = """
SELECT f.source || ':' || f.response_id, tp.owner
FROM feedback f JOIN touchpoints tp ON tp.touchpoint = f.touchpoint
WHERE nullif(trim(tp.owner), '') IS NOT NULL
  AND ((f.metric = 'nps' AND f.score <= 6) OR (f.metric = 'ces' AND f.score <= 3)
       OR (f.metric IN ('csat', 'rating') AND f.score <= 2))"""


@pytest.fixture(scope="module")
def data_files(tmp_path_factory) -> list[Path]:
    generated = generate(tmp_path_factory.mktemp("data"), people=400, seed=20240901)
    return sorted(generated.files.values())


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, data_files):
    """A workspace with the generated data loaded once (routing ran on ingest)."""
    ws = loop_workspace(tmp_path_factory.mktemp("ws") / "ws")
    report = ws.ingest(data_files)
    yield ws, report
    ws.close()


def store_of(ws) -> ProgramStore:
    return ProgramStore.open(ws.path, None, pool_size=2)


def test_every_detractor_answer_about_an_owned_touchpoint_opens_one_case_for_its_owner(loaded):
    ws, report = loaded
    [reaction] = [r for r in report.reactions if r.name == "triggers"]
    assert reaction.ok, reaction.error
    expected = dict(ws.engine.fetchall(DETRACTOR_SQL))
    assert len(expected) > 50, "the generated data has detractor answers about touchpoints"
    with store_of(ws) as store, store.read() as conn:
        rows = conn.execute(sa.select(cases.c.feedback_key, cases.c.team)).all()
    opened: dict[str, list[str]] = {}
    for key, team in rows:
        opened.setdefault(key.removeprefix("feedback:"), []).append(team)
    for answer, owner in expected.items():
        assert opened.get(answer) == [owner], answer
    # Relational detractors (no touchpoint) go to customer care.
    relational = ws.engine.fetchall(
        "SELECT source || ':' || response_id FROM feedback "
        "WHERE touchpoint IS NULL AND metric = 'nps' AND score <= 6"
    )
    assert relational
    assert all(opened.get(r[0]) == ["customer_care"] for r in relational)
    # Nothing else opened a case (promoters, passives, comments).
    assert set(opened) == set(expected) | {r[0] for r in relational}


def test_reingesting_creates_no_case_and_a_changed_row_offered_again_opens_none(
    loaded, data_files, tmp_path
):
    ws, _ = loaded
    with store_of(ws) as store, store.read() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
    again = ws.ingest(data_files)
    assert [r for r in again.reactions if r.summary.get("cases_opened")] == []
    from cxloop.programs.triggers.reactions import evaluate_loaded
    from cxloop.reactions import LoadedRows

    summary = evaluate_loaded(ws, [LoadedRows.everything("feedback")])  # a full catch-up
    assert summary["answers_routed"] > 0 and summary["cases_opened"] == 0
    with store_of(ws) as store, store.read() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
    assert after == before


def test_high_value_detractors_get_the_high_priority_sla(loaded):
    ws, _ = loaded
    with store_of(ws) as store, store.read() as conn:
        rows = conn.execute(
            sa.select(cases.c.priority, cases.c.opened_at, cases.c.first_response_due)
        ).all()
    priorities = {r[0] for r in rows}
    assert priorities == {"high", "normal"}
    for priority, opened, due in rows:
        hours = (due - opened).total_seconds() / 3600
        assert hours == (24 if priority == "high" else 48)


def draft(key: str, *, contactable: bool = True) -> CaseDraft:
    return CaseDraft(
        feedback_key=key,
        profile_id="P0000000000000001",
        customer_ref="crm:c1",
        team="logistics",
        priority="normal",
        rule="metric=nps score<=6 -> owner normal",
        metric="nps",
        score=3.0,
        touchpoint="delivery",
        themes=("delivery",),
        answered_at=datetime(2026, 1, 1, tzinfo=UTC),
        contactable=contactable,
        timezone=None,
    )


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon: no quiet hours

    def __call__(self) -> datetime:
        return self.now


def test_lifecycle_on_both_stores(program_store):  # noqa: F811
    clock = Clock()
    service = Cases(program_store, CasesSettings(), TriggersSettings(), clock=clock)
    assert service.open_many([draft("feedback:crm:r1"), draft("feedback:crm:r1")]) == 1
    assert service.open_many([draft("feedback:crm:r1")]) == 0
    [case] = service.list()
    assert case.status == "open" and case.team == "logistics"
    with pytest.raises(InvalidTransition, match=r"is open: cannot resolve it.*assign it first"):
        service.resolve(case.case_id, "refund", actor="ana")
    with pytest.raises(InvalidTransition, match="cannot close"):
        service.close(case.case_id, actor="ana")
    with pytest.raises(UnknownCase):
        service.assign("Knope", "ana", actor="lead")
    clock.now += timedelta(hours=2)
    assert service.assign(case.case_id, "ana", actor="lead").status == "assigned"
    clock.now += timedelta(hours=3)
    started = service.start(case.case_id, actor="ana")
    assert started.status == "in_progress"
    assert started.first_response_at == clock.now
    with pytest.raises(InvalidTransition, match="is in_progress: cannot start"):
        service.start(case.case_id, actor="ana")
    clock.now += timedelta(hours=20)
    resolved = service.resolve(case.case_id, "courier re-sent", actor="ana", note="sorry")
    assert resolved.status == "resolved" and resolved.followed_up_at == clock.now
    with pytest.raises(InvalidTransition, match="is resolved: cannot resolve"):
        service.resolve(case.case_id, "again", actor="ana")
    reopened = service.reopen(case.case_id, actor="lead")
    assert reopened.status == "assigned" and reopened.reopened == 1
    service.resolve(case.case_id, "courier re-sent", actor="ana")
    closed = service.close(case.case_id, actor="lead")
    assert closed.status == "closed"
    history = [h["action"] for h in service.history(case.case_id)]
    assert history == ["open", "assign", "start", "resolve", "reopen", "resolve", "close"]
    with program_store.read() as conn:
        # One follow-up survey (in the outbox), even though the case was resolved twice.
        messages = conn.execute(sa.select(outbox.c.message_key, outbox.c.topic)).all()
        assert messages == [(f"case_follow_up:{case.case_id}", "survey_invitation")]


def test_follow_up_needs_consent_and_is_logged_when_skipped(program_store):  # noqa: F811
    service = Cases(program_store, CasesSettings(), TriggersSettings(), clock=Clock())
    service.open_many([draft("feedback:crm:r2", contactable=False)])
    [case] = service.list()
    service.assign(case.case_id, "ben", actor="lead")
    resolved = service.resolve(case.case_id, "apology", actor="ben")
    assert resolved.followed_up_at is None
    with program_store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 0
        logged = conn.execute(sa.select(action_log.c.outcome, action_log.c.reason)).all()
    assert logged == [("skipped", "no marketing consent")]


def test_quiet_hours_hold_the_follow_up_until_morning(program_store):  # noqa: F811
    clock = Clock()
    clock.now = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    service = Cases(program_store, CasesSettings(), TriggersSettings(), clock=clock)
    service.open_many([draft("feedback:crm:r3")])
    [case] = service.list()
    service.assign(case.case_id, "ana", actor="lead")
    service.resolve(case.case_id, "refund", actor="ana")
    with program_store.read() as conn:
        due, zone = conn.execute(sa.select(outbox.c.next_attempt_at, outbox.c.zone)).one()
    assert due == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert zone == "UTC"  # kept, so quiet hours also hold its retries


def test_the_migration_matches_the_tables_the_code_queries(program_store):  # noqa: F811
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from cxloop.programs import closed_loop_tables
    from cxloop.programs.tables import metadata

    ours = {
        t.name
        for t in (
            closed_loop_tables.cases,
            closed_loop_tables.case_events,
            closed_loop_tables.action_log,
            closed_loop_tables.outbox,
            closed_loop_tables.segment_members,
        )
    }
    with program_store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)

    def mine(difference) -> bool:
        if isinstance(difference, list):
            return difference[0][2] in ours
        subject = difference[1]
        table = subject if isinstance(subject, sa.Table) else subject.table
        return table.name in ours

    assert [d for d in differences if mine(d)] == []


def test_cli_list_assign_resolve_and_report(loaded, tmp_path):
    ws, _ = loaded
    path = str(ws.path)
    listed = run_cli("cases", "list", path, "--team", "logistics", "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)["cases"]
    assert found and {c["team"] for c in found} == {"logistics"}
    case_id = found[0]["case_id"]
    refused = run_cli("cases", "resolve", path, case_id, "--code", "refund")
    assert refused.returncode != 0
    assert "assign it first" in refused.stderr and "Traceback" not in refused.stderr
    assert run_cli("cases", "assign", path, case_id, "ana").returncode == 0
    assert run_cli("cases", "update", path, case_id, "--status", "in_progress").returncode == 0
    resolved = run_cli("cases", "resolve", path, case_id, "--code", "refund", "--json")
    assert json.loads(resolved.stdout)["status"] == "resolved"
    # The workspace is held open by this module, so the command reports without the
    # warehouse; the loop effect is checked through the library below.
    result = run_cli("cases", "report", path, "--json", "--no-warehouse")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {"open", "by_team", "sla", "resolution_time"} <= set(doc)
    assert doc["resolution_time"]["n"] == 1
    logistics = next(t for t in doc["by_team"] if t["team"] == "logistics")
    assert logistics["resolved"] == 1
    assert doc["sla"]["first_response"]["n"] >= 1
    assert doc["loop_effect"] is None
    text = run_cli("cases", "report", path, "--no-warehouse")
    assert "Backlog by team" in text.stdout


def test_loop_effect_counts_each_detractors_next_answer(loaded):
    from cxloop.programs.cases.report import case_report

    ws, _ = loaded
    with store_of(ws) as store:
        service = Cases(store, CasesSettings(), TriggersSettings())
        doc = case_report(service, ws)
        everything = service.list(limit=100_000)
    effect = doc["loop_effect"]
    answers: dict[str, list[tuple[datetime, float]]] = {}
    for profile, at, score in ws.engine.fetchall(
        "SELECT l.profile_id, f.submitted_at, f.score FROM feedback f JOIN profile_links l "
        "ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id "
        "WHERE f.metric = 'nps'"
    ):
        answers.setdefault(profile, []).append((at.replace(tzinfo=UTC), score))
    groups = {True: [0, 0, 0], False: [0, 0, 0]}  # promoters, passives, detractors
    for case in everything:
        if case.metric != "nps" or case.profile_id is None:
            continue
        later = sorted(a for a in answers.get(case.profile_id, []) if a[0] > case.answered_at)
        if later:
            score = later[0][1]
            groups[case.followed_up_at is not None][
                0 if score >= 9 else 1 if score >= 7 else 2
            ] += 1
    for followed, name in ((True, "followed_up"), (False, "not_followed_up")):
        p, a, d = groups[followed]
        assert (
            effect[name]["promoters"],
            effect[name]["passives"],
            effect[name]["detractors"],
        ) == (p, a, d)
    assert effect["not_followed_up"]["n"] > 0


def test_routing_and_triggers_write_to_postgresql_once(tmp_path, data_files, postgres_url):  # noqa: F811
    """The same reactor with `[programs] database_url` on a real PostgreSQL server."""
    from cxloop.programs.triggers.reactions import evaluate_loaded
    from cxloop.reactions import LoadedRows

    rules = [
        "ces_after_support: event touchpoint=support_contact -> survey ces",
        "returns_desk: event touchpoint=return -> case logistics",
    ]
    path = tmp_path / "ws"
    cxloop.Workspace.init(path).close()
    set_settings(path, "programs", {"database_url": postgres_url})
    ws = loop_workspace_at(path, rules)
    try:
        report = ws.ingest(data_files)
        [reaction] = [r for r in report.reactions if r.name == "triggers"]
        assert reaction.ok, reaction.error
        expected = dict(ws.engine.fetchall(DETRACTOR_SQL))
        with ProgramStore.open(ws.path, postgres_url) as store, store.read() as conn:
            assert store.dialect == "postgresql"
            rows = dict(conn.execute(sa.select(cases.c.feedback_key, cases.c.team)).all())
            logged = conn.execute(sa.select(sa.func.count()).select_from(action_log)).scalar_one()
        for answer, owner in expected.items():
            assert rows[f"feedback:{answer}"] == owner
        assert logged == reaction.summary["decisions"] > 0
        again = evaluate_loaded(ws, [LoadedRows.everything(k) for k in ("feedback", "events")])
        assert again["cases_opened"] == 0 and again["decisions"] == 0
    finally:
        ws.close()


def loop_workspace_at(path: Path, rules: list[str]) -> cxloop.Workspace:
    set_settings(path, "cases", {"enabled": True})
    set_settings(
        path,
        "triggers",
        {"enabled": True, "rules": rules, "max_age_days": 0, "webhooks": [DEFAULT_HOOK]},
    )
    return cxloop.Workspace.open(path)


def test_report_section_shows_the_backlog_and_the_loop(loaded, tmp_path):
    """Before the erasure test (it changes the data): the HTML report's closed-loop section."""
    from cxloop.report.cases_sections import cases_section, cases_sections

    ws, _ = loaded
    [section] = cases_sections(ws, context := {})
    html = "".join(str(block) for block in section.blocks)
    assert "logistics" in html and "within SLA" in html and "next answer" in html
    assert context["cases"]["open"] > 0
    off = cases_section({**context["cases"], "loop_effect": None}, None)
    assert "next answer" not in "".join(str(b) for b in off.blocks)


def test_a_consent_withdrawn_while_the_case_is_open_stops_the_follow_up(
    loaded, data_files, tmp_path
):
    """The customer withdraws marketing consent (a customer file loaded again with the flag
    false) while their case is open: resolving it sends no follow-up survey."""
    import csv

    ws, _ = loaded
    with store_of(ws) as store:
        service = Cases(store, CasesSettings(), TriggersSettings())
        case = next(
            c
            for c in service.list(status="open", limit=100_000)
            if c.contactable and c.customer_ref and c.profile_id
        )
        source, _, customer_id = case.customer_ref.partition(":")
        [customers_file] = [f for f in data_files if f.name.startswith("customers")]
        with customers_file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            row = next(
                r
                for r in reader
                if r["customer_id"] == customer_id and r.get("source", source) == source
            )
        row["consent_marketing"] = "false"
        changed = tmp_path / "customers_withdrawal.csv"
        with changed.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerow(row)
        report = ws.ingest([changed])
        [reaction] = [r for r in report.reactions if r.name == "triggers"]
        assert reaction.ok, reaction.error
        service.assign(case.case_id, "ana", actor="test")
        resolved = service.resolve(case.case_id, "apology", actor="ana")
        assert resolved.followed_up_at is None
        assert resolved.contactable is False
        assert reaction.summary["cases_consent_changed"] >= 1
        with store.read() as conn:
            logged = conn.execute(
                sa.select(action_log.c.outcome, action_log.c.reason).where(
                    action_log.c.subject == case.case_id
                )
            ).one()
    assert tuple(logged) == ("skipped", "no marketing consent")


def test_the_follow_up_respects_the_frequency_cap(program_store):  # noqa: F811
    """The follow-up is a marketing contact: a customer already sent cap_messages marketing
    actions within cap_days is not surveyed again (logged with the reason)."""
    clock = Clock()
    with program_store.write() as conn:
        conn.execute(
            action_log.insert(),
            [
                {
                    "trigger": "t",
                    "subject": f"s{i}",
                    "action": "survey",
                    "profile_id": "P0000000000000001",
                    "marketing": True,
                    "outcome": "sent",
                    "decided_at": clock.now - timedelta(days=i + 1),
                }
                for i in range(3)
            ],
        )
    service = Cases(program_store, CasesSettings(), TriggersSettings(cap_messages=3), clock=clock)
    service.open_many([draft("feedback:crm:r8")])
    [case] = service.list()
    service.assign(case.case_id, "ana", actor="lead")
    assert service.resolve(case.case_id, "refund", actor="ana").followed_up_at is None
    with program_store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 0
        reason = conn.execute(
            sa.select(action_log.c.reason).where(action_log.c.trigger == "case_follow_up")
        ).scalar_one()
    assert reason == "frequency cap"


def test_erasure_unlinks_the_persons_cases_and_drops_their_pending_messages(loaded):
    """Last in this module: it erases a person from the shared workspace."""
    from cxloop.privacy import erase_person, export_person
    from cxloop.programs import outbox as box

    ws, _ = loaded
    with store_of(ws) as store:
        service = Cases(store, CasesSettings(), TriggersSettings())
        case = next(c for c in service.list(limit=100_000) if c.profile_id and c.contactable)
        profile = case.profile_id
        if case.status == "open":
            service.assign(case.case_id, "ana", actor="test")
        if service.get(case.case_id).status in ("assigned", "in_progress"):
            service.resolve(case.case_id, "refund", actor="test")
        pending = [
            m
            for m in box.messages(store, status="pending", limit=10_000)
            if m.payload.get("profile_id") == profile
        ]
        assert pending  # the follow-up survey waits for the worker
    exported = export_person(ws, profile)
    assert case.case_id in {c["case_id"] for c in exported["closed_loop"]["cases"]}
    erase_person(ws, profile, reason="ticket 1")
    with store_of(ws) as store, store.read() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(cases).where(cases.c.profile_id == profile)
            ).scalar_one()
            == 0
        )
        kept = (
            conn.execute(sa.select(cases).where(cases.c.case_id == case.case_id)).mappings().one()
        )
        assert kept["profile_id"].startswith("erased:") and kept["customer_ref"] is None
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(outbox)
                .where(outbox.c.payload.contains(profile))
            ).scalar_one()
            == 0
        )
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(action_log)
                .where(action_log.c.profile_id == profile)
            ).scalar_one()
            == 0
        )


def test_a_case_opened_by_two_processes_at_once_is_opened_and_logged_once(
    tmp_path,
    postgres_url,  # noqa: F811
    monkeypatch,
):
    """Two routers of the same answer on PostgreSQL: the other one commits its case between
    this one's look for existing cases and its insert. One case, one "open" event, and only
    the process that wrote it reports it opened."""
    from cxloop.programs.cases import lifecycle

    with (
        ProgramStore.open(tmp_path, postgres_url, pool_size=1) as store,
        ProgramStore.open(tmp_path, postgres_url, pool_size=1) as elsewhere,
    ):
        here = Cases(store, CasesSettings(), TriggersSettings(), clock=Clock())
        there = Cases(elsewhere, CasesSettings(), TriggersSettings(), clock=Clock())
        looked = lifecycle._existing
        raced: list[int] = []

        def racing(conn, keys):
            found = looked(conn, keys)
            if conn.engine is store.engine and not raced:
                raced.append(-1)
                raced[0] = there.open_many([draft("feedback:crm:r7")])  # commits meanwhile
            return found

        monkeypatch.setattr(lifecycle, "_existing", racing)
        assert here.open_many([draft("feedback:crm:r7")]) == 0
        assert raced == [1]
        [case] = here.list()
        assert [h["action"] for h in here.history(case.case_id)] == ["open"]
