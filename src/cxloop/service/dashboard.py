"""The web dashboard: a single-page app served next to the REST API by `cxloop serve`.

The pages hold no data. The browser asks the API for it (`/v1/...`) with the key the user
pastes in, so these routes need no key themselves, and the dashboard never knows more than
the key's role allows.

Nothing is fetched from outside the server, not even fonts: the app's files ship in
`static/`, and Vega, Vega-Lite and vega-embed come from the `vl_convert` package already
installed for the HTML report (`vl_convert.javascript_bundle`), bundled once per process
and kept in memory. A Content-Security-Policy tells the browser the same thing (only this
origin), so a bug or a hostile label cannot make the page call anywhere else.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Explicit types: the platform's mimetypes table varies (".js" was "application/x-javascript"
# on some systems), and a module script with the wrong type does not run.
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}

# The app's own files may change with an upgrade: the browser revalidates them every time
# (a 304 costs a round trip, not the file). The vendor bundle changes only with vl_convert.
APP_CACHE = "no-cache"
VENDOR_CACHE = "public, max-age=86400"

# Vega compiles expressions with `new Function` unless told to interpret them; the app embeds
# with `ast: true` (vega-embed's bundled interpreter), so no 'unsafe-eval'. vega-embed and its
# tooltips inject their own <style> elements, hence 'unsafe-inline' for styles only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# What the bundle exposes to the app. Only vegaEmbed: in vl_convert 1.9 the snippet's `vega`
# and `vegaLite` names are null, and the app needs neither (vega-embed carries both).
VEGA_SNIPPET = "window.vegaEmbed = vegaEmbed;"

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str
    cache_control: str


def _asset(body: bytes, content_type: str, cache_control: str) -> Asset:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, content_type, etag, cache_control)


_vega_lock = threading.Lock()
_vega: Asset | None = None


def vega_bundle() -> Asset:
    """Vega + Vega-Lite + vega-embed as one script, built offline by vl_convert (~1.5 s) the
    first time it is asked for, then served from memory."""
    global _vega
    with _vega_lock:  # two first requests at once build it once
        if _vega is None:
            import vl_convert

            source = vl_convert.javascript_bundle(VEGA_SNIPPET)
            _vega = _asset(source.encode("utf-8"), CONTENT_TYPES[".js"], VENDOR_CACHE)
        return _vega


def _static_file(relative: str) -> Asset:
    """A file of `static/`, or 404: nothing outside the folder, no hidden files, known types."""
    parts = Path(relative).parts
    if not parts or any(p.startswith(".") or p in ("..", "/", "\\") for p in parts):
        raise HTTPException(404, detail="not found")
    root = STATIC_DIR.resolve()
    path = (root / relative).resolve()
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None or not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(404, detail="not found")
    return _asset(path.read_bytes(), content_type, APP_CACHE)


def _respond(request: Request, asset: Asset) -> Response:
    headers = {
        "ETag": asset.etag,
        "Cache-Control": asset.cache_control,
        "X-Content-Type-Options": "nosniff",
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


@router.get("/")
def index(request: Request) -> Response:
    """The single-page app; its pages are hash routes (`/#/scorecard?period=month`)."""
    response = _respond(request, _static_file("index.html"))
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@router.get("/static/vendor/vega.js")
def vega_js(request: Request) -> Response:
    return _respond(request, vega_bundle())


@router.get("/static/{path:path}")
def static(path: str, request: Request) -> Response:
    return _respond(request, _static_file(path))
