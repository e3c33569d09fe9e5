"""Earns, redemptions and adjustments, applied many at a time with set-based statements.

A posting credits points to a member (a new lot) or debits them (drawn from the lots, first
to expire first). One write on its own is a transaction of seven or eight statements and a
commit; most of its cost (client and server CPU, round trips, the wait for the disk) is per
statement and per commit, not per row. So the ledger hands the postings of concurrent
clients to `apply_postings`, which applies a whole batch with a constant number of
statements, whatever its size:

1. lock the batch's members, `SELECT ... FOR UPDATE` in member-id order (two batches, or a
   batch and an expiry run, take their locks in the same order: no deadlock), and read the
   batch's idempotency keys in the same statement;
2. read the open lots of the members who have debits (after the locks: on PostgreSQL, READ
   COMMITTED, this statement sees what the holders of those locks committed);
3. look again for the keys of refused postings (below), if any;
4. decide each posting in Python, in the order received, exactly as one transaction after
   the other would: balances and lots are tracked per member through the batch, so a
   redemption sees the earn just before it; a refused posting (more than the balance, an
   earn in the future, an unknown member, a key reused for another request) is left out
   with its error, not rolled back with the others; a key seen earlier in the batch answers
   like a replay;
5. write: entries (one multi-row `INSERT ... RETURNING`), lots, lot draws, lots' remaining
   points, members' balances and idempotency keys, each one statement.

Everything commits together or not at all, in the caller's transaction. A statement that
waited for a lock reads other tables as they were when it started, so step 1 may miss a key
that a concurrent transaction stored meanwhile: the key's insert then fails, the caller
(`retrying`) runs the whole batch again, and the key answers as a replay; and a posting
refused for its amount (or date) looks for its key once more (step 3), so a refusal never
hides the answer stored under its key. The old one-request path did the same.
"""

from __future__ import annotations

import bisect
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.programs.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    ProgramError,
    RetryTransaction,
    UnknownMember,
)
from cxloop.programs.loyalty import idempotency as keys
from cxloop.programs.loyalty.lots import plan_draws
from cxloop.programs.loyalty.models import Entry
from cxloop.programs.loyalty.records import (
    ENTRY_COLUMNS,
    FIFO,
    check_text,
    entry_from_row,
)
from cxloop.programs.loyalty.values import add_months, aware, check_points
from cxloop.programs.store import insert_rows, one_of, pipelined, update_rows
from cxloop.programs.tables import idempotency, ledger_entries, lot_consumption, lots, members

#: The kinds of entry a posting writes (reversals and expiries have their own paths).
POSTING_KINDS = ("earn", "redeem", "adjust")


@dataclass(frozen=True)
class Posting:
    """One checked request to credit (`points` > 0) or debit (`points` < 0) a member.

    Built by `earn`, `redeem` and `adjust` below, which check every value before any
    transaction opens; `request` is the hash its idempotency key is held to.
    """

    kind: str
    member_id: str
    points: int
    reason: str
    source_type: str | None
    source_id: str | None
    actor: str
    key: str
    request: str
    earned_at: datetime | None = None  # a credit's lot date (None: when it is written)


def earn(
    member_id: str,
    points: int,
    *,
    reason: str,
    source_type: str | None,
    source_id: str | None,
    actor: str,
    idempotency_key: str,
    at: datetime | None = None,
) -> Posting:
    """An earn of `points`, its lot earned `at` (default: when written); see `Ledger.earn`."""
    check_points(points)
    check_text("source_type", source_type, optional=True)
    check_text("source_id", source_id, optional=True)
    at = None if at is None else aware(at, "at")
    arguments = {"member_id": member_id, "points": points, "reason": reason}
    arguments |= {"source_type": source_type, "source_id": source_id, "actor": actor, "at": at}
    request = _request("earn", arguments, idempotency_key)
    return Posting(
        "earn", member_id, points, reason, source_type, source_id, actor, idempotency_key,
        request, at,
    )  # fmt: skip


def redeem(
    member_id: str, points: int, *, reason: str, actor: str, idempotency_key: str
) -> Posting:
    """A redemption of `points`; see `Ledger.redeem`."""
    check_points(points)
    arguments = {"member_id": member_id, "points": points, "reason": reason, "actor": actor}
    request = _request("redeem", arguments, idempotency_key)
    return Posting(
        "redeem", member_id, -points, reason, None, None, actor, idempotency_key, request
    )


def adjust(
    member_id: str, points: int, *, reason: str, actor: str, idempotency_key: str
) -> Posting:
    """An operator's correction of `points` (signed, not zero); see `Ledger.adjust`."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ProgramError(f"adjust points must be a non-zero whole number (got {points!r})")
    check_points(abs(points))
    arguments = {"member_id": member_id, "points": points, "reason": reason, "actor": actor}
    request = _request("adjust", arguments, idempotency_key)
    return Posting("adjust", member_id, points, reason, None, None, actor, idempotency_key, request)


def _request(operation: str, arguments: dict[str, Any], key: str) -> str:
    """Check what every write needs (reason, actor, a key) and hash the request."""
    check_text("reason", arguments.get("reason"))
    check_text("actor", arguments.get("actor"))
    if key is None:
        raise ProgramError(f"{operation} needs an idempotency key")
    keys.check_key(key)
    return keys.request_hash(operation, **arguments)


# -- applying a batch -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Queries:
    """The batch's reads, built once per dialect (lists bound as one parameter: store.one_of)."""

    lock_members_and_keys: Any
    lookup_keys: Any
    open_lots: Any
    entries: Any


@functools.cache
def _queries(dialect: str) -> _Queries:
    return _Queries(
        lock_members_and_keys=sa.select(
            members.c.member_id,
            members.c.balance,
            idempotency.c.key,
            idempotency.c.request_hash,
            idempotency.c.response,
        )
        .select_from(members.outerjoin(idempotency, one_of(idempotency.c.key, "b_keys", dialect)))
        .where(one_of(members.c.member_id, "b_members", dialect))
        .order_by(members.c.member_id)
        .with_for_update(of=members),
        lookup_keys=sa.select(
            idempotency.c.key, idempotency.c.request_hash, idempotency.c.response
        ).where(one_of(idempotency.c.key, "b_keys", dialect)),
        open_lots=sa.select(
            lots.c.id, lots.c.member_id, lots.c.remaining, lots.c.earned_at, lots.c.expires_at
        )
        .where(one_of(lots.c.member_id, "b_members", dialect), lots.c.remaining > 0)
        .order_by(lots.c.member_id, *FIFO),
        entries=sa.select(*ENTRY_COLUMNS).where(one_of(ledger_entries.c.id, "b_ids", dialect)),
    )


_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(eq=False)
class _Lot:
    """A member's open lot as the batch sees it: stored (`lot_id`) or new in this batch."""

    order: tuple[Any, ...]  # the spending order (records.FIFO), new lots after stored ties
    remaining: int
    lot_id: int | None = None  # None until a new lot is inserted
    credit: int | None = None  # the index of the posting that creates a new lot
    points: int = 0
    earned_at: datetime | None = None
    expires_at: datetime | None = None

    def __lt__(self, other: _Lot) -> bool:
        return self.order < other.order


def _spending_order(
    expires_at: datetime | None, earned_at: datetime, tiebreak: tuple[int, int]
) -> tuple[Any, ...]:
    """records.FIFO in Python: earliest expiry first (never last), then earned, then id.

    A new lot's id is not known yet but is larger than every stored lot's and follows the
    order of the batch, hence the tiebreak (0, id) for stored lots and (1, index) for new.
    """
    return (expires_at is None, expires_at or _NEVER, earned_at, tiebreak)


@dataclass
class Applied:
    """The outcome of a batch: per posting, in order, its `Entry` or the error it raises;
    `written` the entries this batch wrote (not the replayed ones)."""

    outcomes: list[Entry | ProgramError]
    written: list[Entry] = field(default_factory=list)


def apply_postings(
    conn: Connection, postings: Sequence[Posting], *, now: datetime, expiry_months: int | None
) -> Applied:
    """Apply `postings` in the caller's write transaction (see the module docstring)."""
    queries = _queries(conn.dialect.name)
    member_ids = sorted({p.member_id for p in postings})
    balances: dict[str, int] = {}
    stored: dict[str, tuple[str, str]] = {}
    parameters = {"b_members": member_ids, "b_keys": sorted({p.key for p in postings})}
    for row in conn.execute(queries.lock_members_and_keys, parameters):
        balances[row.member_id] = int(row.balance)
        if row.key is not None:
            stored[row.key] = (row.request_hash, row.response)
    locked = dict(balances)
    open_lots = _open_lots(conn, queries, postings, balances, stored)

    outcomes: list[Entry | ProgramError | int | None] = [None] * len(postings)
    claimed: dict[str, int] = {}  # key -> index of the posting of this batch that holds it
    replays: dict[int, int] = {}  # index -> entry id of the stored answer
    entries: list[dict[str, Any]] = []  # rows to insert; outcome = index into it
    draws: list[tuple[int, _Lot, int]] = []  # (entry row, lot, points)
    new_lots: list[_Lot] = []
    for index, posting in enumerate(postings):
        try:
            if posting.member_id not in balances:
                raise UnknownMember(f"no loyalty member {posting.member_id!r}")
            if posting.key in claimed:  # earlier in this batch: as if it had committed
                earlier = claimed[posting.key]
                if postings[earlier].request != posting.request:
                    raise keys.conflict(posting.key)
                outcomes[index] = outcomes[earlier]
                continue
            if posting.key in stored:
                request_hash, response = stored[posting.key]
                if request_hash != posting.request:
                    raise keys.conflict(posting.key)
                replays[index] = int(json.loads(response)["entry_id"])
                continue
            row = len(entries)
            member_lots = open_lots.setdefault(posting.member_id, [])
            if posting.points > 0:
                lot = _credit_lot(posting, now, expiry_months, index)
                bisect.insort(member_lots, lot)
                new_lots.append(lot)
                lot.credit = row
            else:
                balance = balances[posting.member_id]
                if -posting.points > balance:
                    raise InsufficientPoints(posting.member_id, balance, -posting.points)
                taken, uncovered = plan_draws(
                    [(lot, lot.remaining) for lot in member_lots], -posting.points
                )
                if uncovered:
                    # The cached balance says yes but the lots hold less: the ledger is
                    # inconsistent. Refuse rather than spend points that do not exist.
                    raise ProgramError(
                        f"member {posting.member_id}: lots hold {-posting.points - uncovered} "
                        f"of the {-posting.points} points the balance shows; run "
                        "`cxloop loyalty verify`"
                    )
                for lot, points in taken:
                    lot.remaining -= points
                    draws.append((row, lot, points))
                member_lots[:] = [lot for lot in member_lots if lot.remaining > 0]
            balances[posting.member_id] += posting.points
            entries.append(_entry_row(posting, now))
            outcomes[index] = row
            claimed[posting.key] = index
        except ProgramError as refused:
            outcomes[index] = refused

    _look_again(conn, queries, postings, outcomes, replays)
    changed = [
        {"member_id": m, "balance": b} for m, b in sorted(balances.items()) if b != locked[m]
    ]
    key_rows = [(key, postings[index].request, outcomes[index]) for key, index in claimed.items()]
    written = _write(conn, entries, new_lots, draws, changed, key_rows, now)
    answers = _replayed(conn, queries, replays)
    final: list[Entry | ProgramError] = []
    for index, outcome in enumerate(outcomes):
        if index in replays:
            final.append(answers[replays[index]])
        elif isinstance(outcome, int):
            final.append(written[outcome])
        else:
            assert outcome is not None
            final.append(outcome)
    return Applied(final, written)


def _look_again(
    conn: Connection,
    queries: _Queries,
    postings: Sequence[Posting],
    outcomes: list[Any],
    replays: dict[int, int],
) -> None:
    """Answer a posting refused by a rule from its key, if a concurrent transaction stored
    it while this batch waited for its locks (see the module docstring)."""
    refused = {
        index
        for index, outcome in enumerate(outcomes)
        if isinstance(outcome, ProgramError)
        and not isinstance(outcome, IdempotencyConflict | UnknownMember)
    }
    if not refused:
        return
    late = sorted({postings[index].key for index in refused})
    found = {
        row.key: (row.request_hash, row.response)
        for row in conn.execute(queries.lookup_keys, {"b_keys": late})
    }
    for index in sorted(refused):
        posting = postings[index]
        if posting.key in found:
            request_hash, response = found[posting.key]
            if request_hash != posting.request:
                outcomes[index] = keys.conflict(posting.key)
            else:
                replays[index] = int(json.loads(response)["entry_id"])


def _open_lots(
    conn: Connection,
    queries: _Queries,
    postings: Sequence[Posting],
    balances: dict[str, int],
    stored: dict[str, tuple[str, str]],
) -> dict[str, list[_Lot]]:
    """The open lots, in spending order, of the members that debits of the batch draw from."""
    debited = sorted(
        {
            p.member_id
            for p in postings
            if p.points < 0 and p.member_id in balances and p.key not in stored
        }
    )
    out: dict[str, list[_Lot]] = {}
    if not debited:
        return out
    for row in conn.execute(queries.open_lots, {"b_members": debited}):
        order = _spending_order(row.expires_at, row.earned_at, (0, int(row.id)))
        lot = _Lot(order, int(row.remaining), lot_id=int(row.id))
        out.setdefault(row.member_id, []).append(lot)
    return out


def _credit_lot(posting: Posting, now: datetime, expiry_months: int | None, index: int) -> _Lot:
    earned_at = now if posting.earned_at is None else posting.earned_at
    if earned_at > now:
        raise ProgramError(f"points cannot be earned in the future ({earned_at.isoformat()})")
    expires_at = None if expiry_months is None else add_months(earned_at, expiry_months)
    order = _spending_order(expires_at, earned_at, (1, index))
    return _Lot(
        order, posting.points, points=posting.points, earned_at=earned_at, expires_at=expires_at
    )


def _entry_row(posting: Posting, now: datetime) -> dict[str, Any]:
    return {
        "member_id": posting.member_id,
        "kind": posting.kind,
        "points": posting.points,
        "reason": posting.reason,
        "source_type": posting.source_type,
        "source_id": posting.source_id,
        "actor": posting.actor,
        "created_at": now,
        "reverses": None,
        "shortfall": 0,
    }


def _write(
    conn: Connection,
    entries: list[dict[str, Any]],
    new_lots: list[_Lot],
    draws: list[tuple[int, _Lot, int]],
    balances: list[dict[str, Any]],
    key_rows: list[tuple[str, str, Any]],
    now: datetime,
) -> list[Entry]:
    """Insert the batch's entries, lots, draws and keys; set lots' remaining and balances.

    The entries come first (their ids are needed by everything else); then, unless a lot
    created in this batch was drawn from (its id is needed too), the rest is sent in one
    round trip.
    """
    if not entries:
        return []
    ids = insert_rows(conn, ledger_entries, entries, returning=ledger_entries.c.id)
    written = [Entry(entry_id=i, **row) for i, row in zip(ids, entries, strict=True)]
    lot_rows = []
    for lot in new_lots:
        assert lot.credit is not None
        lot_rows.append(
            {
                "member_id": entries[lot.credit]["member_id"],
                "entry_id": ids[lot.credit],
                "points": lot.points,
                "remaining": lot.remaining,  # after this batch's own draws from it
                "earned_at": lot.earned_at,
                "expires_at": lot.expires_at,
            }
        )
    new_lots_drawn = any(lot.credit is not None for _, lot, _ in draws)
    if new_lots_drawn:
        lot_ids = insert_rows(conn, lots, lot_rows, returning=lots.c.id)
        for lot, lot_id in zip(new_lots, lot_ids, strict=True):
            lot.lot_id = int(lot_id)
    remembered = [
        {
            "key": key,
            "request_hash": request,
            "response": json.dumps({"entry_id": ids[row]}, sort_keys=True),
            "created_at": now,
        }
        for key, request, row in key_rows
    ]
    stored_lots = {lot.lot_id: lot.remaining for _, lot, _ in draws if lot.credit is None}
    try:
        with pipelined(conn):
            if not new_lots_drawn:
                insert_rows(conn, lots, lot_rows)
            insert_rows(
                conn,
                lot_consumption,
                [
                    {"entry_id": ids[row], "lot_id": lot.lot_id, "points": p}
                    for row, lot, p in draws
                ],
            )
            update_rows(
                conn,
                lots,
                "id",
                [{"id": lot, "remaining": left} for lot, left in sorted(stored_lots.items())],
            )
            update_rows(conn, members, "member_id", balances)
            insert_rows(conn, idempotency, remembered)
    except sa.exc.IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) in {"23505", None} and _names_the_key(exc):
            raise RetryTransaction(
                "an idempotency key of the batch was stored concurrently"
            ) from exc
        raise
    return written


def _names_the_key(error: sa.exc.IntegrityError) -> bool:
    """Whether a unique violation is the idempotency key's (PostgreSQL names the constraint;
    SQLite the column)."""
    text = str(error.orig)
    return "idempotency_pkey" in text or "idempotency.key" in text


def _replayed(conn: Connection, queries: _Queries, replays: dict[int, int]) -> dict[int, Entry]:
    if not replays:
        return {}
    rows = conn.execute(queries.entries, {"b_ids": sorted(set(replays.values()))})
    return {int(row.id): entry_from_row(row) for row in rows}
