"""Quiet hours: when a message that is due now may be delivered.

A message decided during quiet hours is not dropped: it is held in the outbox until the quiet
window ends in the chosen time zone (the workspace's, or the customer's from
`customers.attributes.timezone` when it is a valid IANA name, else the workspace's). Windows
may cross midnight ("21:00-08:00").
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta


def zone_of(name: str | None, fallback: str) -> zoneinfo.ZoneInfo:
    """The named zone, or `fallback` when the name is empty or not an IANA zone."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return zoneinfo.ZoneInfo(candidate)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def in_quiet_hours(local: time, window: tuple[time, time]) -> bool:
    start, end = window
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # crosses midnight


def release_time(
    now: datetime, window: tuple[time, time] | None, zone: str | None, fallback: str
) -> datetime:
    """`now` outside quiet hours; otherwise the end of the quiet window (UTC)."""
    if window is None:
        return now
    tz = zone_of(zone, fallback)
    local = now.astimezone(tz)
    if not in_quiet_hours(local.timetz().replace(tzinfo=None), window):
        return now
    end = window[1]
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    # Rebuild from the wall-clock time so a DST change between now and then is honoured.
    wall = datetime.combine(candidate.date(), end).replace(tzinfo=tz)
    return wall.astimezone(UTC)
