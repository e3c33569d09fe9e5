"""Idempotency keys: a retried request returns the first result; a reused key is refused.

A client that timed out does not know whether its redemption committed; it sends the same
request with the same key again. The key, a hash of the request and the result are written in
the same transaction as the entry, so either both exist or neither does: a replay after a
crash is answered from the store, never applied twice. A request that failed (insufficient
points) rolled back and left no key, so it may be retried and succeed later.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.programs.errors import IdempotencyConflict, ProgramError, UnknownMember
from cxloop.programs.store import RetryTransaction
from cxloop.programs.tables import idempotency, members

MAX_KEY_LENGTH = 255


# Built once: SQLAlchemy reuses their compiled form on every write.
_LOCK_AND_LOOKUP = (
    sa.select(members.c.balance, idempotency.c.request_hash, idempotency.c.response)
    .select_from(
        members.outerjoin(idempotency, idempotency.c.key == sa.bindparam("b_key", type_=sa.Text))
    )
    .where(members.c.member_id == sa.bindparam("b_member", type_=sa.Text))
    .with_for_update(of=members)
)
_REMEMBER = sa.insert(idempotency)


def check_key(key: str | None) -> None:
    """Refuse an empty or oversized key before any work (a typo must not become a key)."""
    if key is None:
        return
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ProgramError(
            f"an idempotency key is a non-empty string of at most {MAX_KEY_LENGTH} characters"
        )


def request_hash(operation: str, **arguments: Any) -> str:
    """SHA-256 of the operation and its arguments in a canonical JSON form."""

    def canonical(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        return value

    document = [operation, {name: canonical(v) for name, v in sorted(arguments.items())}]
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lock_member_and_lookup(
    conn: Connection, member_id: str, key: str, request: str
) -> tuple[int, dict[str, Any] | None]:
    """Lock the member's row and read the key in one round trip: (balance, stored result).

    The lock serialises every change to one member (see `records.lock_member`). The key is
    read in the same statement; if a concurrent request with the same key committed while
    this one waited for the lock, this statement may not see it: such a request either fails
    on storing the key (and is retried, then replayed) or, if refused, looks again
    (`lookup`) before answering with the refusal.
    """
    row = conn.execute(_LOCK_AND_LOOKUP, {"b_key": key, "b_member": member_id}).first()
    if row is None:
        raise UnknownMember(f"no loyalty member {member_id!r}")
    if row.request_hash is None:
        return int(row.balance), None
    return int(row.balance), _answer(key, request, row.request_hash, row.response)


def lookup(conn: Connection, key: str, request: str) -> dict[str, Any] | None:
    """The stored result of `key` if it was used for this very request; None if unused.

    Call it after locking the member, so a concurrent request with the same key that
    committed first is seen here (PostgreSQL READ COMMITTED reads each statement afresh).
    """
    row = conn.execute(
        sa.select(idempotency.c.request_hash, idempotency.c.response).where(
            idempotency.c.key == key
        )
    ).first()
    if row is None:
        return None
    return _answer(key, request, row.request_hash, row.response)


def conflict(key: str) -> IdempotencyConflict:
    """The error for a key already used for a different request."""
    return IdempotencyConflict(
        f"idempotency key {key!r} was already used for a different request; "
        "use a new key for a new request"
    )


def _answer(key: str, request: str, stored_hash: str, response: str) -> dict[str, Any]:
    if stored_hash != request:
        raise conflict(key)
    result: dict[str, Any] = json.loads(response)
    return result


def remember(
    conn: Connection, key: str, request: str, response: dict[str, Any], now: datetime
) -> None:
    """Store the key with the result, in the caller's transaction.

    If another transaction stored the same key first (a race on two members, or two
    concurrent enrolments), the insert fails: the whole transaction is retried and then
    answered by `lookup`.
    """
    try:
        conn.execute(
            _REMEMBER,
            {
                "key": key,
                "request_hash": request,
                "response": json.dumps(response, sort_keys=True),
                "created_at": now,
            },
        )
    except sa.exc.IntegrityError as exc:
        raise RetryTransaction(f"idempotency key {key!r} was stored concurrently") from exc
