"""The closed loop's post-ingest reactor (cxloop.reactions): new answers are routed to cases,
new events, answers and orders fire triggers, as the rows arrive.

Idempotent per source record: a case per answer (`cases.feedback_key` unique), a decision per
(trigger, row) (`action_log` unique), a message per decision (`outbox.message_key` unique), so
rows offered twice (a changed row re-loaded, a backlog retried) act once, and re-ingesting an
unchanged file offers nothing at all.

Profiles: a case needs the answer's profile and value tier, a trigger the profile's consent.
A row loaded since the last identity build is resolved through its customer's record
(`profile_records`); the profiles are rebuilt first (`ensure_current`) only when they were
never built, when customer records were loaded since the last build (every record's consent
must count; a changed consent of a known record is read from `customers` directly), or when a
row to act on names someone the profiles do not know yet (a new customer id, an email, an
anonymous id). So a steady stream of events from
known customers is decided without rebuilding the profiles.

Rows older than `[triggers] max_age_days` before now fire no trigger (a historic import must
not send a survey about a support call from last year); they are not candidates, so they are
not logged one by one. Cases are opened for every routed answer, whatever its age (a
detractor's answer deserves a look even when it is loaded late).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxloop.programs.store import ProgramStore
    from cxloop.reactions import LoadedRows
    from cxloop.workspace import Workspace

_KIND_OF_SOURCE = {"event": "events", "feedback": "feedback", "order": "orders"}


def react(ws: Workspace, loaded: Sequence[LoadedRows]) -> dict[str, Any]:
    """Route new answers to cases and evaluate triggers on the new rows."""
    return evaluate_loaded(ws, loaded)


def evaluate_loaded(
    ws: Workspace,
    loaded: Sequence[LoadedRows],
    *,
    clock: Callable[[], datetime] | None = None,
) -> dict[str, Any]:
    """What `react` does, with the clock open to tests and benchmarks."""
    config = ws.config
    kinds = {rows.kind for rows in loaded}
    route_cases = config.cases.enabled and "feedback" in kinds
    # A consent may change with customer records: open cases' follow-ups must see it.
    refresh_consent = config.cases.enabled and "customers" in kinds
    rules = [
        r
        for r in (config.triggers.triggers if config.triggers.enabled else ())
        if r.source in _KIND_OF_SOURCE and _KIND_OF_SOURCE[r.source] in kinds
    ]
    if not route_cases and not rules and not refresh_consent:
        return {}
    now = (clock or (lambda: datetime.now(UTC)))().astimezone(UTC)
    if not ws.profiles.built or "customers" in kinds or _new_customer_records(ws):
        ws.profiles.ensure_current()  # every customer record's consent must be read
    store = open_store(ws)
    try:
        summary: dict[str, Any] = {}
        if refresh_consent:
            from cxloop.programs.cases.consent import refresh_contactable

            summary["cases_consent_changed"] = refresh_contactable(ws, store)
        if route_cases:
            from cxloop.programs.cases.lifecycle import Cases
            from cxloop.programs.cases.routing import route, unresolved_answers

            if ws.profiles.stale and unresolved_answers(ws, loaded):
                ws.profiles.ensure_current()
            drafts = route(ws, loaded, config.cases)
            cases = Cases(
                store,
                config.cases,
                config.triggers,
                timezone=config.locale.timezone,
                clock=lambda: now,
            )
            summary["answers_routed"] = len(drafts)
            summary["cases_opened"] = cases.open_many(drafts)
        if rules:
            summary.update(_fire(ws, store, loaded, rules, now))
        return summary
    finally:
        store.close()


def _fire(
    ws: Workspace,
    store: ProgramStore,
    loaded: Sequence[LoadedRows],
    rules: list[Any],
    now: datetime,
) -> dict[str, Any]:
    from cxloop.programs.triggers.act import act, read_state
    from cxloop.programs.triggers.evaluate import (
        candidate_subjects,
        candidates,
        judge,
        register_state,
        unresolved_candidates,
    )

    config = ws.config
    days = config.triggers.max_age_days
    # The warehouse keeps timestamps as naive UTC (contract/validation.py).
    not_before = None if days == 0 else (now - timedelta(days=days)).replace(tzinfo=None)
    matched = candidates(ws.engine, loaded, rules, not_before=not_before)
    if matched and ws.profiles.stale and unresolved_candidates(ws.engine):
        ws.profiles.ensure_current()  # someone new: resolve them, then decide
        matched = candidates(ws.engine, loaded, rules, not_before=not_before)
    if not matched:
        return {"trigger_candidates": 0}
    register_state(
        ws.engine, read_state(store, candidate_subjects(ws.engine), config.triggers, now)
    )
    from cxloop.programs.triggers.ladder import ladder_check

    judged = judge(ws.engine, config.triggers, ladder=ladder_check(ws, store, now))
    decisions = through_the_ladder(ws, store, judged, now)
    summary = act(
        store,
        decisions,
        config.triggers,
        config.cases,
        now=now,
        timezone=config.locale.timezone,
        expiry_months=config.loyalty.expiry_months or None,
    )
    return {"trigger_candidates": matched, **summary}


def _new_customer_records(ws: Workspace) -> bool:
    """Customer records loaded since the last identity build (their consent must count)."""
    if not ws.profiles.stale:
        return False
    return bool(
        ws.engine.scalar(
            "SELECT EXISTS (SELECT 1 FROM customers c ANTI JOIN profile_records pr "
            "ON pr.source = c.source AND pr.customer_id = c.customer_id)"
        )
    )


def through_the_ladder(
    ws: Workspace, store: ProgramStore, decisions: list[Any], now: datetime
) -> list[Any]:
    """A review request is an advocacy ask: the advocacy program's ladder (eligibility,
    cool-downs, never a detractor) has the last word; its refusal is logged as the reason.
    The judge already checked every eligible request (ladder.py); issuing records the sent
    ones, and still refuses a second request to one person in the same batch (cool-down)."""
    if not any(d.outcome == "sent" and d.action == "review_request" for d in decisions):
        return decisions
    from dataclasses import replace

    from cxloop.programs.advocacy import issue_ask

    out = []
    for d in decisions:
        if d.outcome == "sent" and d.action == "review_request":
            answer = issue_ask(
                store, ws, d.profile_id, "review", source=f"trigger:{d.trigger}", at=now
            )
            if not answer.issued and not answer.replayed:
                d = replace(d, outcome="skipped", reason=f"advocacy ladder: {answer.reason}")
        out.append(d)
    return out


def open_store(ws: Workspace) -> ProgramStore:
    from cxloop.programs.store import ProgramStore

    return ProgramStore.open(ws.path, ws.config.programs.database_url or None, pool_size=2)
