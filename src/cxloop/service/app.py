"""The REST API and dashboard of `cxloop serve`: a thin layer over the library.

Routes parse a request, call one library function (`cxloop.analyses`, the workspace's
ingest, `cxloop.privacy`) and return its document; no business logic lives here. See
docs/api.md for the endpoints, roles, limits and the concurrency model.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import traceback
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxloop import __version__, analyses
from cxloop.analytics.clv.build import MODELS
from cxloop.analytics.moments.build import OUTCOMES
from cxloop.analytics.scorecard.scope import BREAKDOWNS
from cxloop.contract.fastcheck import surely_valid
from cxloop.contract.schema import KINDS, ColumnType, Kind
from cxloop.errors import CxloopError, WorkspaceBusyError
from cxloop.programs.errors import ProgramError
from cxloop.service import advocacy_routes, cases_routes, content_routes, loyalty_routes
from cxloop.service.auth import ADMIN, INGEST, READ, Principal, RateLimiter, require
from cxloop.service.bodies import read_body
from cxloop.service.keys import ROLES, KeyStore
from cxloop.service.responses import error_response as _error
from cxloop.service.responses import json_response as _json
from cxloop.service.responses import service_state as _state
from cxloop.service.state import CachedDocument, ServiceState
from cxloop.service.writer import IngestRequest, RequestRejected, WriterUnavailable

log = logging.getLogger("cxloop.service")
access_log = logging.getLogger("cxloop.access")

PERIODS = ("month", "quarter", "year")
ANY_ROLE = frozenset(ROLES)


def create_app(workspace: Path | str, *, wait: float = 30.0) -> FastAPI:
    """The service for one workspace: opens it when the app starts, closes it at shutdown."""
    path = Path(workspace)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        state = ServiceState(path, wait=wait)
        serve = state.config.serve
        app.state.service = state
        app.state.keys = KeyStore(path)
        app.state.rate_limiter = RateLimiter(serve.rate_limit_per_minute, serve.rate_burst)
        app.state.programs = loyalty_routes.programs()
        try:
            yield
        finally:
            app.state.programs.close()
            state.close()
            app.state.keys.close()
            from cxloop.programs.advocacy.reactions import close_ledgers

            close_ledgers(path)  # the post-ingest reactor's store of this workspace

    app = FastAPI(
        title="cxloop",
        version=__version__,
        description="Measure and run the customer-experience loop: Buy, Own, Advocate, "
        "Buy again. Every route but health needs an API key (`cxloop keys create`).",
        lifespan=lifespan,
    )
    app.include_router(_health_router())
    app.include_router(_identity_router(), prefix="/v1")
    app.include_router(_ingest_router(), prefix="/v1")
    app.include_router(_analyses_router(), prefix="/v1")
    app.include_router(_profiles_router(), prefix="/v1")
    app.include_router(loyalty_routes.router(), prefix="/v1")
    app.include_router(advocacy_routes.router(), prefix="/v1")
    app.include_router(content_routes.router(), prefix="/v1")
    app.include_router(cases_routes.router(), prefix="/v1")
    _add_dashboard(app)
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes_of=lambda: _max_body(app))
    app.add_middleware(CleanErrors)
    app.add_middleware(AccessLog)  # outermost: every request gets its line, 413s included
    return app


def _max_body(app: FastAPI) -> int:
    state: ServiceState | None = getattr(app.state, "service", None)
    mb = state.config.serve.max_body_mb if state else 32.0
    return int(mb * 1024 * 1024)


def _add_dashboard(app: FastAPI) -> None:
    from cxloop.service.dashboard import router

    app.include_router(router)


# -- health ------------------------------------------------------------------------------
def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/v1/health", summary="Liveness: the process answers (no key needed)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/v1/ready", summary="Readiness: workspace open and writer running")
    def ready(request: Request) -> JSONResponse:
        state: ServiceState | None = getattr(request.app.state, "service", None)
        ok = state is not None and state.writer.alive
        body = {"status": "ready" if ok else "starting or stopping"}
        if state is not None and state.writer.trouble:
            body["status"] = state.writer.trouble
        if state is not None and state.writer.quarantined:
            body["journal_segments_set_aside"] = str(state.writer.quarantined)
        if ok and state is not None:
            body["data_version"] = str(state.data_version)
        return JSONResponse(body, status_code=200 if ok else 503)

    return router


def _identity_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/whoami", summary="The key's id and role (any valid key)")
    def whoami(principal: Annotated[Principal, Depends(require(ANY_ROLE))]) -> dict[str, str]:
        return {"key_id": principal.key_id, "role": principal.role}

    return router


# -- ingest ------------------------------------------------------------------------------
def _ingest_router() -> APIRouter:
    router = APIRouter(tags=["ingest"])
    for kind in KINDS.values():
        router.add_api_route(
            f"/{kind.name}",
            _ingest_endpoint(kind),
            methods=["POST"],
            summary=f"Load {kind.name}: one record, a JSON array or JSON Lines",
            description=(
                f"{kind.description} Records are validated like files are "
                "(docs/data-contract.md); good records are stored, rejected ones are listed "
                "with their index, column and reason. Idempotent by "
                f"{', '.join(kind.key)}. 200 when any record was accepted (or none sent), "
                "422 when every record was rejected."
            ),
            openapi_extra={"requestBody": _record_body_schema(kind)},
            responses={422: {"description": "every record rejected, or a malformed body"}},
        )
    return router


def _ingest_endpoint(kind: Kind) -> Callable[..., Awaitable[Response]]:
    async def ingest(
        request: Request, principal: Annotated[Principal, Depends(require(INGEST))]
    ) -> Response:
        state = _state(request)
        raw = await request.body()
        # Parsing and checking a large batch takes a while: off the event loop.
        body = await run_in_threadpool(read_body, raw, request.headers.get("content-type", ""))
        limit = state.config.serve.max_batch_records
        if body.count > limit:
            return _error(413, f"{body.count:,} records in one request; the limit is {limit:,}")
        if body.count == 0:
            return JSONResponse(
                {"kind": kind.name, "received": 0, "accepted": 0, "rejected": 0, "rejects": []}
            )
        work = IngestRequest(kind.name, body.payload, body.count)
        fast = await run_in_threadpool(_all_surely_valid, kind, body.records)
        submit = state.writer.submit_fast if fast else state.writer.submit_ingest
        result = await run_in_threadpool(submit, work)
        status = 422 if result.accepted == 0 else 200
        return JSONResponse(result.to_dict(), status_code=status)

    ingest.__name__ = f"ingest_{kind.name}"
    return ingest


def _all_surely_valid(kind: Kind, records: list[Any] | None) -> bool:
    return records is not None and all(surely_valid(kind, r) for r in records)


_JSON_TYPES = {
    ColumnType.STRING: {"type": "string"},
    ColumnType.TIMESTAMP: {"type": "string", "format": "date-time"},
    ColumnType.DATE: {"type": "string", "format": "date"},
    ColumnType.BOOL: {"type": "boolean"},
    ColumnType.INTEGER: {"type": "integer"},
    ColumnType.DECIMAL: {"type": ["number", "string"]},
    ColumnType.NUMBER: {"type": "number"},
    ColumnType.JSON: {"type": "object"},
}


def _record_body_schema(kind: Kind) -> dict[str, Any]:
    """The request body in OpenAPI: a record, an array of records, or JSON Lines text."""
    properties: dict[str, Any] = {}
    for column in kind.columns:
        schema = dict(_JSON_TYPES[column.type])
        if column.choices:
            schema["enum"] = list(column.choices)
        properties[column.name] = schema
    record = {
        "type": "object",
        "properties": properties,
        "required": [c.name for c in kind.columns if c.required],
        "additionalProperties": True,
    }
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"anyOf": [record, {"type": "array", "items": record}]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }


# -- analyses ----------------------------------------------------------------------------
def _analyses_router() -> APIRouter:
    router = APIRouter(tags=["analyses"], dependencies=[Depends(require(READ))])

    @router.get("/meta", summary="The workspace: brand, currency, data version, row counts")
    def meta(request: Request) -> dict[str, Any]:
        state = _state(request)
        if _wants_fresh(request):
            state.writer.flush()

        def work(ws: Any) -> dict[str, Any]:
            return {
                "brand": ws.config.brand.name,
                "competitors": list(ws.config.brand.competitors),
                "currency": ws.config.locale.currency,
                "timezone": ws.config.locale.timezone,
                "data_version": ws.data_version,
                "counts": {kind: ws.count(kind) for kind in KINDS},
                "version": __version__,
            }

        return state.read(work)

    @router.get("/scorecard", summary="The composite scorecard (as `cxloop scorecard --json`)")
    def scorecard(
        request: Request,
        period: Annotated[str | None, _enum(PERIODS, "Trend period.")] = None,
        by: Annotated[str | None, _enum(BREAKDOWNS, "Breakdown.")] = None,
        since: Annotated[str | None, Query(description="Start, ISO 8601 (inclusive).")] = None,
        until: Annotated[str | None, Query(description="End, ISO 8601 (exclusive).")] = None,
    ) -> Response:
        options = {"period": period, "by": by, "since": since, "until": until}
        return _document(request, "scorecard", options, analyses.scorecard)

    @router.get("/journey", summary="Journeys (as `cxloop journey --json`)")
    def journey(
        request: Request,
        period: Annotated[str | None, _enum(PERIODS, "Funnel period.")] = None,
        cart_window_hours: Annotated[float | None, Query(gt=0, le=24 * 365)] = None,
        conversion_window_days: Annotated[float | None, Query(gt=0, le=3650)] = None,
    ) -> Response:
        options = {
            "period": period,
            "cart_window_hours": cart_window_hours,
            "conversion_window_days": conversion_window_days,
        }
        return _document(request, "journey", options, analyses.journey)

    @router.get("/moments", summary="Pivotal moments, ranked (as `cxloop moments --json`)")
    def moments(
        request: Request,
        outcome: Annotated[str, _enum(OUTCOMES, "Outcome measured.")] = "nps",
        window_days: Annotated[int, Query(ge=1, le=3650)] = 180,
    ) -> Response:
        options = {"outcome": outcome, "window_days": window_days}
        return _document(request, "moments", options, analyses.moments)

    @router.get("/clv", summary="Customer lifetime value (as `cxloop clv --json`)")
    def clv(
        request: Request,
        model: Annotated[str, _enum(tuple(MODELS), "Purchase model.")] = "bgnbd",
        calibration_end: Annotated[str | None, Query(description="ISO day.")] = None,
        holdout_end: Annotated[str | None, Query(description="ISO day.")] = None,
        horizon_weeks: Annotated[float, Query(gt=0, le=520)] = 52.0,
        discount_rate: Annotated[float, Query(ge=0, lt=1)] = 0.01,
        time_unit: Annotated[str, _enum(("weeks", "days"), "Model time unit.")] = "weeks",
    ) -> Response:
        options = {
            "model": model,
            "calibration_end": calibration_end,
            "holdout_end": holdout_end,
            "horizon_weeks": horizon_weeks,
            "discount_rate": discount_rate,
            "time_unit": time_unit,
        }
        return _document(request, "clv", options, analyses.clv)

    @router.get("/segments", summary="Loyalty x advocacy segments (as `cxloop segments --json`)")
    def segments(request: Request) -> Response:
        return _document(request, "segments", {}, analyses.segments)

    @router.get("/personas", summary="Personas and drift (as `cxloop personas --json`)")
    def personas(
        request: Request,
        k: Annotated[int | None, Query(ge=2, le=20, description="Number of personas.")] = None,
    ) -> Response:
        return _document(request, "personas", {"k": k}, analyses.personas)

    @router.get("/voc", summary="Voice of the customer (as `cxloop voc --json`)")
    def voc(
        request: Request, period: Annotated[str | None, _enum(PERIODS, "Trend period.")] = None
    ) -> Response:
        return _document(request, "voc", {"period": period}, analyses.voc)

    return router


def _enum(values: tuple[str, ...], description: str) -> Any:
    """A query option whose allowed values the library checks (one rule, stated in OpenAPI)."""
    return Query(description=f"{description} One of: {', '.join(values)}.")


def _wants_fresh(request: Request) -> bool:
    """`Cache-Control: no-cache`: figures on everything accepted so far, journal included."""
    return "no-cache" in request.headers.get("cache-control", "").lower()


def _document(
    request: Request, name: str, options: dict[str, Any], run: Callable[..., Any]
) -> Response:
    """A cached analysis document, with its data version as ETag (a 304 when unchanged).

    `Cache-Control: no-cache` asks for the current data version; otherwise a document a few
    seconds old may be served while data streams in (`Age` says how old).
    """
    state = _state(request)
    fresh = _wants_fresh(request)
    entry: CachedDocument = state.document(
        name, options, lambda ws: run(ws, **options), fresh=fresh
    )
    etag = f'"{entry.data_version}"'
    headers = {
        "ETag": etag,
        "X-Data-Version": str(entry.data_version),
        "Age": str(int(entry.age)),
        "Cache-Control": "private, no-cache",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


# -- profiles and personal data ----------------------------------------------------------
def _profiles_router() -> APIRouter:
    router = APIRouter(tags=["profiles"], prefix="/profiles")

    @router.get("", summary="Profile counts and merges", dependencies=[Depends(require(READ))])
    def summary(request: Request) -> Response:
        return _document(request, "profiles", {}, analyses.profiles_summary)

    @router.get("/{key}", summary="One unified profile", dependencies=[Depends(require(READ))])
    def lookup(request: Request, key: str) -> Response:
        if _wants_fresh(request):
            _state(request).writer.flush()
        profile = _state(request).read(lambda ws: analyses.profile(ws, key))
        if profile is None:
            return _error(404, "no profile matches the key")
        return _json(profile)

    @router.get(
        "/{key}/export",
        summary="Everything held about a person (right of access)",
        dependencies=[Depends(require(ADMIN))],
    )
    def export(request: Request, key: str) -> Response:
        from cxloop.privacy import export_person

        state = _state(request)
        state.writer.flush()  # everything held includes records still in the journal
        return _json(state.read(lambda ws: export_person(ws, key)))

    @router.delete(
        "/{key}",
        summary="Erase a person from every table (right to erasure)",
        dependencies=[Depends(require(ADMIN))],
    )
    def erase(request: Request, key: str) -> Response:
        from cxloop.privacy import erase_person

        state = _state(request)
        principal: Principal = request.state.principal
        actor = f"api:{principal.key_id}"
        record = state.exclusive(lambda ws: erase_person(ws, key, actor=actor))
        state.cache.clear()  # no figure computed before the erasure is served after it
        return _json(record)

    return router


# -- errors, logs and limits -------------------------------------------------------------
def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CxloopError)
    async def user_error(request: Request, exc: CxloopError) -> Response:
        if isinstance(exc, WorkspaceBusyError | WriterUnavailable):
            return _error(503, str(exc))
        if isinstance(exc, RequestRejected):
            return _error(422, str(exc))
        if isinstance(exc, ProgramError):
            return _error(exc.http_status, str(exc))
        status = 404 if type(exc).__name__ == "NotFoundError" else 400
        return _error(status, str(exc))


class CleanErrors:
    """Any unexpected error becomes a 500 with an error id, logged without its message.

    The message may quote data (an email in a SQL error); the log gets the exception type
    and the code path only. Handled here, inside Starlette's outermost layer, the error is
    not re-raised, so the server's own logger never prints it either.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = [False]

        async def send_noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        except Exception as exc:
            error_id = secrets.token_hex(4)
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("internal error %s: %s\n%s", error_id, type(exc).__name__, frames)
            if not started[0]:
                body = json.dumps(
                    {"detail": f"internal error {error_id} (the server log has details)"}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One line per request: method, route template, status, time and key id.

    The route template (`/v1/profiles/{key}`), not the path, so an email or customer id in a
    URL never reaches the log; uvicorn's own access log is turned off by `cxloop serve`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = _template(scope)
            principal = getattr(scope.get("state", {}).get("principal"), "key_id", "-")
            access_log.info(
                "%s %s %d %.1fms key=%s",
                scope["method"],
                template,
                status[0],
                (time.perf_counter() - started) * 1000,
                principal,
            )


_KNOWN_SEGMENTS = {"", "v1", "docs", "redoc", "openapi.json", "static", "favicon.ico"}


def _template(scope: Scope) -> str:
    """The request path with every path parameter replaced by its name (`{key}`)."""
    if scope.get("route") is None:  # docs, unknown paths: only a known first segment
        first, _, rest = scope["path"].lstrip("/").partition("/")
        if first not in _KNOWN_SEGMENTS:
            return "(unknown path)"
        return f"/{first}" + ("/…" if rest else "")
    names = {str(v): k for k, v in scope.get("path_params", {}).items()}
    return "/".join(
        f"{{{names[seg]}}}" if seg in names else seg for seg in scope["path"].split("/")
    )


class BodyLimit:
    """Refuses bodies over the limit (413) before reading them, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes_of: Callable[[], int]) -> None:
        self.app = app
        self.max_bytes_of = max_bytes_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes_of()
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_too_large(send, limit)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # a streamed body: the route's handler answers 413
                    raise HTTPException(413, f"request body over {limit:,} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit:,} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
