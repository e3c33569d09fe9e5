"""The advocacy ladder's eligibility check for review requests, recording nothing.

A review request is an advocacy ask: the ladder (eligibility rules, cool-downs, never a
detractor) has the last word. The judge asks it about every review request that passed the
other rules, sent and held out alike, *before* the holdout is drawn, so the holdout group holds
only people who would really have been asked (docs/metrics.md#triggered-actions). Only the
sent ones are then issued, and recorded, through `issue_ask` (reactions.through_the_ladder).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from cxloop.programs.triggers.evaluate import LadderCheck

if TYPE_CHECKING:
    from cxloop.programs.advocacy.models import AdvocateFacts
    from cxloop.programs.store import ProgramStore
    from cxloop.workspace import Workspace

ASK = "review"


def ladder_check(ws: Workspace, store: ProgramStore, now: datetime) -> LadderCheck:
    """A check the judge calls with the eligible review requests; answers the refusals."""

    def refusals(asked: list[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
        settings = ws.config.advocacy
        if not settings.enabled:
            return {(trigger, subject): "disabled" for trigger, subject, _ in asked}
        from cxloop.programs.advocacy.asks import refusal_reason
        from cxloop.programs.advocacy.facts import advocate_facts
        from cxloop.programs.advocacy.tables import advocacy_asks

        out: dict[tuple[str, str], str] = {}
        facts_of: dict[str, AdvocateFacts] = {}
        with store.read() as conn:
            for trigger, subject, profile_id in asked:
                recorded = conn.execute(
                    sa.select(advocacy_asks.c.ask_id).where(
                        advocacy_asks.c.profile_id == profile_id,
                        advocacy_asks.c.ask == ASK,
                        advocacy_asks.c.source == f"trigger:{trigger}",
                    )
                ).first()
                if recorded is not None:  # issue_ask would answer the recorded ask
                    continue
                if profile_id not in facts_of:
                    facts_of[profile_id] = advocate_facts(ws, profile_id, at=now)
                reason = refusal_reason(conn, settings, facts_of[profile_id], ASK, now)
                if reason is not None:
                    out[(trigger, subject)] = reason
        return out

    return refusals
