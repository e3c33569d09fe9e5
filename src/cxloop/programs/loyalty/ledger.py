"""The points ledger: the only code that writes the loyalty tables.

Every write is one transaction that (1) answers a replayed idempotency key from the stored
result, (2) locks the member, (3) appends its entry, moves points between lots and updates
the cached balance, (4) records the idempotency key: all of it commits or none of it does.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from cxloop.programs.loyalty.models import Entry, ExpiryReport, Lot, Member, VerifyReport
from cxloop.programs.store import ProgramStore

#: The largest number of points one operation may move: far beyond any real program, far
#: below the 64-bit range, so sums over millions of entries cannot overflow.
MAX_POINTS = 10**12


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the ledger's default clock)."""
    return datetime.now(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole calendar months, the day clamped to the month's end.

    Jan 31 + 1 month = Feb 28 (29 in a leap year): a lot never expires in a later month.
    """
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


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
        self.store = store
        self.expiry_months = expiry_months
        self.clock = clock

    # -- members ----------------------------------------------------------------------------
    def enrol(self, profile_id: str, *, actor: str, idempotency_key: str | None = None) -> Member:
        """Enrol a unified profile; enrolling it again returns the existing member."""
        raise NotImplementedError

    def member(self, member_id: str) -> Member:
        """The member with its cached balance and tier; `UnknownMember` if there is none."""
        raise NotImplementedError

    def member_for_profile(self, profile_id: str) -> Member | None:
        """The member enrolled for a profile, or None."""
        raise NotImplementedError

    def set_tier(
        self, member_id: str, tier: str, *, actor: str, at: datetime | None = None
    ) -> Member:
        """Record the member's tier; `tier_since` moves only when the tier changes."""
        raise NotImplementedError

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
        """Credit points as a new lot, earned `at` (default now), expiring `expiry_months` later."""
        raise NotImplementedError

    def redeem(
        self, member_id: str, points: int, *, reason: str, actor: str, idempotency_key: str
    ) -> Entry:
        """Spend points from the lots, earliest expiry first.

        More than the balance raises `InsufficientPoints` and changes nothing.
        """
        raise NotImplementedError

    def adjust(
        self, member_id: str, points: int, *, reason: str, actor: str, idempotency_key: str
    ) -> Entry:
        """An operator's correction: + creates a lot, - is drawn like a redemption."""
        raise NotImplementedError

    def reverse(self, entry_id: int, *, reason: str, actor: str, idempotency_key: str) -> Entry:
        """Undo an earn, a redemption or an adjustment with a reversing entry (at most once).

        Reversing a redemption (or a debit) gives its points back to the lots it drew from.
        Reversing an earn (or a credit) takes back what the member still holds of it: the
        lot's remaining points, then first-in first-out from other lots; what was already
        spent and cannot be taken back is recorded as `shortfall` (a loss, never a negative
        balance). Points of the lot that had expired are not taken again.
        """
        raise NotImplementedError

    def expire(self, as_of: datetime, *, actor: str) -> ExpiryReport:
        """Expire every lot with `expires_at <= as_of` and points left: one expire entry each.

        Idempotent: an expired lot has nothing left, so a second run expires nothing more.
        """
        raise NotImplementedError

    # -- reads ------------------------------------------------------------------------------
    def lots(self, member_id: str) -> list[Lot]:
        """The member's lots with points left, in the order they will be spent."""
        raise NotImplementedError

    def entries(
        self, member_id: str, *, limit: int = 100, before: int | None = None
    ) -> list[Entry]:
        """The member's entries, newest first; page with `before=` the last entry_id seen."""
        raise NotImplementedError

    def entry(self, entry_id: int) -> Entry:
        """One entry by id; `UnknownEntry` if there is none."""
        raise NotImplementedError

    def verify(self) -> VerifyReport:
        """Check every invariant of the whole ledger; an empty `problems` means it holds.

        For every member: cached balance == sum of entries == sum of lots' remaining >= 0;
        every lot 0 <= remaining <= points and remaining == points - what entries drew from
        it; every entry's draws add up to its points; reversals well-formed; idempotency rows
        well-formed and pointing at what exists.
        """
        raise NotImplementedError
