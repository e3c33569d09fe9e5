"""Cases and their lifecycle: open -> assigned -> in_progress -> resolved -> closed (reopen).

A case is opened once per source record (`feedback_key` is unique in the store), so routing
the same answer twice, or two processes routing it at once, opens one case. Every change is a
row of `case_events` written in the same transaction as the change, so a case's history is
complete. Transitions that the lifecycle does not allow are refused with `InvalidTransition`
(HTTP 409), which says where the case is and what is allowed from there.

Closing the loop: resolving a case queues a follow-up survey invitation in the outbox, in the
resolving transaction, when the profile may be contacted (`contactable`, read conservatively
at routing and again whenever customer records are loaded: cases/consent.py), the frequency
cap allows it and `[cases] follow_up` is on; otherwise the skipped follow-up is logged with
its reason in `action_log`, like every skipped action.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.loop_settings import CasesSettings, TriggersSettings
from cxloop.programs.cases.follow_up import follow_up
from cxloop.programs.cases.routing import CaseDraft
from cxloop.programs.closed_loop_tables import case_events, cases
from cxloop.programs.errors import ProgramError
from cxloop.programs.store import ProgramStore, retrying

STATUSES = ("open", "assigned", "in_progress", "resolved", "closed")
OPEN_STATUSES = ("open", "assigned", "in_progress")
#: action -> statuses it may start from. The target status is decided in `_apply`.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "assign": ("open", "assigned", "in_progress"),
    "start": ("assigned",),
    "resolve": ("assigned", "in_progress"),
    "close": ("resolved",),
    "reopen": ("resolved", "closed"),
    "note": STATUSES,
}
_HINTS = {
    ("resolve", "open"): "assign it first",
    ("start", "open"): "assign it first",
    ("close", "open"): "resolve it first",
    ("close", "assigned"): "resolve it first",
    ("close", "in_progress"): "resolve it first",
}


class UnknownCase(ProgramError):
    """No case with that id; HTTP 404."""

    http_status = 404
    exit_code = 66


class InvalidTransition(ProgramError):
    """A lifecycle step the case's status does not allow; HTTP 409."""

    http_status = 409


@dataclass(frozen=True)
class Case:
    """One case as stored."""

    case_id: str
    feedback_key: str
    profile_id: str | None
    customer_ref: str | None
    team: str
    assignee: str | None
    status: str
    priority: str
    rule: str
    metric: str | None
    score: float | None
    touchpoint: str | None
    themes: tuple[str, ...]
    answered_at: datetime | None
    opened_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution_code: str | None
    followed_up_at: datetime | None
    reopened: int
    contactable: bool

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        out["themes"] = list(self.themes)
        return out


def case_id_for(feedback_key: str) -> str:
    """A stable id: the same answer always gives the same case id."""
    return "K" + hashlib.sha256(feedback_key.encode()).hexdigest()[:16]


class Cases:
    """The cases of a store: open (from routing), read, and move through the lifecycle."""

    def __init__(
        self,
        store: ProgramStore,
        settings: CasesSettings,
        triggers: TriggersSettings | None = None,
        *,
        timezone: str = "UTC",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.triggers = triggers or TriggersSettings()
        self.timezone = timezone
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # -- opening ----------------------------------------------------------------------------
    def open_many(self, drafts: Sequence[CaseDraft], *, actor: str = "routing") -> int:
        """Open a case per draft whose source record has none yet; returns how many opened."""
        if not drafts:
            return 0
        now = self.now()
        slas = self.settings.slas

        def transaction() -> int:
            with self.store.write() as conn:
                keys = [d.feedback_key for d in drafts]
                existing = _existing(conn, keys)
                fresh: list[CaseDraft] = []
                for d in drafts:  # one case per source record, even if drafted twice
                    if d.feedback_key not in existing:
                        existing.add(d.feedback_key)
                        fresh.append(d)
                rows, history = [], []
                for d in fresh:
                    sla = slas[d.priority]
                    case_id = case_id_for(d.feedback_key)
                    rows.append(
                        {
                            "case_id": case_id,
                            "feedback_key": d.feedback_key,
                            "profile_id": d.profile_id,
                            "customer_ref": d.customer_ref,
                            "team": d.team,
                            "assignee": None,
                            "status": "open",
                            "priority": d.priority,
                            "rule": d.rule,
                            "metric": d.metric,
                            "score": d.score,
                            "touchpoint": d.touchpoint,
                            "themes": ",".join(d.themes),
                            "answered_at": d.answered_at,
                            "contactable": d.contactable,
                            "timezone": d.timezone,
                            "opened_at": now,
                            "first_response_due": now + timedelta(hours=sla.first_response_hours),
                            "resolution_due": now + timedelta(hours=sla.resolution_hours),
                            "updated_at": now,
                        }
                    )
                    history.append(
                        {
                            "case_id": case_id,
                            "action": "open",
                            "from_status": None,
                            "to_status": "open",
                            "assignee": None,
                            "note": f"routed to {d.team} by rule {d.rule!r}",
                            "actor": actor,
                            "at": now,
                        }
                    )
                # Another process may open the same case between `_existing` and this insert
                # (PostgreSQL, READ COMMITTED): only the rows this insert actually wrote get
                # their "open" event and count as opened.
                inserted = insert_returning_keys(conn, rows)
                history = [h for h in history if h["case_id"] in inserted]
                if history:
                    conn.execute(case_events.insert(), history)
                return len(inserted)

        return retrying(transaction)

    # -- reading ----------------------------------------------------------------------------
    def get(self, case_id: str) -> Case:
        with self.store.read() as conn:
            row = (
                conn.execute(sa.select(cases).where(cases.c.case_id == case_id)).mappings().first()
            )
        if row is None:
            raise UnknownCase(f"no case {case_id!r}")
        return case_from_row(row)

    def history(self, case_id: str) -> list[dict[str, Any]]:
        self.get(case_id)
        query = sa.select(case_events).where(case_events.c.case_id == case_id)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(case_events.c.id)).mappings().all()
        return [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
            for r in rows
        ]

    def list(
        self,
        *,
        team: str | None = None,
        status: str | None = None,
        assignee: str | None = None,
        priority: str | None = None,
        overdue: bool = False,
        limit: int = 100,
    ) -> list[Case]:
        """Cases matching every given filter, the most urgent first (due first response)."""
        query = sa.select(cases)
        if status is not None:
            if status not in (*STATUSES, "active"):
                raise ProgramError(
                    f"status must be one of {', '.join(STATUSES)} or active, not {status!r}"
                )
            wanted = OPEN_STATUSES if status == "active" else (status,)
            query = query.where(cases.c.status.in_(wanted))
        for column, value in (("team", team), ("assignee", assignee), ("priority", priority)):
            if value is not None:
                query = query.where(cases.c[column] == value)
        if overdue:
            now = self.now()
            query = query.where(
                cases.c.status.in_(OPEN_STATUSES),
                sa.or_(
                    sa.and_(cases.c.first_response_at.is_(None), cases.c.first_response_due < now),
                    cases.c.resolution_due < now,
                ),
            )
        query = query.order_by(cases.c.first_response_due, cases.c.case_id).limit(limit)
        with self.store.read() as conn:
            return [case_from_row(r) for r in conn.execute(query).mappings()]

    # -- lifecycle --------------------------------------------------------------------------
    def assign(self, case_id: str, assignee: str, *, actor: str, note: str | None = None) -> Case:
        assignee = assignee.strip()
        if not assignee:
            raise ProgramError("assign needs the person's name")
        return self._apply(case_id, "assign", actor=actor, note=note, assignee=assignee)

    def start(self, case_id: str, *, actor: str, note: str | None = None) -> Case:
        """Work starts and the customer is contacted: the first response."""
        return self._apply(case_id, "start", actor=actor, note=note)

    def resolve(self, case_id: str, code: str, *, actor: str, note: str | None = None) -> Case:
        code = code.strip()
        if not code:
            raise ProgramError("resolve needs a resolution code (what was done)")
        return self._apply(case_id, "resolve", actor=actor, note=note, code=code)

    def close(self, case_id: str, *, actor: str, note: str | None = None) -> Case:
        return self._apply(case_id, "close", actor=actor, note=note)

    def reopen(self, case_id: str, *, actor: str, note: str | None = None) -> Case:
        return self._apply(case_id, "reopen", actor=actor, note=note)

    def note(self, case_id: str, text: str, *, actor: str, contacted: bool = False) -> Case:
        """A note; `contacted` says the customer was answered (counts as the first response)."""
        if not text.strip():
            raise ProgramError("a note needs text")
        return self._apply(case_id, "note", actor=actor, note=text, contacted=contacted)

    def _apply(
        self,
        case_id: str,
        action: str,
        *,
        actor: str,
        note: str | None,
        assignee: str | None = None,
        code: str | None = None,
        contacted: bool = False,
    ) -> Case:
        if assignee is not None:
            self._check_roster(case_id, assignee)

        def transaction() -> Case:
            now = self.now()
            with self.store.write() as conn:
                row = (
                    conn.execute(
                        sa.select(cases).where(cases.c.case_id == case_id).with_for_update()
                    )
                    .mappings()
                    .first()
                )
                if row is None:
                    raise UnknownCase(f"no case {case_id!r}")
                current = row["status"]
                allowed = TRANSITIONS[action]
                if current not in allowed:
                    hint = _HINTS.get((action, current))
                    raise InvalidTransition(
                        f"case {case_id} is {current}: cannot {action} it ({action} is allowed "
                        f"from {', '.join(allowed)})" + (f"; {hint}" if hint else "")
                    )
                values: dict[str, Any] = {"updated_at": now}
                target = current
                if action == "assign":
                    target = "assigned"
                    values["assignee"] = assignee
                elif action == "start":
                    target = "in_progress"
                elif action == "resolve":
                    target = "resolved"
                    values["resolved_at"] = now
                    values["resolution_code"] = code
                elif action == "close":
                    target = "closed"
                    values["closed_at"] = now
                elif action == "reopen":
                    target = "assigned" if row["assignee"] else "open"
                    values["reopened"] = row["reopened"] + 1
                    values["resolved_at"] = None
                    values["closed_at"] = None
                responded = action in ("start", "resolve") or contacted
                if responded and row["first_response_at"] is None:
                    values["first_response_at"] = now
                values["status"] = target
                if action == "resolve":
                    values.update(
                        follow_up(conn, row, now, self.settings, self.triggers, self.timezone)
                    )
                conn.execute(cases.update().where(cases.c.case_id == case_id).values(**values))
                conn.execute(
                    case_events.insert().values(
                        case_id=case_id,
                        action=action,
                        from_status=current,
                        to_status=target,
                        assignee=assignee,
                        note=note,
                        actor=actor,
                        at=now,
                    )
                )
                updated = (
                    conn.execute(sa.select(cases).where(cases.c.case_id == case_id))
                    .mappings()
                    .one()
                )
                return case_from_row(updated)

        return retrying(transaction)

    def _check_roster(self, case_id: str, assignee: str) -> None:
        rosters = self.settings.rosters
        if not rosters:
            return
        team = self.get(case_id).team
        roster = rosters.get(team)
        if roster is not None and assignee not in roster:
            raise ProgramError(
                f"{assignee!r} is not in team {team}'s roster ([cases] teams: {', '.join(roster)})"
            )


def insert_returning_keys(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert cases, skipping those whose source record already has one; the ids inserted."""
    if not rows:
        return set()
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(cases).on_conflict_do_nothing().returning(cases.c.case_id)
    return set(conn.execute(statement, rows).scalars())


def _existing(conn: Connection, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        query = sa.select(cases.c.feedback_key).where(cases.c.feedback_key.in_(chunk))
        found.update(conn.execute(query).scalars())
    return found


def case_from_row(row: Any) -> Case:
    return Case(
        case_id=row["case_id"],
        feedback_key=row["feedback_key"],
        profile_id=row["profile_id"],
        customer_ref=row["customer_ref"],
        team=row["team"],
        assignee=row["assignee"],
        status=row["status"],
        priority=row["priority"],
        rule=row["rule"],
        metric=row["metric"],
        score=row["score"],
        touchpoint=row["touchpoint"],
        themes=tuple(t for t in (row["themes"] or "").split(",") if t),
        answered_at=row["answered_at"],
        opened_at=row["opened_at"],
        first_response_due=row["first_response_due"],
        resolution_due=row["resolution_due"],
        first_response_at=row["first_response_at"],
        resolved_at=row["resolved_at"],
        closed_at=row["closed_at"],
        resolution_code=row["resolution_code"],
        followed_up_at=row["followed_up_at"],
        reopened=int(row["reopened"]),
        contactable=bool(row["contactable"]),
    )
