"""The advocacy program's post-ingest reactor: completed acts are rewarded as rows arrive.

Registered in `cxloop.reactions.REACTORS` as ("advocacy", "...:react"). It returns at once
when `[advocacy] enabled` is false or when the rows cannot matter (no feedback, orders,
referrals or customers). Otherwise:

- every public review with text in the loaded feedback earns `review_points` (once: the
  ledger's idempotency key is the review's); an open review ask of the author is completed,
  and an open survey ask by any answer, each paying its `ask_points` once; only an act at or
  after the ask completes it, and the first such act is its completion time;
- referral conversions are recorded, checked for fraud, paid after the holding period and
  reversed after a return (`conversions.process_referrals`).

The program store stays open between ingests (one per workspace and database URL): a service
loads every few milliseconds, and opening a store runs its migrations check each time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cxloop.programs.advocacy.asks import open_asks, record_completion
from cxloop.programs.advocacy.conversions import process_referrals
from cxloop.programs.advocacy.models import RewardOutcome
from cxloop.programs.advocacy.rewards import Act, reward_act, reward_acts
from cxloop.programs.advocacy.tables import advocacy_asks, referral_conversions
from cxloop.programs.loyalty.ledger import Ledger
from cxloop.programs.loyalty.rules import is_public_review
from cxloop.programs.store import ProgramStore

if TYPE_CHECKING:
    from cxloop.config import AdvocacySettings
    from cxloop.reactions import LoadedRows
    from cxloop.workspace import Workspace

#: Ledger writers at once (see `reward_feedback`).
WRITERS = 8
_KINDS = frozenset({"feedback", "orders", "referrals", "customers"})
_LOCK = threading.Lock()
_LEDGERS: dict[tuple[str, str, int | None], Ledger] = {}


def react(ws: Workspace, loaded: Sequence[LoadedRows]) -> dict[str, Any] | None:
    """Reward what the loaded rows complete (see the module docstring)."""
    settings = ws.config.advocacy
    if not settings.enabled or not any(rows.kind in _KINDS for rows in loaded):
        return None
    ledger = program_ledger(ws)
    summary: dict[str, Any] = {}
    feedback = [rows for rows in loaded if rows.kind == "feedback"]
    if feedback and _feedback_matters(ws, ledger, feedback):
        summary |= reward_feedback(ws, ledger, settings, feedback)
    if _referrals_matter(ws, ledger, loaded):
        summary |= {f"referrals_{k}": v for k, v in process_referrals(ws, ledger, settings).items()}
    return summary


def _feedback_matters(ws: Workspace, ledger: Ledger, loaded: Sequence[LoadedRows]) -> bool:
    """Whether the answers can pay or complete anything: a public review among them, or an
    open ask in the store (checked before profiles are brought up to date, which is costly)."""
    with ledger.store.read() as conn:
        if conn.execute(
            sa.select(advocacy_asks.c.ask_id).where(advocacy_asks.c.completed_at.is_(None))
        ).first():
            return True
    return any(_count(ws, "feedback", rows, _PUBLIC_REVIEW) for rows in loaded)


def _referrals_matter(ws: Workspace, ledger: Ledger, loaded: Sequence[LoadedRows]) -> bool:
    """Whether referral conversions may change: referral rows arrived, an order with a code
    or a return, or orders and customers while a conversion is held (a ring may have grown, its
    holding period may be over)."""
    kinds = {rows.kind for rows in loaded}
    if "referrals" in kinds:
        return True
    if any(_count(ws, "orders", rows, _CODED_OR_RETURNED) for rows in loaded
           if rows.kind == "orders"):  # fmt: skip
        return True
    with ledger.store.read() as conn:
        pending = conn.execute(
            sa.select(referral_conversions.c.conversion_id).where(
                referral_conversions.c.status == "holding"
            )
        ).first()
    return pending is not None and bool(kinds & {"orders", "customers"})


_PUBLIC_REVIEW = "coalesce(public, false) AND trim(coalesce(text, '')) <> ''"
_CODED_OR_RETURNED = "nullif(trim(referral_code), '') IS NOT NULL OR status <> 'completed'"


def _count(ws: Workspace, table: str, rows: LoadedRows, condition: str) -> int:
    where, params = rows.predicate
    sql = f"SELECT count(*) FROM {table} WHERE ({where}) AND ({condition})"
    return int(ws.engine.scalar(sql, params) or 0)


def program_ledger(ws: Workspace) -> Ledger:
    """The workspace's ledger over its programs store, kept open for the process."""
    url = ws.config.programs.database_url or ""
    months = ws.config.loyalty.expiry_months or None
    key = (str(ws.path.resolve()), url, months)
    with _LOCK:
        ledger = _LEDGERS.get(key)
        if ledger is None:
            store = ProgramStore.open(ws.path, url or None, pool_size=WRITERS)
            ledger = _LEDGERS[key] = Ledger(store, expiry_months=months)
        return ledger


def close_ledgers(workspace: Path | None = None) -> None:
    """Close the stores the reactor opened for `workspace` (every one when None): a service
    shutting down, a command ending, a test."""
    where = None if workspace is None else str(Path(workspace).resolve())
    with _LOCK:
        for key in [k for k in _LEDGERS if where is None or k[0] == where]:
            _LEDGERS.pop(key).store.close()


_FEEDBACK_SQL = """
SELECT l.profile_id, f.source, f.response_id, f.submitted_at, f.public, f.text
FROM feedback f
JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
WHERE {where} AND l.profile_id IS NOT NULL
ORDER BY f.submitted_at, f.source, f.response_id
"""


def reward_feedback(
    ws: Workspace,
    ledger: Ledger,
    settings: AdvocacySettings,
    loaded: Sequence[LoadedRows],
) -> dict[str, int]:
    """Reward public reviews and complete the asks the answers fulfil."""
    ws.profiles.ensure_current()
    rows: list[tuple[Any, ...]] = []
    for part in loaded:
        where, params = part.predicate
        where = where.replace("_file", "f._file").replace("_loaded_at", "f._loaded_at")
        rows += ws.engine.fetchall(_FEEDBACK_SQL.format(where=where), params)
    rows.sort(key=lambda r: (r[3], r[1], r[2]))  # each part is in time order, not all of them
    counts = {"reviews_rewarded": 0, "asks_completed": 0}
    answered: dict[str, list[datetime]] = {}
    reviewed: dict[str, list[datetime]] = {}
    for profile_id, _source, _response_id, submitted_at, public, text in rows:
        at = submitted_at.replace(tzinfo=UTC)
        answered.setdefault(profile_id, []).append(at)
        if is_public_review(public, text):
            reviewed.setdefault(profile_id, []).append(at)
    reviews = [
        Act(f"review:{source}:{response_id}", "review", profile_id, settings.review_points,
            f"public review {source}:{response_id}", "review", f"{source}:{response_id}")
        for profile_id, source, response_id, _, public, text in rows
        if is_public_review(public, text)
    ]  # fmt: skip
    outcomes = reward_acts(ledger, settings, reviews, workers=WRITERS)
    counts["reviews_rewarded"] = sum(o.status == "rewarded" for o in outcomes)
    for ask, done in (("review", reviewed), ("survey", answered)):
        for profile_id, (ask_id, at) in open_asks(ledger.store, done, ask).items():
            _, _, new = record_completion(ledger.store, ask_id, at=at)
            counts["asks_completed"] += new
            reward_ask(ledger, settings, ask_id, profile_id, ask)
    return {k: v for k, v in counts.items() if v}


def reward_ask(
    ledger: Ledger, settings: AdvocacySettings, ask_id: str, profile_id: str, ask: str
) -> RewardOutcome:
    """Pay a completed ask's `ask_points` (once); what was paid, or why nothing was."""
    return reward_act(
        ledger, settings, act_key=f"ask:{ask_id}", act=f"ask:{ask}", profile_id=profile_id,
        points=settings.points_of_ask(ask), reason=f"completed the {ask} ask {ask_id}",
        source_type="advocacy_ask", source_id=ask_id,
    )  # fmt: skip
