"""A workspace: a folder holding `cxloop.toml`, the embedded warehouse and the rejects.

One call opens it (`Workspace.open(path)`); the library, the CLI and the API all go through
this object. Only one process uses a workspace at a time: a second one waits for the lock
(up to `wait` seconds) and then says the workspace is busy; it never corrupts it.
"""

from __future__ import annotations

import secrets
import threading
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from cxloop.config import CONFIG_FILE, WorkspaceConfig, render_config
from cxloop.contract.files import map_header, open_input
from cxloop.contract.loader import FileReport, load_file
from cxloop.contract.schema import CONTRACT_VERSION
from cxloop.errors import WorkspaceBusyError, WorkspaceError
from cxloop.reactions import ReactionOutcome, reactor_names, run_reactions
from cxloop.warehouse import all_ddl

if TYPE_CHECKING:
    from cxloop.analytics.voc.signals import Signals
    from cxloop.engines.duckdb_engine import DuckDBEngine
    from cxloop.identity.profiles import Profiles

DATABASE_FILE = "warehouse.duckdb"
LOCK_FILE = ".cxloop.lock"
REJECTS_DIR = "rejects"
SCHEMA_VERSION = 1

# Called before and after each file: (path, index, total, report or None).
FileProgress = Callable[[str, int, int, FileReport | None], None]


@dataclass(frozen=True)
class IngestReport:
    """What one `ingest` call did, file by file."""

    files: list[FileReport] = field(default_factory=list)
    rejects_path: str = ""
    # What the programs did with the new rows (cxloop.reactions); failures are listed here.
    reactions: list[ReactionOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "files": [f.to_dict() for f in self.files],
            "rejects_path": self.rejects_path,
            "reactions": [r.to_dict() for r in self.reactions],
        }

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)


class Workspace:
    """An open workspace. Use as a context manager, or call `close()`."""

    def __init__(self, path: Path, config: WorkspaceConfig, *, wait: float = 30.0) -> None:
        self.path = path
        self.config = config
        lock = FileLock(str(path / LOCK_FILE))
        self._lock: FileLock | None = lock
        try:
            lock.acquire(timeout=wait)
        except Timeout as exc:
            raise WorkspaceBusyError(
                f"{path}: workspace is busy (another cxloop process is using it); "
                f"waited {wait:g} s, try again later"
            ) from exc
        try:
            from cxloop.engines.duckdb_engine import DuckDBEngine

            self.engine: DuckDBEngine = DuckDBEngine(
                path / DATABASE_FILE, config.engine, config.locale.timezone
            )
            self._ensure_schema()
        except BaseException:
            lock.release()
            raise
        self._profiles: Profiles | None = None
        # Derived tables (profiles, text signals) are rebuilt by whichever connection needs
        # them first: the API's writer (post-ingest reactors) or its reader (analyses). Two
        # rebuilds at once would conflict in DuckDB; this lock, shared with `sibling()`
        # handles, makes the second wait and then find the tables current.
        self.derive_lock = threading.RLock()

    # -- creation and opening ---------------------------------------------------------------
    @classmethod
    def init(
        cls,
        path: Path | str,
        *,
        brand: str = "Our brand",
        competitors: Iterable[str] = (),
        currency: str = "USD",
        timezone: str = "UTC",
        default_country: str = "US",
    ) -> Workspace:
        """Create a workspace folder (config and empty warehouse) and open it."""
        path = Path(path)
        if (path / CONFIG_FILE).exists():
            raise WorkspaceError(f"{path}: already a cxloop workspace")
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{path}: exists and is not a folder")
        text = render_config(
            brand=brand,
            competitors=tuple(competitors),
            currency=currency.upper(),
            timezone=timezone,
            default_country=default_country.upper(),
        )
        config = WorkspaceConfig.from_dict(tomllib.loads(text), origin="init")
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_FILE).write_text(text, encoding="utf-8")
        return cls(path, config)

    @classmethod
    def open(cls, path: Path | str, *, wait: float = 30.0) -> Workspace:
        """Open an existing workspace (waits up to `wait` seconds for another process)."""
        path = Path(path)
        if not path.exists():
            raise WorkspaceError(f"{path}: no such workspace (create one with `cxloop init`)")
        if not (path / CONFIG_FILE).is_file():
            raise WorkspaceError(
                f"{path}: not a cxloop workspace (no {CONFIG_FILE}; create one with "
                f"`cxloop init {path}`)"
            )
        return cls(path, WorkspaceConfig.load(path / CONFIG_FILE), wait=wait)

    def _ensure_schema(self) -> None:
        with self.engine.transaction():
            for ddl in all_ddl():
                self.engine.execute(ddl)
            self.engine.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?), ('contract_version', ?)",
                [str(SCHEMA_VERSION), str(CONTRACT_VERSION)],
            )

    def sibling(self) -> Workspace:
        """A second handle on this open workspace with its own engine connection.

        For one process that reads while it writes (`cxloop serve`): analyses run on the
        sibling while ingest commits on this one. The file lock stays with this handle;
        close the sibling first.
        """
        other = object.__new__(Workspace)
        other.path = self.path
        other.config = self.config
        other._lock = None
        other.engine = self.engine.cursor()
        other._profiles = None
        other.derive_lock = self.derive_lock
        return other

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        try:
            self.engine.close()
        finally:
            if self._lock is not None and self._lock.is_locked:
                self._lock.release()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- data -------------------------------------------------------------------------------
    @property
    def rejects_dir(self) -> Path:
        return self.path / REJECTS_DIR

    def ingest(
        self,
        paths: Iterable[Path | str],
        *,
        kind: str | None = None,
        progress: FileProgress | None = None,
    ) -> IngestReport:
        """Validate and load files; each file is atomic, good rows load, bad rows are kept.

        All files are checked first (existence, extension, kind, emptiness), so a typo in
        the last file name fails before anything loads.
        """
        inputs = [open_input(p, kind) for p in paths]
        for input_file in inputs:
            header = self.engine.peek_header(input_file)
            if header is not None:  # refuse a bad header before anything loads
                map_header(input_file, [h for h in header if not h.lower().startswith("_reject_")])
        batch_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        pending = reactor_names()
        reports: list[FileReport] = []
        for index, input_file in enumerate(inputs):
            if progress:
                progress(str(input_file.path), index, len(inputs), None)
            report = load_file(
                self.engine,
                input_file,
                batch_id=batch_id,
                rejects_dir=self.rejects_dir,
                index=index,
                defaults={"currency": self.config.locale.currency},
                pending_reactions=pending,
            )
            reports.append(report)
            if progress:
                progress(str(input_file.path), index + 1, len(inputs), report)
        reactions = run_reactions(self)
        return IngestReport(files=reports, rejects_path=str(self.rejects_dir), reactions=reactions)

    @property
    def data_version(self) -> int:
        value = self.engine.scalar("SELECT value FROM meta WHERE key = 'data_version'")
        return int(value or 0)

    def count(self, kind: str) -> int:
        """Rows stored for a kind."""
        from cxloop.contract.schema import kind_named
        from cxloop.sql import ident

        return int(self.engine.scalar(f"SELECT count(*) FROM {ident(kind_named(kind).name)}"))

    @property
    def signals(self) -> Signals:
        """Sentiment and advocacy intent of every text (voice of the customer)."""
        from cxloop.analytics.voc.signals import Signals

        return Signals(self)

    @property
    def profiles(self) -> Profiles:
        """Unified customer profiles (identity resolution)."""
        if self._profiles is None:
            from cxloop.identity.profiles import Profiles

            self._profiles = Profiles(self)
        return self._profiles
