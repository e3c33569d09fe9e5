"""Alembic environment of the programs' store: run by `ProgramStore.migrate` only.

The store hands over an open connection inside its transaction (`config.attributes`), so the
migration shares the store's dialect set-up (SQLite pragmas, BEGIN IMMEDIATE) and lock.
There is no offline (SQL script) mode: the migrations create dialect-specific triggers.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("programs migrations run through cxloop's ProgramStore.migrate()")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
