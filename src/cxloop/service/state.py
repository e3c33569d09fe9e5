"""What a running service holds: the open workspace, its lock, the writer and the cache.

Concurrency model (docs/api.md): the process owns the workspace (its file lock, held while
serving, keeps other cxloop processes out). Inside the process, one re-entrant lock
serialises every use of the embedded engine, because one DuckDB connection must not run two
statements at once and analyses write their own caches. Writes go through one writer thread
that groups ingest requests (`writer.py`). Analysis documents are cached per data version,
so dashboard reads are served from memory and only the first read after new data computes.
"""

from __future__ import annotations

import threading
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


@dataclass
class DocumentCache:
    """Analysis documents by (analysis, options), each valid for one data version.

    Concurrent first reads of the same document compute it once (one lock per key); older
    versions are replaced, so memory holds at most one document per key.
    """

    entries: dict[tuple[Any, ...], CachedDocument] = field(default_factory=dict)
    _locks: dict[tuple[Any, ...], threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    hits: int = 0
    misses: int = 0

    def get(
        self, key: tuple[Any, ...], version: Callable[[], int], compute: Callable[[], Any]
    ) -> CachedDocument:
        current = version()
        entry = self.entries.get(key)
        if entry is not None and entry.data_version == current:
            self.hits += 1
            return entry
        with self._guard:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            current = version()
            entry = self.entries.get(key)
            if entry is not None and entry.data_version == current:
                self.hits += 1
                return entry
            self.misses += 1
            document = compute()
            entry = CachedDocument(current, to_json(document, indent=None).encode())
            self.entries[key] = entry
            return entry


class ServiceState:
    """The workspace a service serves, opened once for the life of the process."""

    def __init__(self, path: Path | str, *, wait: float = 30.0) -> None:
        self.ws = Workspace.open(path, wait=wait)
        self.config = self.ws.config
        self.lock = threading.RLock()
        self.cache = DocumentCache()
        self._data_version = self.ws.data_version
        self.writer = WriteQueue(
            self.ws,
            self.lock,
            group_commit_ms=self.config.serve.group_commit_ms,
            on_commit=self._refresh_version,
        )

    @property
    def data_version(self) -> int:
        """The warehouse's data version; only this process writes it, so memory is exact."""
        return self._data_version

    def _refresh_version(self) -> None:
        with self.lock:
            self._data_version = self.ws.data_version

    def document(self, name: str, options: dict[str, Any], run: Callable[[], Any]) -> Any:
        """An analysis document from the cache, computed under the engine lock when stale."""
        key = (name, *sorted((k, repr(v)) for k, v in options.items()))

        def compute() -> Any:
            with self.lock:
                return run()

        return self.cache.get(key, lambda: self._data_version, compute)

    def read(self, work: Callable[[Workspace], Any]) -> Any:
        """Run uncached work on the workspace under the engine lock."""
        with self.lock:
            return work(self.ws)

    def close(self) -> None:
        self.writer.close()
        with self.lock:
            self.ws.close()
