"""The transactional outbox: messages written in the same transaction as the state change that
causes them, delivered later by `cxloop worker` (programs/triggers/worker.py).

Why an outbox and not a call from the transaction: a webhook posted inside a transaction that
then rolls back tells a receiver about something that never happened; one posted after the
commit is lost if the process dies in between. Writing the message as a row of the same
transaction makes "the case was resolved" and "a follow-up will be sent" commit together.

Delivery is at least once, made exactly once at the receiver by the message's idempotency key
(`message_key`, sent as the `Idempotency-Key` header): a worker claims due messages for a lease
(`claimed_until`, with a random `claim_token` per claim), renews a message's lease just before
posting it, and marks it delivered; a worker killed after a post and before its mark leaves the
claim to expire, and the message is posted again with the same key. The renewal and the marks
hold only while the claim is still the worker's (its token): a worker whose lease ran out while
it was busy elsewhere neither posts a message another worker has taken since, nor marks it
(no duplicate post, no attempt counted twice).

Quiet hours hold every attempt, not only the first: each message keeps the zone whose quiet
hours apply to it (`zone`, the customer's or the workspace's, chosen when it was queued), and a
claim that finds a due message inside its quiet window moves it to the window's end instead of
taking it (a retry after backoff, a dead letter queued again at night, a worker catching up
after downtime).
A failed post is retried with exponential backoff (`backoff_seconds` doubling, capped at
`backoff_max_seconds`, full jitter); after `max_attempts` failures the message is dead (the
dead-letter list), kept with its last error until an operator retries it (`cxloop outbox`).
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.programs.closed_loop_tables import outbox
from cxloop.programs.errors import ProgramError
from cxloop.programs.store import ProgramStore, retrying
from cxloop.programs.triggers.timing import release_time

STATUSES = ("pending", "delivered", "dead")


@dataclass(frozen=True)
class Message:
    """One outbox row, as the worker and `cxloop outbox` see it."""

    id: int
    message_key: str
    webhook: str
    topic: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    zone: str | None = None
    claim_token: str | None = None  # set on the messages a claim returns

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_key": self.message_key,
            "webhook": self.webhook,
            "topic": self.topic,
            "payload": self.payload,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "delivered_at": None if self.delivered_at is None else self.delivered_at.isoformat(),
            "zone": self.zone,
        }


def insert_ignoring_duplicates(
    conn: Connection, table: sa.Table, rows: list[dict[str, Any]]
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on both dialects (a unique key already taken is
    the idempotent repeat of a write, not an error)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).on_conflict_do_nothing(), rows)


def enqueue(
    conn: Connection,
    messages: list[dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """Write messages inside the caller's transaction. Each dict has `message_key`, `webhook`,
    `topic`, `payload` (a JSON-able dict) and optionally `not_before` (quiet hours) and `zone`
    (the IANA zone whose quiet hours hold every attempt; none: no quiet hours)."""
    rows = [
        {
            "message_key": m["message_key"],
            "webhook": m["webhook"],
            "topic": m["topic"],
            "payload": json.dumps(m["payload"], sort_keys=True, default=str),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": m.get("not_before") or now,
            "created_at": now,
            "zone": m.get("zone"),
        }
        for m in messages
    ]
    insert_ignoring_duplicates(conn, outbox, rows)


def claim(
    store: ProgramStore,
    *,
    now: datetime,
    limit: int,
    lease_seconds: float,
    quiet: tuple[time, time] | None = None,
) -> list[Message]:
    """Take up to `limit` due messages for `lease_seconds`: no other worker takes them until
    the lease ends (a crashed worker's claims expire and are taken again). Each returned
    message carries the claim's token, which the renewal and the marks need.

    A due message inside the `quiet` window of its zone is not taken: its next attempt moves
    to the window's end."""
    until = now + timedelta(seconds=lease_seconds)
    token = secrets.token_hex(12)

    def transaction() -> list[Message]:
        with store.write() as conn:
            for _ in range(10):  # a few rounds, in case the first due ones are all quiet
                due = (
                    sa.select(outbox.c.id, outbox.c.zone)
                    .where(
                        outbox.c.status == "pending",
                        outbox.c.next_attempt_at <= now,
                        sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
                    )
                    .order_by(outbox.c.next_attempt_at, outbox.c.id)
                    .limit(limit)
                )
                if store.dialect == "postgresql":
                    due = due.with_for_update(skip_locked=True)
                found = conn.execute(due).all()
                if not found:
                    return []
                ids = []
                for message_id, zone in found:
                    release = _release(now, quiet, zone)
                    if release > now:
                        conn.execute(
                            outbox.update()
                            .where(outbox.c.id == message_id)
                            .values(next_attempt_at=release)
                        )
                    else:
                        ids.append(message_id)
                if ids:
                    break
            else:
                return []
            conn.execute(
                outbox.update()
                .where(outbox.c.id.in_(ids))
                .values(claimed_until=until, claim_token=token)
            )
            rows = conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))
            return [_message(r) for r in rows.mappings()]

    return retrying(transaction)


def renew(store: ProgramStore, message: Message, *, now: datetime, lease_seconds: float) -> bool:
    """Extend the claim on one message before posting it; False when the claim is no longer
    this worker's (its lease ran out and another worker took the message, or delivered it)."""

    def transaction() -> bool:
        with store.write() as conn:
            result = conn.execute(
                outbox.update()
                .where(_still_claimed(message))
                .values(claimed_until=now + timedelta(seconds=lease_seconds))
            )
            return bool(result.rowcount)

    return retrying(transaction)


def mark_delivered(store: ProgramStore, message: Message, *, now: datetime) -> bool:
    """Record the delivery; False when the claim was no longer this worker's (the message
    stays with the worker that holds it)."""

    def transaction() -> bool:
        with store.write() as conn:
            result = conn.execute(
                outbox.update()
                .where(_still_claimed(message))
                .values(
                    status="delivered",
                    delivered_at=now,
                    attempts=outbox.c.attempts + 1,
                    claimed_until=None,
                    claim_token=None,
                    last_error=None,
                )
            )
            return bool(result.rowcount)

    return retrying(transaction)


def mark_failed(
    store: ProgramStore,
    message: Message,
    error: str,
    *,
    now: datetime,
    max_attempts: int,
    backoff_seconds: float,
    backoff_max_seconds: float,
) -> str:
    """Record a failed attempt: retry later with backoff, or dead after `max_attempts`.
    Returns the message's new status, or "lost" when the claim was no longer this worker's
    (nothing recorded: the attempt belongs to no claim)."""

    def transaction() -> str:
        with store.write() as conn:
            attempts = conn.execute(
                sa.select(outbox.c.attempts).where(_still_claimed(message))
            ).scalar_one_or_none()
            if attempts is None:
                return "lost"
            attempts += 1
            dead = attempts >= max_attempts
            delay = backoff_delay(attempts, backoff_seconds, backoff_max_seconds)
            conn.execute(
                outbox.update()
                .where(_still_claimed(message))
                .values(
                    attempts=attempts,
                    status="dead" if dead else "pending",
                    next_attempt_at=now + timedelta(seconds=delay),
                    claimed_until=None,
                    claim_token=None,
                    last_error=error[:500],
                )
            )
            return "dead" if dead else "pending"

    return retrying(transaction)


def _still_claimed(message: Message) -> sa.ColumnElement[bool]:
    return sa.and_(
        outbox.c.id == message.id,
        outbox.c.status == "pending",
        outbox.c.claim_token == message.claim_token,
    )


def _release(now: datetime, quiet: tuple[time, time] | None, zone: str | None) -> datetime:
    """When a message of this zone may go out (a message without a zone has no quiet hours:
    it was queued before zones were kept, and was held when it was queued)."""
    if quiet is None or not zone:
        return now
    return release_time(now, quiet, zone, "UTC")


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds before attempt `attempts + 1`: base * 2^(attempts-1), capped, with full jitter
    in its upper half (so retries of many messages do not arrive in step)."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def messages(store: ProgramStore, *, status: str | None = None, limit: int = 100) -> list[Message]:
    """Messages, newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise ProgramError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(outbox.c.status == status)
    with store.read() as conn:
        return [_message(r) for r in conn.execute(query).mappings()]


def counts(store: ProgramStore) -> dict[str, int]:
    """Messages by status (every status listed, zeros included)."""
    with store.read() as conn:
        rows = conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))
        found = {status: int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in STATUSES}


def retry_dead(store: ProgramStore, *, now: datetime, ids: list[int] | None = None) -> int:
    """Put dead messages (all, or those ids) back in the queue with a fresh count of attempts;
    returns how many. Their idempotency keys are unchanged, so a receiver that did get one
    before still sees it once."""

    def transaction() -> int:
        with store.write() as conn:
            query = outbox.update().where(outbox.c.status == "dead")
            if ids is not None:
                query = query.where(outbox.c.id.in_(ids))
            result = conn.execute(
                query.values(
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    claimed_until=None,
                    claim_token=None,
                )
            )
            return int(result.rowcount or 0)

    return retrying(transaction)


def _message(row: Any) -> Message:
    return Message(
        id=int(row["id"]),
        message_key=row["message_key"],
        webhook=row["webhook"],
        topic=row["topic"],
        payload=json.loads(row["payload"]),
        status=row["status"],
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        zone=row["zone"],
        claim_token=row["claim_token"],
    )


def utcnow() -> datetime:
    return datetime.now(UTC)
