"""Reporting periods: month, quarter, year."""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    def trunc_sql(self, column: str) -> str:
        """SQL: the first day of the period holding `column` (a DATE)."""
        return f"CAST(date_trunc('{self.value}', {column}) AS DATE)"

    def next_sql(self, column: str) -> str:
        """SQL: the first day of the period after the one starting at `column`."""
        months = {"month": 1, "quarter": 3, "year": 12}[self.value]
        return f"CAST({column} + INTERVAL {months} MONTH AS DATE)"

    def label(self, start: date) -> str:
        if self is Period.MONTH:
            return f"{start.year}-{start.month:02d}"
        if self is Period.QUARTER:
            return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        return f"{start.year}"


def parse_period(value: str) -> Period:
    try:
        return Period(value.strip().lower())
    except ValueError:
        from cxloop.errors import CxloopError

        raise CxloopError(f"unknown period {value!r} (expected month, quarter or year)") from None
