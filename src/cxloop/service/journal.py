"""The ingest journal: durable JSON Lines segments of records accepted on the fast path.

A request whose records are all surely valid (`cxloop.contract.fastcheck`) is appended to
the current segment of its kind and synced to disk before the response: the records are
accepted and will not be lost. The writer thread then loads closed segments through the
normal loader (`Workspace.ingest`: the same validation, idempotent merge and ingest log as a
file) a few hundred milliseconds later, or at once when a reader asks for current figures.
A segment is deleted only after its load committed; a segment left by a crash is loaded at
the next start, and loading it twice changes nothing (loads are idempotent by key).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

JOURNAL_DIR = "journal"
_SUFFIX = ".jsonl"


@dataclass
class _Segment:
    path: Path
    file: BinaryIO
    records: int = 0


class Journal:
    """Per-kind append-only segments under `WS/journal/`, named so they sort in order."""

    def __init__(self, workspace: Path) -> None:
        self.folder = workspace / JOURNAL_DIR
        self.folder.mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._open: dict[str, _Segment] = {}
        self._sequence = itertools.count(1)
        self._epoch = time.strftime("%Y%m%dT%H%M%S")
        self.pending = 0  # records appended and not yet handed out for loading

    def leftovers(self) -> list[tuple[str, Path]]:
        """Segments on disk from an earlier run (not loaded before it stopped), in order."""
        return [(_kind_of(p), p) for p in sorted(self.folder.glob(f"*{_SUFFIX}"))]

    def append(self, kind: str, payload: bytes, records: int) -> None:
        """Add records (JSON Lines, one per line) and sync them to disk."""
        with self._lock:
            segment = self._open.get(kind)
            if segment is None:
                name = f"{self._epoch}-{next(self._sequence):09d}.{kind}{_SUFFIX}"
                path = self.folder / name
                segment = _Segment(path, path.open("ab"))
                self._open[kind] = segment
            segment.file.write(payload)
            segment.file.flush()
            os.fdatasync(segment.file.fileno())
            segment.records += records
            self.pending += records

    def rotate(self) -> list[tuple[str, Path]]:
        """Close the open segments and return them (kind, path) for loading."""
        with self._lock:
            closed = [(kind, seg.path) for kind, seg in self._open.items()]
            for segment in self._open.values():
                segment.file.close()
            self._open.clear()
            self.pending = 0
        return sorted(closed, key=lambda item: item[1].name)

    def close(self) -> list[tuple[str, Path]]:
        return self.rotate()


def _kind_of(path: Path) -> str:
    # <epoch>-<sequence>.<kind>.jsonl
    return path.name[: -len(_SUFFIX)].rsplit(".", 1)[1]
