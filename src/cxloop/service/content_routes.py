"""REST routes of the experience architecture and the content program.

Content catalogue: list and read (analyst or operator), create and move through the
workflow (operator; a move the workflow forbids is a 409). The catalogue lives in the
programs' store, opened for each request (catalogue writes are rare, and a service that
never touches content needs no store). Analyses: `/architecture` and `/content/lift`, the
documents of `cxloop architecture --json` and `cxloop content lift --json`, cached like every
analysis; a catalogue change clears the cache (lift depends on the catalogue too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from cxloop.service.auth import OPERATE, READ, Principal, require
from cxloop.service.responses import json_response as _json
from cxloop.service.responses import service_state as _state

if TYPE_CHECKING:
    from cxloop.programs.content import ContentCatalogue

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"


class AssetCreate(BaseModel):
    """A new content asset; its status defaults to `idea`."""

    content_id: str = Field(pattern=_ID)
    title: str = Field(min_length=1, max_length=500)
    type: str = Field(description="guide, video, calculator, review_showcase, article, ...")
    persona: str = Field(default="all", min_length=1, max_length=200)
    moment: str = Field(min_length=1, max_length=200, description="A moment or a touchpoint.")
    value_level: str = Field(description="functional, personal or catalytic")
    status: str = Field(default="idea", description="idea, planned, approved, published")
    owner: str | None = Field(default=None, max_length=200)


class StatusChange(BaseModel):
    status: str = Field(description="idea, planned, approved, published or retired")
    at: datetime | None = Field(default=None, description="When (with offset); default now.")


@contextmanager
def _catalogue(request: Request) -> Iterator[ContentCatalogue]:
    from cxloop.programs.content import ContentCatalogue
    from cxloop.programs.store import ProgramStore

    state = _state(request)
    url = state.config.programs.database_url or None
    with ProgramStore.open(state.ws.path, url, pool_size=1) as store:
        yield ContentCatalogue(store)


def _cached(
    request: Request, name: str, options: dict[str, Any], run: Callable[..., Any]
) -> Response:
    """An analysis document from the service's cache, with its data version as ETag."""
    state = _state(request)
    fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    entry = state.document(name, options, lambda ws: run(ws, **options), fresh=fresh)
    etag = f'"{entry.data_version}"'
    headers = {"ETag": etag, "X-Data-Version": str(entry.data_version),
               "Age": str(int(entry.age)), "Cache-Control": "private, no-cache"}  # fmt: skip
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


def _file_version(request: Request) -> int:
    """The architecture file's modification time: part of the cache key of the documents
    that read it, so an edited file is never answered from the cache."""
    from cxloop.experience import ARCHITECTURE_FILE

    path = _state(request).ws.path / ARCHITECTURE_FILE
    return path.stat().st_mtime_ns if path.is_file() else 0


def router() -> APIRouter:
    r = APIRouter(tags=["architecture and content"])

    @r.get(
        "/architecture",
        summary="Experience architecture joined with the data (as `cxloop architecture --json`)",
        dependencies=[Depends(require(READ))],
    )
    def architecture(
        request: Request,
        outcome: Annotated[str, Query(description="Outcome of the pivotal effects.")] = "nps",
    ) -> Response:
        from cxloop import analyses

        def run(ws: Any, outcome: str, file_version: int) -> Any:
            return analyses.architecture(ws, outcome=outcome)

        options = {"outcome": outcome, "file_version": _file_version(request)}
        return _cached(request, "architecture", options, run)

    @r.get(
        "/content/lift",
        summary="Reach, engagement and adjusted lift per asset and moment "
        "(as `cxloop content lift --json`)",
        dependencies=[Depends(require(READ))],
    )
    def lift(
        request: Request,
        outcome: Annotated[str, Query(description="nps, csat, ces, rating or repurchase.")] = "nps",
        window_days: Annotated[int, Query(ge=1, le=3650)] = 30,
    ) -> Response:
        from cxloop import analyses

        def run(ws: Any, outcome: str, window_days: int, file_version: int) -> Any:
            return analyses.content(ws, outcome=outcome, window_days=window_days)

        options = {
            "outcome": outcome,
            "window_days": window_days,
            "file_version": _file_version(request),
        }
        return _cached(request, "content_lift", options, run)

    @r.get(
        "/content", summary="Every content asset", dependencies=[Depends(require(READ | OPERATE))]
    )
    def list_assets(request: Request) -> Response:
        with _catalogue(request) as catalogue:
            return _json({"assets": [a.to_dict() for a in catalogue.list()]})

    @r.get(
        "/content/{content_id}",
        summary="One asset and its status history",
        dependencies=[Depends(require(READ | OPERATE))],
    )
    def get_asset(request: Request, content_id: str) -> Response:
        with _catalogue(request) as catalogue:
            asset = catalogue.get(content_id).to_dict()
            asset["history"] = catalogue.history(content_id)
        return _json(asset)

    @r.post("/content", summary="Create an asset (operator)", status_code=201)
    def create(
        request: Request,
        body: AssetCreate,
        principal: Annotated[Principal, Depends(require(OPERATE))],
    ) -> Response:
        from cxloop.content.files import AssetRow

        row = AssetRow(
            line=0, content_id=body.content_id, title=body.title.strip(),
            type=body.type.strip().lower(), persona=body.persona.strip(),
            moment=body.moment.strip(), value_level=body.value_level.strip().lower(),
            status=body.status.strip().lower(), owner=body.owner, created_at=None,
            status_dates={},
        )  # fmt: skip
        with _catalogue(request) as catalogue:
            asset = catalogue.create(row, actor=principal.key_id)
        _state(request).cache.clear()
        return _json(asset.to_dict(), 201)

    @r.post(
        "/content/{content_id}/status",
        summary="Move an asset through the workflow (operator); 409 when not allowed",
    )
    def move(
        request: Request,
        content_id: str,
        body: StatusChange,
        principal: Annotated[Principal, Depends(require(OPERATE))],
    ) -> Response:
        with _catalogue(request) as catalogue:
            asset = catalogue.transition(
                content_id, body.status.strip().lower(), actor=principal.key_id, at=body.at
            )
        _state(request).cache.clear()
        return _json(asset.to_dict())

    return r
