"""The data lake: the warehouse as Parquet tables, one folder per table, for other engines.

Layout (docs/scale.md): `<lake>/<table>/*.parquet`, any number of part files, with the
warehouse's columns and types. It holds the contract's tables (customers, events, orders,
feedback, mentions, referrals, touchpoints), `meta`, and the tables cxloop derives from them
before analysing: the unified profiles (`profiles`, `profile_links`, `profile_events`) and the
voice-of-the-customer signals (`voc_texts`). `export_lake` writes it from a workspace, after
bringing those derived tables up to date; a data team can also write it with its own
pipeline, following the layout.

Parquet has no JSON or unsigned 64-bit types that Spark reads: JSON columns are written as
text, and UBIGINT (the rows' content hashes) as DECIMAL(20, 0), which holds every value.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.contract.schema import KINDS
from cxloop.errors import CxloopError
from cxloop.sql import ident

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

DERIVED_TABLES = ("profiles", "profile_links", "profile_events", "voc_texts")
"""Derived tables the analyses read; a lake without them cannot be analysed."""

REQUIRED_TABLES = (*KINDS, "meta", *DERIVED_TABLES)

OPTIONAL_TABLES = (
    "profile_records",
    "profile_nodes",
    "identity_edges",
    "voc_text_themes",
    "voc_sentiment",
    "persona_assignments",
)

STAMP_FILE = "_cxloop_export.json"

# Types Parquet readers other than DuckDB do not know, and what they are written as.
_PORTABLE_TYPES = {"JSON": "VARCHAR", "UBIGINT": "DECIMAL(20, 0)", "HUGEINT": "DECIMAL(38, 0)"}


def prepare(ws: Workspace) -> None:
    """Bring the derived tables up to date (profiles, then the texts' signals)."""
    ws.profiles.ensure_current()
    ws.signals.ensure_current()


def export_lake(ws: Workspace, folder: Path | str) -> Path:
    """Write the workspace's tables to `folder` as a lake (after `prepare`), unless the
    folder already holds this very state of the warehouse (same `meta`, same row counts)."""
    folder = Path(folder)
    prepare(ws)
    tables = [
        r[0]
        for r in ws.engine.fetchall(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
    ]
    stamp = _stamp(ws, tables)
    if _stored_stamp(folder) == stamp:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STAMP_FILE).unlink(missing_ok=True)
    for table in tables:
        target = folder / table
        if target.exists():
            shutil.rmtree(target)
        target.mkdir()
        columns = ", ".join(_portable(name, kind) for name, kind in _columns(ws, table))
        path = str(target / "part-0.parquet").replace("'", "''")
        ws.engine.execute(
            f"COPY (SELECT {columns} FROM {ident(table)}) TO '{path}' (FORMAT parquet)"
        )
    (folder / STAMP_FILE).write_text(json.dumps({"stamp": stamp, "tables": tables}) + "\n")
    return folder


def lake_tables(location: str) -> list[str]:
    """The tables a lake at `location` holds: its sub-folders when it is a local folder;
    for a URI (s3a://, abfss://, hdfs://), the tables cxloop knows of, tried one by one."""
    if "://" in location:
        return [*REQUIRED_TABLES, *OPTIONAL_TABLES]
    folder = Path(location)
    if not folder.is_dir():
        raise CxloopError(f"{location}: no such data-lake folder")
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name[0] not in "._")


def register_lake(engine: Any, location: str) -> list[str]:
    """Make every table of the lake a table of the engine; a clear error names the
    required tables it lacks (and how to write them)."""
    found = []
    for table in lake_tables(location):
        try:
            engine.register_parquet(table, f"{location.rstrip('/')}/{table}")
        except Exception:  # absent (a URI lake), or not Parquet: reported below if required
            continue
        found.append(table)
    missing = [t for t in REQUIRED_TABLES if t not in found]
    if missing:
        raise CxloopError(
            f"{location}: the data lake has no table {', '.join(missing)} "
            "(write a workspace's tables with `cxloop lake export WS FOLDER`; docs/scale.md)"
        )
    return found


def _columns(ws: Workspace, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in ws.engine.fetchall(f"DESCRIBE {ident(table)}")]


def _portable(name: str, kind: str) -> str:
    target = _PORTABLE_TYPES.get(kind.upper())
    return f"CAST({ident(name)} AS {target}) AS {ident(name)}" if target else ident(name)


def _stamp(ws: Workspace, tables: list[str]) -> str:
    """What the lake was written from: every `meta` entry (the data version and the stamps
    of the derived tables) and each table's row count."""
    meta = ws.engine.fetchall("SELECT key, value FROM meta ORDER BY key")
    counts = [(t, ws.engine.scalar(f"SELECT count(*) FROM {ident(t)}")) for t in tables]
    text = json.dumps([meta, counts], default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stored_stamp(folder: Path) -> str | None:
    try:
        return json.loads((folder / STAMP_FILE).read_text())["stamp"]
    except (OSError, ValueError, KeyError):
        return None
