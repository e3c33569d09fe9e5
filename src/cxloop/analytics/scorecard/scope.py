"""What a scorecard covers: the period unit, the optional breakdown, and the time window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cxloop.analytics.periods import Period
from cxloop.errors import CxloopError

BREAKDOWNS = ("touchpoint", "channel", "stage", "country", "segment", "membership")


@dataclass(frozen=True)
class Scope:
    """Period unit, breakdown dimension (or None) and the half-open window [since, until)."""

    period: Period = Period.MONTH
    by: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.by is not None and self.by not in BREAKDOWNS:
            raise CxloopError(
                f"unknown breakdown {self.by!r} (expected one of {', '.join(BREAKDOWNS)})"
            )
        if self.since and self.until and self.since >= self.until:
            raise CxloopError("--since must be before --until")

    @property
    def params(self) -> dict[str, object]:
        return {"since": self.since, "until": self.until}

    def window(self, column: str) -> str:
        """SQL condition: `column` lies in the window (bounds bound as parameters)."""
        return (
            f"(CAST($since AS TIMESTAMP) IS NULL OR {column} >= CAST($since AS TIMESTAMP)) "
            f"AND (CAST($until AS TIMESTAMP) IS NULL OR {column} < CAST($until AS TIMESTAMP))"
        )
