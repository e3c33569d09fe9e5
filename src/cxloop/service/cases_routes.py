"""REST routes of the closed loop (operator role): cases and their lifecycle, the report, the
outbox. The report holds figures only (no customer), so analysts read it too (the dashboard).
Thin over `cxloop.programs.cases.Cases` and `cxloop.programs.outbox`.

The store is opened for each request (like the content catalogue): a service that never runs
the loop needs no store. A step the lifecycle refuses is a 409 naming the case's status and
what is allowed (`InvalidTransition`), an unknown case a 404; the app's handler maps them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from cxloop.service.auth import OPERATE, READ, Principal, require
from cxloop.service.responses import json_response as _json
from cxloop.service.responses import service_state as _state

if TYPE_CHECKING:
    from cxloop.programs.cases import Cases
    from cxloop.programs.store import ProgramStore

Operator = Annotated[Principal, Depends(require(OPERATE))]


class Assignment(BaseModel):
    assignee: str = Field(min_length=1, max_length=200, description="The person taking it.")
    note: str | None = Field(default=None, max_length=5000)


class Update(BaseModel):
    """Move a case on, or add a note (at least one of the two)."""

    status: Literal["in_progress", "closed", "open"] | None = Field(
        default=None, description="in_progress (start), closed (after resolved), open (reopen)"
    )
    note: str | None = Field(default=None, max_length=5000)
    contacted: bool = Field(
        default=False,
        description="The note records an answer to the customer (the first response).",
    )


class Resolution(BaseModel):
    code: str = Field(min_length=1, max_length=200, description="What was done.")
    note: str | None = Field(default=None, max_length=5000)


@contextmanager
def _store(request: Request) -> Iterator[ProgramStore]:
    from cxloop.programs.store import ProgramStore

    state = _state(request)
    url = state.config.programs.database_url or None
    with ProgramStore.open(state.ws.path, url, pool_size=1) as store:
        yield store


@contextmanager
def _cases(request: Request) -> Iterator[Cases]:
    from cxloop.programs.cases import Cases

    config = _state(request).config
    with _store(request) as store:
        yield Cases(store, config.cases, config.triggers, timezone=config.locale.timezone)


def _actor(principal: Principal) -> str:
    return f"api:{principal.key_id}"


def router() -> APIRouter:
    r = APIRouter(tags=["cases"])

    @r.get("/cases", summary="Cases matching the filters, most urgent first")
    def list_cases(
        request: Request,
        _: Operator,
        team: str | None = None,
        status: Annotated[
            str | None, Query(description="open, assigned, in_progress, resolved, closed, active")
        ] = None,
        assignee: str | None = None,
        priority: str | None = None,
        overdue: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        with _cases(request) as cases:
            found = cases.list(
                team=team,
                status=status,
                assignee=assignee,
                priority=priority,
                overdue=overdue,
                limit=limit,
            )
        return _json({"cases": [c.to_dict() for c in found]})

    @r.get(
        "/cases/report",
        summary="Backlog by team, SLA, speed, themes, the loop's effect (figures only)",
        dependencies=[Depends(require(READ | OPERATE))],
    )
    def report(request: Request) -> Response:
        from cxloop.programs.cases.report import case_report

        state = _state(request)
        with _cases(request) as cases:
            doc = state.read(lambda ws: case_report(cases, ws))
        return _json(doc)

    @r.get("/cases/{case_id}", summary="One case and its history")
    def show(request: Request, case_id: str, _: Operator) -> Response:
        with _cases(request) as cases:
            doc = {**cases.get(case_id).to_dict(), "history": cases.history(case_id)}
        return _json(doc)

    @r.post("/cases/{case_id}/assign", summary="Assign or reassign a case")
    def assign(request: Request, case_id: str, body: Assignment, principal: Operator) -> Response:
        with _cases(request) as cases:
            case = cases.assign(case_id, body.assignee, actor=_actor(principal), note=body.note)
        return _json(case.to_dict())

    @r.post("/cases/{case_id}/update", summary="Start, close or reopen a case, or add a note")
    def update(request: Request, case_id: str, body: Update, principal: Operator) -> Response:
        from cxloop.programs.errors import ProgramError

        actor = _actor(principal)
        with _cases(request) as cases:
            if body.status is None:
                if not body.note:
                    raise ProgramError("an update needs a status or a note")
                case = cases.note(case_id, body.note, actor=actor, contacted=body.contacted)
            elif body.status == "in_progress":
                case = cases.start(case_id, actor=actor, note=body.note)
            elif body.status == "closed":
                case = cases.close(case_id, actor=actor, note=body.note)
            else:
                case = cases.reopen(case_id, actor=actor, note=body.note)
        return _json(case.to_dict())

    @r.post(
        "/cases/{case_id}/resolve",
        summary="Resolve a case; the follow-up survey is queued when the customer may be contacted",
    )
    def resolve(request: Request, case_id: str, body: Resolution, principal: Operator) -> Response:
        with _cases(request) as cases:
            case = cases.resolve(case_id, body.code, actor=_actor(principal), note=body.note)
        return _json(case.to_dict())

    @r.get("/outbox", summary="Outbox counts and messages (dead letters with status=dead)")
    def outbox(
        request: Request,
        _: Operator,
        status: Annotated[str | None, Query(description="pending, delivered or dead")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        from cxloop.programs import outbox as box

        with _store(request) as store:
            doc = {
                "counts": box.counts(store),
                "messages": [m.to_dict() for m in box.messages(store, status=status, limit=limit)],
            }
        return _json(doc)

    @r.post("/outbox/retry", summary="Queue dead messages again (all, or the ids given)")
    def retry(
        request: Request,
        _: Operator,
        ids: Annotated[list[int] | None, Query(description="Message ids; none = all dead")] = None,
    ) -> Response:
        from cxloop.programs import outbox as box

        with _store(request) as store:
            retried = box.retry_dead(store, now=datetime.now(UTC), ids=ids)
        return _json({"retried": retried})

    return r
