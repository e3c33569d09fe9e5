"""Who may call which route: API keys turned into a role, checked against a permission group.

A route declares the group it belongs to, nothing else::

    @router.get("/scorecard", dependencies=[Depends(require(READ))])

The app provides two things on its state: `keys` (a `KeyStore`, required: without it every
request fails closed) and `rate_limiter` (a `RateLimiter`, or None for no limit).

Secrets and personal data are never logged; a key is named by its public key id only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cxloop.service.keys import KeyInfo, KeyStore

# Permission groups: the roles allowed to call a route. `admin` is in every group.
READ: frozenset[str] = frozenset({"admin", "analyst"})
INGEST: frozenset[str] = frozenset({"admin", "ingest"})
OPERATE: frozenset[str] = frozenset({"admin", "operator"})
ADMIN: frozenset[str] = frozenset({"admin"})

# Both ways of presenting a key are declared as security schemes, so the OpenAPI document
# (and /docs) shows them; neither raises by itself, `require` decides.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """The caller of a request, as far as the service needs to know it."""

    key_id: str
    role: str


class RateLimiter:
    """A token bucket per key: `burst` requests at once, refilled at `per_minute` a minute.

    Thread-safe (routes and dependencies run in a thread pool) and O(1) per request. Buckets
    are kept for verified keys only, so memory is bounded by the number of keys, not by what
    strangers send. The clock is monotonic, so a wall-clock jump neither blocks nor frees
    anyone; tests inject their own.
    """

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst <= 0:
            raise ValueError(f"rate limit must be positive: per_minute={per_minute}, burst={burst}")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key_id -> (tokens, at)

    def acquire(self, key_id: str) -> float:
        """Take one token for `key_id`: 0.0 when allowed, else the seconds until one is free."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self._rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / self._rate


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _key_store(request: Request) -> KeyStore:
    """The app's key store; a missing one is a server bug, so it fails closed (500)."""
    store = getattr(request.app.state, "keys", None)
    if not isinstance(store, KeyStore):
        raise RuntimeError("app.state.keys is not set: the service cannot check API keys")
    return store


def _authenticate(
    request: Request, bearer: HTTPAuthorizationCredentials | None, api_key: str | None
) -> KeyInfo:
    """The key presented (Bearer first, then X-API-Key), verified, or 401."""
    secret = bearer.credentials if bearer is not None else api_key
    if not secret:
        raise _unauthorized(
            "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
        )
    info = _key_store(request).verify(secret)
    if info is None:  # one answer for unknown, malformed and revoked: no oracle for guessers
        raise _unauthorized("invalid or revoked API key")
    return info


def _check_rate(request: Request, key_id: str) -> None:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    wait = limiter.acquire(key_id)
    if wait > 0:
        log.info("API key %s is over its rate limit", key_id)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"rate limit exceeded: {limiter.per_minute} requests a minute "
            f"(bursts of {limiter.burst}); retry later",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


def _check_role(principal: Principal, group: frozenset[str]) -> None:
    if principal.role in group:
        return
    needed = " or ".join(sorted(group))
    log.info("API key %s (role %s) refused: needs %s", principal.key_id, principal.role, needed)
    raise HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"this needs the {needed} role; this key has the {principal.role} role",
    )


def require(group: frozenset[str]) -> Callable[..., Principal]:
    """A FastAPI dependency that admits callers whose key's role is in `group`.

    401 without a valid key, 429 over the key's rate limit, 403 for a role outside the group.
    The rate limit is taken before the role check so that a key hammering routes it may not
    use is slowed down too. The principal is left on `request.state.principal`; when several
    `require`s guard one route, the key is verified and counted once and every group checked.

    The dependency is a plain `def` on purpose: FastAPI runs it in its thread pool, so a key
    file briefly locked by `cxloop keys create` never stalls the event loop.
    """
    if not group:
        raise ValueError("a permission group needs at least one role")

    def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        api_key: Annotated[str | None, Security(_api_key_header)],
    ) -> Principal:
        principal = _principal(request, bearer, api_key)
        _check_role(principal, group)
        return principal

    return dependency


def _principal(
    request: Request, bearer: HTTPAuthorizationCredentials | None, api_key: str | None
) -> Principal:
    """Authenticate and count the request once, however many `require`s guard the route
    (a router-wide group plus a stricter one on a route must not spend two tokens)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    info = _authenticate(request, bearer, api_key)
    principal = Principal(key_id=info.key_id, role=info.role)
    _check_rate(request, principal.key_id)
    request.state.principal = principal
    return principal
