"""Values the ledger accepts: whole points within range, aware times, calendar months.

Checked before any transaction opens, so a bad request costs no lock and no round trip.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from cxloop.programs.errors import ProgramError

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


def check_points(points: object) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        raise ProgramError(
            f"points must be a whole number from 1 to {MAX_POINTS:,} (got {points!r})"
        )


def aware(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ProgramError(f"{name} must be a timezone-aware datetime (e.g. 2026-01-31T00:00Z)")
    return moment.astimezone(UTC)
