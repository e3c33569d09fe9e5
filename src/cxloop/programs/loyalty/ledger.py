"""The points ledger: the only code that writes the loyalty tables.

Every write is one transaction that (1) locks the member, (2) answers a replayed
idempotency key from the stored result, (3) appends its entry, moves points between lots and
updates the cached balance, (4) records the idempotency key: all of it commits or none of it
does. `retrying` runs it again after a serialisation failure, a deadlock or a busy file.

Earns, redemptions and adjustments (the frequent writes) made at the same time by several
threads share a transaction: the batcher (`programs/batching.py`) hands them to
`postings.apply_postings`, which does those four steps for the whole batch with set-based
statements and answers each posting as if it had run alone. Reversals, expiry, enrolment and
tiers keep a transaction of their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.programs.batching import Batcher
from cxloop.programs.errors import (
    AlreadyReversed,
    NotReversible,
    ProgramError,
    StoreUnavailable,
)
from cxloop.programs.loyalty import idempotency, lots, postings
from cxloop.programs.loyalty.models import Entry, ExpiryReport, Lot, Member, VerifyReport
from cxloop.programs.loyalty.postings import Posting
from cxloop.programs.loyalty.records import (
    ENTRY_COLUMNS,
    FIFO,
    append_entry,
    change_balance,
    check_text,
    entry_from_row,
    load_entry,
    load_member,
    lock_member,
    lot_from_row,
    member_from_row,
)
from cxloop.programs.loyalty.values import add_months as add_months  # used by other modules
from cxloop.programs.loyalty.values import aware, utcnow
from cxloop.programs.store import ProgramStore, RetryTransaction, retrying
from cxloop.programs.tables import ledger_entries, members
from cxloop.programs.tables import lots as lots_table

#: The kinds of entry a reversal may undo (an expiry is undone by an adjustment).
REVERSIBLE = ("earn", "redeem", "adjust")
#: Postings applied in one transaction at most; batches running statements at once (more
#: use both cores of a small machine while a batch waits for the server); requests queued
#: before a batch starts beside a running one (fewer would make batches too small to pay
#: for their statements). See batching.py and docs/performance.md.
MAX_BATCH = 64
MAX_RUNNING_BATCHES = 2
MIN_BESIDE = 8


class _Replay(Exception):
    """Control flow: a replayed key leaves the transaction (rolled back) with its answer."""

    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response


class Ledger:
    """The loyalty points ledger over a `ProgramStore`.

    `expiry_months`: points expire this many calendar months after they were earned (None:
    never). `clock` gives "now" (injected so tests can move time).
    """

    #: Test seam: called inside a write transaction after its entry is inserted and before
    #: commit (the crash-safety test sleeps here and is killed). None in normal use.
    before_commit: Callable[[Connection, Entry], None] | None = None

    def __init__(
        self,
        store: ProgramStore,
        *,
        expiry_months: int | None = 24,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if expiry_months is not None and (isinstance(expiry_months, bool) or expiry_months < 1):
            raise ProgramError("expiry_months must be a whole number of months >= 1, or None")
        self.store = store
        self.expiry_months = expiry_months
        self.clock = clock
        # Concurrent earns, redemptions and adjustments of this process are applied together,
        # a batch per transaction (postings.py); one alone is a batch of one.
        self.batcher: Batcher[Posting, Entry] = Batcher(
            self._post, max_batch=MAX_BATCH, max_running=MAX_RUNNING_BATCHES, min_beside=MIN_BESIDE
        )

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ProgramError("the ledger's clock must return timezone-aware times")
        return now.astimezone(UTC)

    # -- members ----------------------------------------------------------------------------
    def enrol(self, profile_id: str, *, actor: str, idempotency_key: str | None = None) -> Member:
        """Enrol a unified profile; enrolling it again returns the existing member.

        Idempotent by profile without a key; with a key, the key is also held to the request
        (the same key for another profile is an `IdempotencyConflict`).
        """
        check_text("profile_id", profile_id)
        check_text("actor", actor)
        idempotency.check_key(idempotency_key)
        request = idempotency.request_hash("enrol", profile_id=profile_id)

        def transaction() -> Member:
            with self.store.write() as conn:
                if idempotency_key is not None:
                    stored = idempotency.lookup(conn, idempotency_key, request)
                    if stored is not None:
                        return load_member(conn, stored["member_id"])
                row = conn.execute(
                    sa.select(members).where(members.c.profile_id == profile_id)
                ).first()
                now = self._now()
                if row is None:
                    member = Member(
                        member_id="mem_" + secrets.token_hex(8),
                        profile_id=profile_id,
                        enrolled_at=now,
                        balance=0,
                        tier="member",
                        tier_since=now,
                    )
                    try:
                        conn.execute(
                            sa.insert(members).values(
                                member_id=member.member_id,
                                profile_id=profile_id,
                                enrolled_at=now,
                                balance=0,
                                tier=member.tier,
                                tier_since=now,
                            )
                        )
                    except sa.exc.IntegrityError as exc:  # enrolled concurrently: read it
                        raise RetryTransaction("profile enrolled concurrently") from exc
                else:
                    member = member_from_row(row)
                if idempotency_key is not None:
                    response = {"member_id": member.member_id}
                    idempotency.remember(conn, idempotency_key, request, response, now)
                return member

        return retrying(transaction)

    def member(self, member_id: str) -> Member:
        """The member with its cached balance and tier; `UnknownMember` if there is none."""
        with self.store.read() as conn:
            return load_member(conn, member_id)

    def member_for_profile(self, profile_id: str) -> Member | None:
        """The member enrolled for a profile, or None."""
        with self.store.read() as conn:
            row = conn.execute(sa.select(members).where(members.c.profile_id == profile_id)).first()
        return None if row is None else member_from_row(row)

    def set_tier(
        self, member_id: str, tier: str, *, actor: str, at: datetime | None = None
    ) -> Member:
        """Record the member's tier; `tier_since` moves (to `at`, default now) only on a change.

        Tiers are computed elsewhere (rules in config); this is where the result is kept.
        """
        check_text("tier", tier)
        check_text("actor", actor)

        def transaction() -> Member:
            with self.store.write() as conn:
                lock_member(conn, member_id)
                current = load_member(conn, member_id)
                if current.tier == tier:
                    return current
                since = self._now() if at is None else aware(at, "at")
                conn.execute(
                    sa.update(members)
                    .where(members.c.member_id == member_id)
                    .values(tier=tier, tier_since=since)
                )
                return load_member(conn, member_id)

        return retrying(transaction)

    # -- writes -----------------------------------------------------------------------------
    def earn(
        self,
        member_id: str,
        points: int,
        *,
        reason: str,
        source_type: str | None,
        source_id: str | None,
        actor: str,
        idempotency_key: str,
        at: datetime | None = None,
    ) -> Entry:
        """Credit points as a new lot, earned `at` (default now), expiring `expiry_months` later.

        `at` back-dates the lot (an order completed last week expires from that day); the
        entry itself is always recorded at the time it is written.
        """
        posting = postings.earn(
            member_id,
            points,
            reason=reason,
            source_type=source_type,
            source_id=source_id,
            actor=actor,
            idempotency_key=idempotency_key,
            at=at,
        )
        return self.batcher.submit(posting)

    def redeem(
        self, member_id: str, points: int, *, reason: str, actor: str, idempotency_key: str
    ) -> Entry:
        """Spend points from the lots, earliest expiry first.

        More than the balance raises `InsufficientPoints` and changes nothing.
        """
        posting = postings.redeem(
            member_id, points, reason=reason, actor=actor, idempotency_key=idempotency_key
        )
        return self.batcher.submit(posting)

    def adjust(
        self, member_id: str, points: int, *, reason: str, actor: str, idempotency_key: str
    ) -> Entry:
        """An operator's correction: + creates a lot (expiring like earned points), - is drawn
        like a redemption and never takes the balance below zero."""
        posting = postings.adjust(
            member_id, points, reason=reason, actor=actor, idempotency_key=idempotency_key
        )
        return self.batcher.submit(posting)

    def post(self, batch: Sequence[Posting]) -> list[Entry | ProgramError]:
        """Apply several postings (`postings.earn`, `.redeem`, `.adjust`) in one transaction.

        What concurrent `earn`/`redeem`/`adjust` calls share (see postings.py); for bulk
        writers too. Returns, in order, each posting's entry or the error it was refused
        with (nothing is raised for a refusal: the others are written regardless).
        """
        return self._post(list(batch), lambda: None) if batch else []

    def _post(
        self, batch: list[Posting], release: Callable[[], None]
    ) -> list[Entry | ProgramError]:
        """`post`, calling `release` (batching.py) when only the commit is left."""

        def transaction() -> postings.Applied:
            with self.store.write() as conn:
                applied = postings.apply_postings(
                    conn, batch, now=self._now(), expiry_months=self.expiry_months
                )
                if self.before_commit is not None:
                    for entry in applied.written:
                        self.before_commit(conn, entry)
                release()
                return applied

        try:
            return retrying(transaction).outcomes
        except StoreUnavailable as unavailable:  # no posting's fault: all hear it, none alone
            return [unavailable] * len(batch)

    def reverse(self, entry_id: int, *, reason: str, actor: str, idempotency_key: str) -> Entry:
        """Undo an earn, a redemption or an adjustment with a reversing entry (at most once).

        Reversing a redemption (or a debit) gives its points back to the lots it drew from.
        Reversing an earn (or a credit) takes back what the member still holds of it: the
        lot's remaining points, then first-in first-out from other lots; what was already
        spent and cannot be taken back is recorded as `shortfall` (a loss, never a negative
        balance). Points of the lot that had expired are not taken again: the reversal puts
        the member where they would be without the earn.
        """
        if isinstance(entry_id, bool) or not isinstance(entry_id, int):
            raise ProgramError("entry_id must be a whole number")
        with self.store.read() as conn:
            target = load_entry(conn, entry_id)
        if target.kind not in REVERSIBLE:
            raise NotReversible(
                f"entry {entry_id} is {'an' if target.kind == 'expire' else 'a'} "
                f"{target.kind}; only {', '.join(REVERSIBLE)} entries are reversed "
                "(restore expired points with an adjustment)"
            )
        arguments = {"entry_id": entry_id, "reason": reason, "actor": actor}

        def work(conn: Connection, now: datetime, balance: int) -> Entry:
            reversed_by = conn.execute(
                sa.select(ledger_entries.c.id).where(ledger_entries.c.reverses == entry_id)
            ).scalar()
            if reversed_by is not None:
                raise AlreadyReversed(
                    f"entry {entry_id} was already reversed by entry {reversed_by}"
                )
            if target.points < 0:
                draws = lots.plan_restore(conn, entry_id)
                taken, shortfall = target.points, 0  # negative: points come back
            else:
                own = lots.lot_of_entry(conn, entry_id)
                owed = target.points - (own[1] if own else 0)
                draws, shortfall = lots.plan_fifo(
                    conn, target.member_id, owed, first_lot=own[0] if own else None
                )
                taken = owed - shortfall
            entry = append_entry(
                conn,
                member_id=target.member_id,
                kind="reverse",
                points=-taken,
                reason=reason,
                source_type=target.source_type,
                source_id=target.source_id,
                actor=actor,
                created_at=now,
                reverses=entry_id,
                shortfall=shortfall,
            )
            lots.apply_draws(conn, entry.entry_id, draws)
            change_balance(conn, target.member_id, -taken)
            if target.points < 0:
                self._recover_shortfalls(conn, target.member_id, draws, actor, now)
            return entry

        return self._write("reverse", target.member_id, arguments, idempotency_key, work)

    def expire(self, as_of: datetime, *, actor: str) -> ExpiryReport:
        """Expire every lot with `expires_at <= as_of` and points left: one expire entry each.

        Idempotent: an expired lot has nothing left, so a second run expires nothing more.
        Members are expired in batches, each batch one transaction, so a run interrupted
        half-way leaves whole members done and the next run finishes the rest.
        """
        from cxloop.programs.loyalty.expiry import expire_lots

        check_text("actor", actor)
        return expire_lots(self.store, aware(as_of, "as_of"), actor=actor, clock=self._now)

    # -- reads ------------------------------------------------------------------------------
    def lots(self, member_id: str) -> list[Lot]:
        """The member's lots with points left, in the order they will be spent."""
        with self.store.read() as conn:
            load_member(conn, member_id)
            rows = conn.execute(
                sa.select(
                    lots_table,
                    ledger_entries.c.source_type,
                    ledger_entries.c.source_id,
                )
                .join(ledger_entries, ledger_entries.c.id == lots_table.c.entry_id)
                .where(lots_table.c.member_id == member_id, lots_table.c.remaining > 0)
                .order_by(*FIFO)
            ).all()
        return [lot_from_row(row) for row in rows]

    def entries(
        self, member_id: str, *, limit: int = 100, before: int | None = None
    ) -> list[Entry]:
        """The member's entries, newest first; page with `before=` the last entry_id seen."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ProgramError("limit must be a whole number from 1 to 1000")
        query = sa.select(*ENTRY_COLUMNS).where(ledger_entries.c.member_id == member_id)
        if before is not None:
            query = query.where(ledger_entries.c.id < before)
        with self.store.read() as conn:
            load_member(conn, member_id)
            rows = conn.execute(query.order_by(ledger_entries.c.id.desc()).limit(limit)).all()
        return [entry_from_row(row) for row in rows]

    def entry(self, entry_id: int) -> Entry:
        """One entry by id; `UnknownEntry` if there is none."""
        with self.store.read() as conn:
            return load_entry(conn, entry_id)

    def verify(self) -> VerifyReport:
        """Check every invariant of the whole ledger; an empty `problems` means it holds.

        For every member: cached balance == sum of entries == sum of lots' remaining >= 0;
        every lot 0 <= remaining <= points and remaining == points - what entries drew from
        it; every entry's draws add up to its points; reversals well-formed; idempotency rows
        well-formed and pointing at what exists.
        """
        from cxloop.programs.loyalty.verify import verify_ledger

        return verify_ledger(self.store)

    # -- the shape of every write -----------------------------------------------------------
    def _write(
        self,
        operation: str,
        member_id: str,
        arguments: dict[str, Any],
        key: str,
        work: Callable[[Connection, datetime, int], Entry],
    ) -> Entry:
        """Lock, replay or do `work`, remember the key, commit; retried when transient."""
        check_text("reason", arguments.get("reason"))
        check_text("actor", arguments.get("actor"))
        if key is None:
            raise ProgramError(f"{operation} needs an idempotency key")
        idempotency.check_key(key)
        request = idempotency.request_hash(operation, **arguments)

        def transaction() -> Entry:
            try:
                with self.store.write() as conn:
                    balance, stored = idempotency.lock_member_and_lookup(
                        conn, member_id, key, request
                    )
                    if stored is not None:
                        raise _Replay(stored)  # nothing was written: roll back, answer
                    now = self._now()
                    try:
                        entry = work(conn, now, balance)
                    except ProgramError:
                        # Refused (insufficient points, reversed already). If the same key
                        # committed while this waited for the lock, that is the answer.
                        stored = idempotency.lookup(conn, key, request)
                        if stored is not None:
                            raise _Replay(stored) from None
                        raise
                    idempotency.remember(conn, key, request, {"entry_id": entry.entry_id}, now)
                    if self.before_commit is not None:
                        self.before_commit(conn, entry)
                    return entry
            except _Replay as replay:
                with self.store.read() as conn:
                    return load_entry(conn, int(replay.response["entry_id"]))

        return retrying(transaction)

    def _recover_shortfalls(
        self,
        conn: Connection,
        member_id: str,
        restores: list[lots.Draw],
        actor: str,
        now: datetime,
    ) -> None:
        """Take back restored points that repay an earlier reversal's shortfall (see
        `lots.recoveries`): one adjustment per reversal repaid, in the same transaction."""
        for draw, reversal_id in lots.recoveries(conn, restores):
            recovery = append_entry(
                conn,
                member_id=member_id,
                kind="adjust",
                points=-draw.points,
                reason=(
                    f"recovers {draw.points} points of the shortfall of entry {reversal_id} "
                    "(its redemption was reversed)"
                ),
                source_type=lots.SHORTFALL_RECOVERY,
                source_id=str(reversal_id),
                actor=actor,
                created_at=now,
            )
            lots.apply_draws(conn, recovery.entry_id, [draw])
            change_balance(conn, member_id, -draw.points)
