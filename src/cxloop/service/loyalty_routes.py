"""REST routes of the loyalty program (operator role): enrol, earn, redeem, balance, ledger.

Thin over `cxloop.programs.loyalty.Ledger`: every write carries an idempotency key (the
`Idempotency-Key` header), so a client that retries after a timeout never earns or spends
twice; the same key with another request is a 409. Program errors carry their HTTP status
(`ProgramError.http_status`); the app's handler maps them.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt

from cxloop.service.auth import OPERATE, READ, Principal, require
from cxloop.service.responses import error_response as _error
from cxloop.service.responses import json_response as _json
from cxloop.service.responses import service_state as _state

if TYPE_CHECKING:
    from cxloop.programs.loyalty.ledger import Ledger
    from cxloop.service.state import ServiceState

MAX_POINTS = 10**12
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Unique per intended write: a retry with the same key and request "
        "returns the first result; the same key with another request is a 409.",
    ),
]


class Enrolment(BaseModel):
    """Who to enrol: a profile id, customer id, `source:customer_id`, email or anonymous id."""

    profile: str = Field(min_length=1, max_length=320)


class Earning(BaseModel):
    points: StrictInt = Field(gt=0, le=MAX_POINTS, description="Whole points to add.")
    reason: str = Field(min_length=1, max_length=500)
    source_type: str | None = Field(default=None, max_length=50, description="e.g. order")
    source_id: str | None = Field(default=None, max_length=200)


class Redemption(BaseModel):
    points: StrictInt = Field(gt=0, le=MAX_POINTS, description="Whole points to spend.")
    reason: str = Field(min_length=1, max_length=500)


class _Programs:
    """The program store and ledger of a service, opened on first use (a service that never
    runs the program needs no store, and an unreachable database fails only these routes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ledger: Ledger | None = None

    def ledger(self, state: ServiceState) -> Ledger:
        with self._lock:
            if self._ledger is None:
                from cxloop.programs.loyalty.ledger import Ledger
                from cxloop.programs.store import ProgramStore

                config = state.config
                store = ProgramStore.open(state.ws.path, config.programs.database_url or None)
                months = config.loyalty.expiry_months
                self._ledger = Ledger(store, expiry_months=months or None)
            return self._ledger

    def close(self) -> None:
        with self._lock:
            if self._ledger is not None:
                self._ledger.store.close()
                self._ledger = None


def router() -> APIRouter:
    r = APIRouter(prefix="/loyalty", tags=["loyalty"])

    @r.post("/members", summary="Enrol a profile (idempotent by profile)")
    def enrol(
        request: Request,
        body: Enrolment,
        principal: Annotated[Principal, Depends(require(OPERATE))],
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> Response:
        from cxloop import analyses

        state = _state(request)
        found = state.read(lambda ws: analyses.profile(ws, body.profile))
        if found is None:
            return _error(404, "no profile matches the key")
        member = _ledger(request).enrol(
            found["profile_id"], actor=_actor(principal), idempotency_key=idempotency_key
        )
        state.cache.clear()  # membership splits (scorecard, segments) change with it
        return _json(asdict(member))

    @r.post("/members/{member_id}/earn", summary="Add points (with an Idempotency-Key)")
    def earn(
        request: Request,
        member_id: str,
        body: Earning,
        idempotency_key: IdempotencyKey,
        principal: Annotated[Principal, Depends(require(OPERATE))],
    ) -> Response:
        entry = _ledger(request).earn(
            member_id,
            body.points,
            reason=body.reason,
            source_type=body.source_type,
            source_id=body.source_id,
            actor=_actor(principal),
            idempotency_key=idempotency_key,
        )
        return _json(asdict(entry))

    @r.post(
        "/members/{member_id}/redeem",
        summary="Spend points (with an Idempotency-Key); 409 when the balance is short",
    )
    def redeem(
        request: Request,
        member_id: str,
        body: Redemption,
        idempotency_key: IdempotencyKey,
        principal: Annotated[Principal, Depends(require(OPERATE))],
    ) -> Response:
        entry = _ledger(request).redeem(
            member_id,
            body.points,
            reason=body.reason,
            actor=_actor(principal),
            idempotency_key=idempotency_key,
        )
        return _json(asdict(entry))

    @r.get(
        "/members/{member_id}",
        summary="Balance, tier and open lots",
        dependencies=[Depends(require(OPERATE))],
    )
    def member(request: Request, member_id: str) -> Response:
        ledger = _ledger(request)
        doc = asdict(ledger.member(member_id))
        doc["lots"] = [asdict(lot) for lot in ledger.lots(member_id)]
        return _json(doc)

    @r.get(
        "/members/{member_id}/ledger",
        summary="The member's entries, newest first",
        dependencies=[Depends(require(OPERATE))],
    )
    def entries(
        request: Request,
        member_id: str,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before: Annotated[int | None, Query(ge=1, description="Entries older than this id")] = None,
    ) -> Response:
        ledger = _ledger(request)
        ledger.member(member_id)  # 404 for an unknown member, not an empty list
        rows = ledger.entries(member_id, limit=limit, before=before)
        return _json({"member_id": member_id, "entries": [asdict(e) for e in rows]})

    @r.get(
        "/liability",
        summary="Outstanding points and their value by age and tier; breakage",
        dependencies=[Depends(require(READ | OPERATE))],
    )
    def liability(
        request: Request,
        as_of: Annotated[str | None, Query(description="ISO date (default: now).")] = None,
    ) -> Response:
        from cxloop.programs.loyalty.liability import liability_report

        state = _state(request)
        moment = _moment(as_of)
        config = state.config
        doc = liability_report(
            _ledger(request), config.loyalty, moment, currency=config.locale.currency
        )
        return _json(doc)

    @r.post(
        "/jobs/sync",
        summary="Earn and reverse from the warehouse's orders, reviews and referrals; "
        "program facts back into the warehouse as events",
    )
    def sync(
        request: Request, principal: Annotated[Principal, Depends(require(OPERATE))]
    ) -> Response:
        from cxloop.programs.loyalty.facts import facts_to_warehouse
        from cxloop.programs.loyalty.sync import apply_sync, plan_sync

        state = _state(request)
        ledger = _ledger(request)
        state.writer.flush()  # orders accepted on the fast path count too
        # The warehouse is read for the plan only; the ledger writes need no engine lock.
        plan = state.read(lambda ws: plan_sync(ws, ledger, state.config.loyalty))
        report = apply_sync(ledger, plan)
        facts = state.writer.call(lambda: facts_to_warehouse(state.ws, ledger))
        state.cache.clear()
        return _json({**report.to_dict(), "facts_loaded": facts})

    @r.post("/jobs/expire", summary="Expire lots past their date (idempotent)")
    def expire(
        request: Request,
        principal: Annotated[Principal, Depends(require(OPERATE))],
        as_of: Annotated[str | None, Query(description="ISO date (default: now).")] = None,
    ) -> Response:
        report = _ledger(request).expire(_moment(as_of), actor=_actor(principal))
        return _json(report.to_dict())

    @r.post("/jobs/tiers", summary="Assign tiers as of a date (idempotent)")
    def tiers(
        request: Request,
        principal: Annotated[Principal, Depends(require(OPERATE))],
        as_of: Annotated[str | None, Query(description="ISO date (default: now).")] = None,
    ) -> Response:
        from cxloop.programs.loyalty.tiers import assign_tiers, warehouse_order_amounts

        state = _state(request)
        ledger = _ledger(request)
        moment = _moment(as_of)

        def run(ws: Any) -> Any:
            amounts = warehouse_order_amounts(ws)
            return assign_tiers(ledger, state.config.loyalty, moment, order_amounts=amounts)

        report = state.read(run)
        state.cache.clear()  # tiers split the figures too
        return _json(report.to_dict())

    return r


def _moment(text: str | None) -> datetime:
    """An `as_of` option: an ISO date or date-time (UTC when naive), or now."""
    from cxloop.analyses import parse_datetime

    parsed = parse_datetime(text, "as_of")
    if parsed is None:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ledger(request: Request) -> Ledger:
    programs: _Programs = request.app.state.programs
    return programs.ledger(_state(request))


def _actor(principal: Principal) -> str:
    return f"api:{principal.key_id}"


def programs() -> _Programs:
    return _Programs()
