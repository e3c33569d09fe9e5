"""The warehouse tables: one per contract kind, plus the ingest log and the rejects.

Each kind's table holds the contract's columns, typed, plus provenance: the file and line a
row came from, when it was loaded, and a content hash that makes re-loading idempotent.
"""

from __future__ import annotations

from cxloop.contract.schema import KINDS, Kind
from cxloop.contract.validation import TYPE_NAMES
from cxloop.sql import ident

PROVENANCE_COLUMNS = (
    ("_file", "VARCHAR"),
    ("_row", "BIGINT"),  # data row number in the file (1 = first row after the header)
    ("_loaded_at", "TIMESTAMP"),
    ("_hash", "UBIGINT"),
)

SYSTEM_TABLES = {
    "ingest_log": """
        CREATE TABLE IF NOT EXISTS ingest_log (
            batch_id VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            rows BIGINT NOT NULL,
            loaded BIGINT NOT NULL,
            updated BIGINT NOT NULL,
            duplicates BIGINT NOT NULL,
            rejected BIGINT NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL
        )""",
    "ingest_rejects": """
        CREATE TABLE IF NOT EXISTS ingest_rejects (
            batch_id VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            line BIGINT,
            "row" BIGINT,
            "column" VARCHAR,
            reason VARCHAR NOT NULL,
            record JSON,
            raw VARCHAR
        )""",
    "meta": """
        CREATE TABLE IF NOT EXISTS meta (
            key VARCHAR PRIMARY KEY,
            value VARCHAR
        )""",
    # Loaded rows a post-ingest reactor has yet to act on, queued by the load's transaction
    # (cxloop.reactions); `error` is set when it failed. Provenance only, never a customer's data.
    "reaction_backlog": """
        CREATE TABLE IF NOT EXISTS reaction_backlog (
            reactor VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            path VARCHAR,
            loaded_at TIMESTAMP,
            error VARCHAR,
            recorded_at TIMESTAMP NOT NULL
        )""",
    # One row per erasure (cxloop.privacy): what was removed, never who (docs/privacy.md).
    "erasure_log": """
        CREATE TABLE IF NOT EXISTS erasure_log (
            erasure_id VARCHAR PRIMARY KEY,
            erased_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            rows_deleted JSON NOT NULL,
            reject_file_lines BIGINT NOT NULL,
            data_version BIGINT NOT NULL
        )""",
}


def table_ddl(kind: Kind) -> str:
    """CREATE TABLE for one kind (no index: merges use hash joins, which scale better)."""
    cols = [f"{ident(c.name)} {TYPE_NAMES[c.type]}" for c in kind.columns]
    cols += [f"{name} {type_}" for name, type_ in PROVENANCE_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS {ident(kind.name)} (\n  " + ",\n  ".join(cols) + "\n)"


def all_ddl() -> list[str]:
    """Every statement that creates an empty warehouse."""
    return [table_ddl(kind) for kind in KINDS.values()] + list(SYSTEM_TABLES.values())
