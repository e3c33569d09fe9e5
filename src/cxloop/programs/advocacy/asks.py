"""The ladder of asks: who may be asked what, when; asks recorded once per (profile, ask,
source); completions recorded.

Eligibility is decided from `AdvocateFacts` (the warehouse, as of the ask) and the asks the
store already holds for the person, inside one write transaction that first locks the
person's `advocates` row: two asks to one person (from a trigger and an operator at once)
are decided one after the other, so a cool-down can never be passed twice.

The rule that matters most is not configurable away by accident: a review request to a
detractor (latest likelihood to recommend 0-6) is refused before any eligibility line is read,
unless `[advocacy] allow_detractor_reviews = true`. Asking unhappy customers for public
reviews is how review programs get a brand into trouble, and it is never what a team meant.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.config import AdvocacySettings
from cxloop.programs.advocacy.models import AdvocateFacts, AskDecision
from cxloop.programs.advocacy.tables import advocacy_asks, advocates
from cxloop.programs.errors import ProgramError
from cxloop.programs.store import ProgramStore, RetryTransaction, retrying

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

#: The ask whose requests are never sent to detractors (unless explicitly allowed).
REVIEW = "review"

#: Rungs a person has climbed by themselves, as the data shows (the fact that counts them):
#: a survey answered, a public review written, a referral made.
COMPLETED_BY_DATA = {
    "survey": "survey_answers",
    "review": "public_reviews",
    "referral": "referrals_made",
}


def issue_ask(
    store: ProgramStore,
    ws: Workspace,
    profile_key: str,
    ask: str,
    *,
    source: str,
    at: datetime,
) -> AskDecision:
    """Ask a person (any lookup key: profile id, customer id, email) for `ask` on behalf of
    `source` (a trigger, a case, an operator), at `at`; eligibility and cool-downs apply.

    Idempotent per (profile, ask, source): the same request again answers the recorded ask
    (`replayed`). A refusal records nothing, so the same request may be issued later, when
    the person has become eligible or the cool-down has passed.
    """
    from cxloop.programs.advocacy.facts import advocate_facts
    from cxloop.programs.loyalty.sync import resolve_profile

    settings = ws.config.advocacy
    _check_request(settings, ask, source, at)
    profile_id = resolve_profile(ws, profile_key)
    if not settings.enabled:
        return AskDecision(False, "disabled", None, profile_id, ask, source)
    facts = advocate_facts(ws, profile_id, at=at)
    return decide_ask(store, settings, facts, ask, source=source, at=at)


def decide_ask(
    store: ProgramStore,
    settings: AdvocacySettings,
    facts: AdvocateFacts,
    ask: str,
    *,
    source: str,
    at: datetime,
) -> AskDecision:
    """Decide and record an ask for the person `facts` describes (see `issue_ask`)."""
    _check_request(settings, ask, source, at)
    at = at.astimezone(UTC)
    profile_id = facts.profile_id

    def transaction() -> AskDecision:
        with store.write() as conn:
            _lock_advocate(conn, profile_id, at)
            recorded = conn.execute(
                sa.select(advocacy_asks.c.ask_id, advocacy_asks.c.reason).where(
                    advocacy_asks.c.profile_id == profile_id,
                    advocacy_asks.c.ask == ask,
                    advocacy_asks.c.source == source,
                )
            ).first()
            if recorded is not None:
                return AskDecision(
                    True, recorded.reason, recorded.ask_id, profile_id, ask, source, True
                )
            refusal = refusal_reason(conn, settings, facts, ask, at)
            if refusal is not None:
                return AskDecision(False, refusal, None, profile_id, ask, source)
            ask_id = "ask_" + secrets.token_hex(8)
            try:
                conn.execute(
                    sa.insert(advocacy_asks).values(
                        ask_id=ask_id, profile_id=profile_id, ask=ask, source=source,
                        issued_at=at, reason="eligible",
                    )
                )  # fmt: skip
            except sa.exc.IntegrityError as exc:  # the same ask recorded concurrently
                raise RetryTransaction("ask recorded concurrently") from exc
            conn.execute(
                sa.update(advocates)
                .where(advocates.c.profile_id == profile_id)
                .where(sa.or_(advocates.c.last_ask_at.is_(None), advocates.c.last_ask_at < at))
                .values(last_ask_at=at)
            )
            return AskDecision(True, "eligible", ask_id, profile_id, ask, source)

    return retrying(transaction)


def refusal_reason(
    conn: Connection,
    settings: AdvocacySettings,
    facts: AdvocateFacts,
    ask: str,
    at: datetime,
) -> str | None:
    """Why `ask` may not be made to this person at `at`, or None when it may."""
    if ask == REVIEW and facts.is_detractor and not settings.allow_detractor_reviews:
        return "detractor"
    completed = _completed_asks(conn, facts.profile_id)
    for condition in settings.ask_rules().get(ask, ()):
        if not _holds(condition, facts, completed, settings, at):
            return f"not_eligible:{condition}"
    window = timedelta(days=settings.cooldown_days)
    same_window = timedelta(days=settings.ask_cooldown_days)
    recent = conn.execute(
        sa.select(advocacy_asks.c.ask, advocacy_asks.c.issued_at).where(
            advocacy_asks.c.profile_id == facts.profile_id,
            advocacy_asks.c.issued_at > at - max(window, same_window),
            advocacy_asks.c.issued_at < at + max(window, same_window),
        )
    ).all()
    if any(abs(row.issued_at - at) < window for row in recent):
        return "cooldown"
    if any(row.ask == ask and abs(row.issued_at - at) < same_window for row in recent):
        return "ask_cooldown"
    return None


def _holds(
    condition: str,
    facts: AdvocateFacts,
    completed: set[str],
    settings: AdvocacySettings,
    at: datetime,
) -> bool:
    if condition == "anyone":
        return True
    if condition == "promoter":
        return facts.is_promoter
    if condition == "not_detractor":
        return not facts.is_detractor
    if condition == "recent_good":
        recent = at - timedelta(days=settings.recent_days)
        return facts.last_good_at is not None and recent <= facts.last_good_at <= at
    if condition == "customer":
        return facts.completed_orders > 0
    if condition == "consent":
        return facts.consent_marketing
    done = condition.removeprefix("completed:")
    by_data = COMPLETED_BY_DATA.get(done)
    return done in completed or (by_data is not None and getattr(facts, by_data) > 0)


def _completed_asks(conn: Connection, profile_id: str) -> set[str]:
    rows = conn.execute(
        sa.select(advocacy_asks.c.ask).where(
            advocacy_asks.c.profile_id == profile_id,
            advocacy_asks.c.completed_at.is_not(None),
        )
    ).scalars()
    return set(rows)


def _lock_advocate(conn: Connection, profile_id: str, now: datetime) -> None:
    """Create the person's row if needed and lock it until the transaction ends."""
    exists = conn.execute(
        sa.select(advocates.c.profile_id)
        .where(advocates.c.profile_id == profile_id)
        .with_for_update()
    ).first()
    if exists is None:
        try:
            conn.execute(sa.insert(advocates).values(profile_id=profile_id, created_at=now))
        except sa.exc.IntegrityError as exc:
            raise RetryTransaction("advocate created concurrently") from exc


def record_completion(
    store: ProgramStore, ask_id: str, *, at: datetime, reference: str | None = None
) -> tuple[str, str, bool]:
    """Mark an ask completed (once): returns (profile_id, ask, newly_completed).

    Completing it again changes nothing and answers `newly_completed = False`, so a reward
    keyed on the ask is paid once however often the completion is reported. A completion
    before the ask was issued is refused: an act the ask did not prompt is not its effect.
    """
    at = _aware(at)

    def transaction() -> tuple[str, str, bool]:
        with store.write() as conn:
            row = conn.execute(
                sa.select(advocacy_asks).where(advocacy_asks.c.ask_id == ask_id).with_for_update()
            ).first()
            if row is None:
                from cxloop.programs.errors import UnknownAsk

                raise UnknownAsk(f"no ask {ask_id!r}")
            if row.completed_at is not None:
                return row.profile_id, row.ask, False
            if at < row.issued_at:
                raise ProgramError(
                    f"ask {ask_id} was issued at {row.issued_at.isoformat()}: a completion at "
                    f"{at.isoformat()} is before the ask"
                )
            conn.execute(
                sa.update(advocacy_asks)
                .where(advocacy_asks.c.ask_id == ask_id)
                .values(completed_at=at, completion_ref=reference)
            )
            return row.profile_id, row.ask, True

    return retrying(transaction)


def open_asks(
    store: ProgramStore, done: dict[str, list[datetime]], ask: str
) -> dict[str, tuple[str, datetime]]:
    """The open asks of kind `ask` that acts complete: for each profile in `done` (profile ->
    when it acted, in time order), its latest open ask issued at or before its latest act,
    with the first act at or after that ask (the completion). An act before the ask was made
    does not complete it."""
    if not done:
        return {}
    with store.read() as conn:
        rows = conn.execute(
            sa.select(advocacy_asks.c.profile_id, advocacy_asks.c.ask_id,
                      advocacy_asks.c.issued_at)
            .where(
                advocacy_asks.c.ask == ask,
                advocacy_asks.c.completed_at.is_(None),
                advocacy_asks.c.profile_id.in_(sorted(done)),
            )
            .order_by(advocacy_asks.c.issued_at)
        ).all()  # fmt: skip
    found: dict[str, tuple[str, datetime]] = {}
    for row in rows:
        acts = done[row.profile_id]
        if acts and row.issued_at <= acts[-1]:
            first = next(at for at in acts if at >= row.issued_at)
            found[row.profile_id] = (row.ask_id, first)  # the latest ask before an act wins
    return found


def _check_request(settings: AdvocacySettings, ask: str, source: str, at: datetime) -> None:
    if ask not in settings.ladder:
        raise ProgramError(f"unknown ask {ask!r}; the ladder is {list(settings.ladder)}")
    if not isinstance(source, str) or not source.strip() or len(source) > 200:
        raise ProgramError("an ask's source is non-empty text of at most 200 characters")
    _aware(at)


def _aware(at: datetime) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ProgramError("an ask's time must be a timezone-aware datetime")
    return at.astimezone(UTC)
