"""The programs: loyalty (and later advocacy, cases, triggers) over a transactional store.

The analytics read a warehouse that is rebuilt from files; the programs instead *own* facts
(a point earned, a point spent) that exist nowhere else, so they live in a relational store
with ACID transactions (design principle 4): an embedded SQLite file in the workspace by
default, PostgreSQL in production, one code path (SQLAlchemy Core) and Alembic migrations.

- `cxloop.programs.store`: `ProgramStore` (open, migrate, transactions) and `retrying`.
- `cxloop.programs.loyalty`: the points ledger (`Ledger`).
- `cxloop.programs.errors`: the errors a program raises, each with its HTTP status.
"""

from __future__ import annotations

from cxloop.programs.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    ProgramError,
    UnknownEntry,
    UnknownMember,
)
from cxloop.programs.store import ProgramStore, retrying

__all__ = [
    "IdempotencyConflict",
    "InsufficientPoints",
    "ProgramError",
    "ProgramStore",
    "UnknownEntry",
    "UnknownMember",
    "retrying",
]
