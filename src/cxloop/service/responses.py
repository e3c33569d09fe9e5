"""What every route of the service shares: its state, and JSON answers encoded one way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import Response

from cxloop.documents import to_json

if TYPE_CHECKING:
    from cxloop.service.state import ServiceState


def service_state(request: Request) -> ServiceState:
    return request.app.state.service


def json_response(document: Any, status: int = 200) -> Response:
    """A document encoded as the CLI's `--json` encodes it (dates, decimals, no NaN)."""
    return Response(to_json(document, indent=None), status, media_type="application/json")


def error_response(status: int, detail: str) -> Response:
    return json_response({"detail": detail}, status)
