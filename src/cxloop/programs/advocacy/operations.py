"""One function per thing the faces do (CLI `cxloop advocacy ...`, REST `/v1/advocacy/...`):
each takes the workspace or the ledger, calls the program, returns a JSON-ready document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cxloop.config import AdvocacySettings
from cxloop.programs.advocacy.asks import (
    COMPLETED_BY_DATA,
    issue_ask,
    record_completion,
    refusal_reason,
)
from cxloop.programs.advocacy.conversions import conversions, decide_flagged, process_referrals
from cxloop.programs.advocacy.facts import advocate_facts
from cxloop.programs.advocacy.reactions import react, reward_ask
from cxloop.programs.advocacy.referrals import referral_code
from cxloop.programs.advocacy.report import advocacy_report
from cxloop.programs.advocacy.tables import advocacy_asks
from cxloop.programs.errors import ProgramError

if TYPE_CHECKING:
    from cxloop.programs.loyalty.ledger import Ledger
    from cxloop.workspace import Workspace


def advocates(ws: Workspace, ledger: Ledger, *, limit: int = 20) -> dict[str, Any]:
    """The leaderboard and the potential advocates (the report's first two sections)."""
    doc = advocacy_report(ws, ledger, ws.config.advocacy, limit=limit)
    return {"advocates": doc["advocates"], "potential_advocates": doc["potential_advocates"]}


def next_asks(
    ws: Workspace, ledger: Ledger, *, limit: int = 20, at: datetime | None = None
) -> list[dict[str, Any]]:
    """The next best ask of the top advocates and potential advocates: the first rung of the
    ladder they have not completed and may be asked now (None with the reason otherwise).
    Reads only: nothing is asked until `ask` is called."""
    settings = ws.config.advocacy
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    doc = advocates(ws, ledger, limit=limit)
    people = [(a["profile_id"], "advocate") for a in doc["advocates"]["top"]]
    people += [(p["profile_id"], "potential") for p in doc["potential_advocates"]["top"]]
    out = []
    for profile_id, group in people:
        facts = advocate_facts(ws, profile_id, at=moment)
        chosen, why = None, "every rung completed"
        with ledger.store.read() as conn:
            done = set(
                conn.execute(
                    sa.select(advocacy_asks.c.ask).where(
                        advocacy_asks.c.profile_id == profile_id,
                        advocacy_asks.c.completed_at.is_not(None),
                    )
                ).scalars()
            )
            for ask in settings.ladder:
                by_data = COMPLETED_BY_DATA.get(ask)
                if ask in done or (by_data is not None and getattr(facts, by_data) > 0):
                    continue
                refusal = refusal_reason(conn, settings, facts, ask, moment)
                chosen, why = (ask, "eligible") if refusal is None else (None, f"{ask}: {refusal}")
                break
        out.append({"profile_id": profile_id, "group": group, "next_ask": chosen,
                    "reason": why, "latest_nps": facts.latest_nps})  # fmt: skip
    return out


def ask(
    ws: Workspace, ledger: Ledger, profile: str, ask_name: str, *, source: str,
    at: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Issue one ask (eligibility and cool-downs apply; idempotent per profile, ask, source)."""
    moment = at or datetime.now(UTC)
    return issue_ask(ledger.store, ws, profile, ask_name, source=source, at=moment).to_dict()


def complete(
    ledger: Ledger, settings: AdvocacySettings, ask_id: str, *, reference: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Record an ask completed and pay its points (both once, however often reported).
    `points` are those its ledger entry paid and `reward` says how (`rewarded`,
    `already_rewarded`) or why nothing was paid (`not_member`, `no_points`)."""
    if not settings.enabled:
        raise ProgramError("the advocacy program is not enabled ([advocacy] enabled = true)")
    moment = at or datetime.now(UTC)
    profile_id, ask_name, new = record_completion(ledger.store, ask_id, at=moment,
                                                  reference=reference)  # fmt: skip
    outcome = reward_ask(ledger, settings, ask_id, profile_id, ask_name)
    return {"ask_id": ask_id, "profile_id": profile_id, "ask": ask_name, "newly_completed": new,
            "points": outcome.points, "reward": outcome.status}  # fmt: skip


def code(ledger: Ledger, profile_id: str) -> dict[str, str]:
    """The profile's referral code (created on first use)."""
    return {"profile_id": profile_id, "code": referral_code(ledger.store, profile_id)}


def referrals(
    ledger: Ledger, *, status: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Referral conversions with their state and flags (newest first)."""
    return conversions(ledger.store, status=status, limit=limit)


def decide(ledger: Ledger, conversion_id: str, *, approve: bool, actor: str) -> dict[str, str]:
    """An operator's decision on a flagged referral."""
    status = decide_flagged(ledger.store, conversion_id, approve=approve, actor=actor)
    return {"conversion_id": conversion_id, "status": status}


def catch_up(ws: Workspace) -> dict[str, Any]:
    """Offer every stored row to the program (after enabling it, or after an outage): what
    is already rewarded is not paid again."""
    from cxloop.reactions import LoadedRows

    settings = ws.config.advocacy
    if not settings.enabled:
        raise ProgramError("the advocacy program is not enabled ([advocacy] enabled = true)")
    loaded = [LoadedRows.everything(k) for k in ("feedback", "orders", "referrals")]
    return react(ws, loaded) or {}


def release(ws: Workspace, ledger: Ledger) -> dict[str, int]:
    """Pay referrals whose holding period is over (and apply returns): the job to run daily
    when no data arrives for a while (every ingest does it too)."""
    return process_referrals(ws, ledger, ws.config.advocacy)


def report(ws: Workspace, ledger: Ledger, *, limit: int = 20) -> dict[str, Any]:
    """The program report (docs/metrics.md#advocacy)."""
    return advocacy_report(ws, ledger, ws.config.advocacy, limit=limit)
