"""The loyalty program's points ledger (issue 9), with the rigour of a payments ledger.

Entries are append-only and signed; points live in lots (one per earn) spent first-in
first-out and expiring together; every write takes an idempotency key; no balance ever goes
below zero, however many redemptions race. See docs/loyalty.md.
"""

from __future__ import annotations

from cxloop.programs.loyalty.ledger import Ledger
from cxloop.programs.loyalty.models import Entry, ExpiryReport, Lot, Member, VerifyReport
from cxloop.programs.loyalty.values import add_months, utcnow

__all__ = [
    "Entry",
    "ExpiryReport",
    "Ledger",
    "Lot",
    "Member",
    "VerifyReport",
    "add_months",
    "utcnow",
]
