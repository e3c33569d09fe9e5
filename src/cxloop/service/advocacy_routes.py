"""REST routes of the advocacy program: advocates, asks, codes, referrals (operator role;
the report and the leaderboard are readable by analysts too, for the dashboard).

Thin over `cxloop.programs.advocacy.operations`: warehouse reads run on the service's reader
connection, store writes through the programs' ledger (opened once, shared with the loyalty
routes). Asks are idempotent per (profile, ask, source); completions and rewards per act.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from cxloop.service.auth import OPERATE, READ, Principal, require
from cxloop.service.loyalty_routes import _actor, _ledger, _moment
from cxloop.service.responses import error_response as _error
from cxloop.service.responses import json_response as _json
from cxloop.service.responses import service_state as _state

Limit = Annotated[int, Query(ge=1, le=1000, description="Most rows returned.")]
STATUSES = "^(holding|flagged|rewarded|reversed|void|rejected)$"


class AskRequest(BaseModel):
    profile: str = Field(min_length=1, max_length=320, description="Any profile lookup key.")
    ask: str = Field(min_length=1, max_length=50, description="An ask of the ladder.")
    source: str = Field(min_length=1, max_length=200, description="Who asks (trigger, case).")
    at: str | None = Field(default=None, description="ISO date or time (default now).")


class Completion(BaseModel):
    reference: str | None = Field(default=None, max_length=500, description="e.g. a URL")


class CodeRequest(BaseModel):
    profile: str = Field(min_length=1, max_length=320, description="Any profile lookup key.")


class Decision(BaseModel):
    approve: bool = Field(description="true: pay once held long enough; false: never pay.")


def router() -> APIRouter:
    r = APIRouter(prefix="/advocacy", tags=["advocacy"])
    operate = [Depends(require(OPERATE))]
    read_or_operate = [Depends(require(READ | OPERATE))]

    @r.get(
        "/report",
        summary="Advocates, referrals, CAC, CLV, reviews, asks and their effect",
        dependencies=read_or_operate,
    )
    def report(request: Request, limit: Limit = 20) -> Response:
        from cxloop.programs.advocacy import operations

        ledger = _ledger(request)
        return _json(_state(request).read(lambda ws: operations.report(ws, ledger, limit=limit)))

    @r.get(
        "/advocates",
        summary="The leaderboard (score, parts, level) and potential advocates",
        dependencies=read_or_operate,
    )
    def advocates(request: Request, limit: Limit = 20) -> Response:
        from cxloop.programs.advocacy import operations

        ledger = _ledger(request)
        doc = _state(request).read(lambda ws: operations.advocates(ws, ledger, limit=limit))
        return _json(doc)

    @r.get(
        "/next-asks",
        summary="The next best ask of each top and potential advocate",
        dependencies=operate,
    )
    def next_asks(request: Request, limit: Limit = 20) -> Response:
        from cxloop.programs.advocacy import operations

        ledger = _ledger(request)
        doc = _state(request).read(lambda ws: operations.next_asks(ws, ledger, limit=limit))
        return _json({"next_asks": doc})

    @r.post(
        "/asks",
        summary="Ask a person (eligibility, cool-downs; once per profile/ask/source)",
        dependencies=operate,
    )
    def ask(request: Request, body: AskRequest) -> Response:
        from cxloop.programs.advocacy import operations

        ledger = _ledger(request)
        at = _moment(body.at)
        doc = _state(request).read(
            lambda ws: operations.ask(ws, ledger, body.profile, body.ask, source=body.source,
                                      at=at)
        )  # fmt: skip
        return _json(doc)

    @r.post(
        "/asks/{ask_id}/complete",
        summary="Record an ask completed and pay it (once)",
        dependencies=operate,
    )
    def complete(request: Request, ask_id: str, body: Completion) -> Response:
        from cxloop.programs.advocacy import operations

        settings = _state(request).config.advocacy
        doc = operations.complete(_ledger(request), settings, ask_id, reference=body.reference)
        return _json(doc)

    @r.post(
        "/codes", summary="The person's referral code (created on first use)", dependencies=operate
    )
    def code(request: Request, body: CodeRequest) -> Response:
        from cxloop import analyses
        from cxloop.programs.advocacy import operations

        found = _state(request).read(lambda ws: analyses.profile(ws, body.profile))
        if found is None:
            return _error(404, "no profile matches the key")
        return _json(operations.code(_ledger(request), found["profile_id"]))

    @r.get(
        "/referrals",
        summary="Referral conversions with their state and fraud flags",
        dependencies=operate,
    )
    def referrals(
        request: Request,
        status: Annotated[str | None, Query(pattern=STATUSES)] = None,
        limit: Limit = 100,
    ) -> Response:
        from cxloop.programs.advocacy import operations

        rows = operations.referrals(_ledger(request), status=status, limit=limit)
        return _json({"referrals": rows})

    @r.get(
        "/referrals/flagged",
        summary="Referrals held for review by the fraud checks",
        dependencies=operate,
    )
    def flagged(request: Request, limit: Limit = 100) -> Response:
        from cxloop.programs.advocacy import operations

        rows = operations.referrals(_ledger(request), status="flagged", limit=limit)
        return _json({"referrals": rows})

    @r.post("/referrals/{conversion_id}/decision", summary="Approve or reject a flagged referral")
    def decide(
        request: Request,
        conversion_id: str,
        body: Decision,
        principal: Annotated[Principal, Depends(require(OPERATE))],
    ) -> Response:
        from cxloop.programs.advocacy import operations

        doc = operations.decide(
            _ledger(request), conversion_id, approve=body.approve, actor=_actor(principal)
        )
        return _json(doc)

    @r.post(
        "/jobs/release",
        summary="Pay referrals past their holding period; apply returns",
        dependencies=operate,
    )
    def release(request: Request) -> Response:
        from cxloop.programs.advocacy import operations

        state = _state(request)
        ledger = _ledger(request)
        state.writer.flush()
        return _json(state.read(lambda ws: operations.release(ws, ledger)))

    return r
