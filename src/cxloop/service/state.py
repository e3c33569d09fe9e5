"""What a running service holds: the open workspace, its lock, the writer and the cache.

Concurrency model (docs/api.md): the process owns the workspace (its file lock, held while
serving, keeps other cxloop processes out). Inside the process there are two connections to
the embedded database, each used by one thread at a time under its own lock: the writer's
(ingest and erasure, through the writer thread of `writer.py`, which groups ingest requests)
and the reader's (analyses, lookups, exports). DuckDB's MVCC lets the reader compute on
committed data while the writer commits more, so a slow analysis never stalls ingest.

Analysis documents are cached. A document is fresh for the data version it was computed on;
while data keeps arriving, a cached document younger than `[serve] max_staleness_s` is
served as it is (its data version and age in the headers), so a dashboard open during a
steady stream of events does not recompute on every view. A request with
`Cache-Control: no-cache` always gets a document of the current data version.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxloop.documents import to_json
from cxloop.service.writer import WriteQueue
from cxloop.workspace import Workspace


@dataclass
class CachedDocument:
    """An analysis document encoded once, for the data version it was computed on."""

    data_version: int
    body: bytes
    computed_at: float = field(default_factory=time.monotonic)

    @property
    def age(self) -> float:
        return time.monotonic() - self.computed_at


@dataclass
class DocumentCache:
    """Analysis documents by (analysis, options); see the module docstring for freshness.

    Concurrent first reads of the same document compute it once (one lock per key); a
    newer document replaces the older, so memory holds at most one document per key.
    """

    max_staleness: float = 0.0
    max_entries: int = 256  # options are free text: the cache must not grow without bound
    entries: OrderedDict[tuple[Any, ...], CachedDocument] = field(default_factory=OrderedDict)
    _locks: dict[tuple[Any, ...], threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    hits: int = 0
    misses: int = 0

    def _usable(self, entry: CachedDocument | None, current: int, fresh: bool) -> bool:
        if entry is None:
            return False
        if entry.data_version == current:
            return True
        return not fresh and entry.age < self.max_staleness

    def get(
        self,
        key: tuple[Any, ...],
        version: Callable[[], int],
        compute: Callable[[], Any],
        *,
        fresh: bool = False,
    ) -> CachedDocument:
        entry = self.entries.get(key)
        if self._usable(entry, version(), fresh):
            self.hits += 1
            assert entry is not None
            with self._guard, contextlib.suppress(KeyError):
                self.entries.move_to_end(key)
            return entry
        with self._guard:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            current = version()
            entry = self.entries.get(key)
            if self._usable(entry, current, fresh):
                self.hits += 1
                assert entry is not None
                return entry
            self.misses += 1
            document = compute()
            entry = CachedDocument(current, to_json(document, indent=None).encode())
            with self._guard:
                self.entries[key] = entry
                self.entries.move_to_end(key)
                while len(self.entries) > self.max_entries:
                    old, _ = self.entries.popitem(last=False)
                    self._locks.pop(old, None)
            return entry

    def clear(self) -> None:
        with self._guard:
            self.entries.clear()


class ServiceState:
    """The workspace a service serves, opened once for the life of the process."""

    def __init__(self, path: Path | str, *, wait: float = 30.0) -> None:
        self.ws = Workspace.open(path, wait=wait)
        self.config = self.ws.config
        self.lock = threading.RLock()  # the writer's connection
        self.reader = self.ws.sibling()
        self.read_lock = threading.RLock()  # the reader's connection
        self.cache = DocumentCache(max_staleness=self.config.serve.max_staleness_s)
        self._data_version = self.ws.data_version
        self.writer = WriteQueue(
            self.ws,
            self.lock,
            group_commit_ms=self.config.serve.group_commit_ms,
            journal_flush_ms=self.config.serve.journal_flush_ms,
            on_commit=self._refresh_version,
        )

    @property
    def data_version(self) -> int:
        """The warehouse's data version; only this process writes it, so memory is exact."""
        return self._data_version

    def _refresh_version(self) -> None:
        with self.lock:
            self._data_version = self.ws.data_version

    def document(
        self, name: str, options: dict[str, Any], run: Callable[[Workspace], Any], *, fresh: bool
    ) -> CachedDocument:
        """An analysis document from the cache, computed on the reader when needed."""
        key = (name, *sorted((k, repr(v)) for k, v in options.items()))
        if fresh:
            self.writer.flush()  # journaled records count as current data
        return self.cache.get(key, lambda: self._data_version, lambda: self.read(run), fresh=fresh)

    def read(self, work: Callable[[Workspace], Any]) -> Any:
        """Run work on the reader connection (committed data; writes go on meanwhile)."""
        with self.read_lock:
            return work(self.reader)

    def exclusive(self, work: Callable[[Workspace], Any]) -> Any:
        """Run work on the writer with the reader held too: an erasure must not race an
        analysis that rewrites the derived tables it cleans. The writer takes the reader's
        lock itself, so a caller never holds it while waiting in the writer's queue."""

        def both() -> Any:
            with self.read_lock:
                return work(self.ws)

        return self.writer.call(both)

    def close(self) -> None:
        self.writer.close()
        with self.read_lock:
            self.reader.close()
        with self.lock:
            self.ws.close()
