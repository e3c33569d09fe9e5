"""A workspace's analyses on another engine: the same analytics code over a data lake.

`analytics_workspace(ws, "spark")` yields an object the analyses take in place of the
workspace (they read `engine`, `config`, `path`, `data_version`, `profiles`, `signals`):
its engine is a Spark session reading the lake, so every query of every analysis runs on
Spark, and the Python models (CLV, personas, moments' statistics) run on the per-customer
summaries it returns, as they do on DuckDB.

What stays with the workspace: ingest, and the derived tables the analyses start from
(identity resolution into profiles; the sentiment and advocacy intent of texts, scored by
Python models). They are brought up to date and exported with the warehouse (`lake.py`)
when the lake is the workspace's own; a configured lake must already hold them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.config import ENGINES
from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.config import WorkspaceConfig
    from cxloop.engines.spark_engine import SparkEngine
    from cxloop.workspace import Workspace

LAKE_FOLDER = "lake"
"""Where a workspace's own tables are exported for Spark: `<workspace>/lake`."""


class PreparedTables:
    """Derived tables a lake must hold already (they are prepared where the data is loaded):
    `ensure_current` checks they are there instead of computing them."""

    def __init__(self, engine: Any, tables: tuple[str, ...], what: str, location: str) -> None:
        self.engine = engine
        self.tables = tables
        self.what = what
        self.location = location

    def ensure_current(self) -> None:
        missing = [t for t in self.tables if not self.engine.table_exists(t)]
        if missing:
            raise CxloopError(
                f"{self.location}: no {self.what} in the data lake (table "
                f"{', '.join(missing)}); export a workspace with `cxloop lake export`"
            )


class LakeWorkspace:
    """The workspace as the analyses see it, with another engine reading a lake."""

    def __init__(self, path: Path, config: WorkspaceConfig, engine: Any, location: str) -> None:
        self.path = path
        self.config = config
        self.engine = engine
        self.location = location
        self.profiles = PreparedTables(
            engine, ("profiles", "profile_links", "profile_events"), "unified profiles", location
        )
        self.signals = PreparedTables(
            engine, ("voc_texts",), "voice-of-the-customer signals", location
        )

    @property
    def data_version(self) -> int:
        value = self.engine.scalar("SELECT value FROM meta WHERE key = 'data_version'")
        return int(value or 0)


def lake_location(ws: Workspace) -> str | None:
    """The configured lake (a URI, or a folder relative to the workspace), or None."""
    lake = ws.config.spark.lake
    if not lake:
        return None
    if "://" in lake:
        return lake
    path = Path(lake).expanduser()
    return str(path if path.is_absolute() else ws.path / path)


@contextmanager
def analytics_workspace(
    ws: Workspace, engine: str | None = None, *, session: Any = None
) -> Iterator[Any]:
    """The workspace to run analyses on, with `engine` (default: `[engine] name`).

    `duckdb` yields `ws` itself. `spark` starts (or reuses) a Spark session from `[spark]`
    (or uses `session`), registers the lake's tables (the workspace's own, exported to
    `<workspace>/lake` first when no lake is configured) and yields a `LakeWorkspace`.
    """
    name = (engine or ws.config.engine.name).strip().lower()
    if name not in ENGINES:
        raise CxloopError(f"unknown engine {name!r} (expected one of {', '.join(ENGINES)})")
    if name == "duckdb":
        yield ws
        return
    spark = open_spark(ws, session=session)
    try:
        yield spark
    finally:
        spark.engine.close()


def open_spark(ws: Workspace, *, session: Any = None) -> LakeWorkspace:
    """A `LakeWorkspace` on Spark; close its engine when done (`analytics_workspace` does)."""
    from cxloop.engines.lake import export_lake, register_lake
    from cxloop.engines.spark_engine import SparkEngine, spark_session

    location = lake_location(ws)
    if location is None:
        location = str(export_lake(ws, ws.path / LAKE_FOLDER))
    engine: SparkEngine = SparkEngine(session or spark_session(ws.config.spark))
    try:
        register_lake(engine, location)
    except BaseException:
        engine.close()
        raise
    return LakeWorkspace(ws.path, ws.config, engine, location)
