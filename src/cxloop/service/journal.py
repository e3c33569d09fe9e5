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

import contextlib
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
    order: int
    records: int = 0


class Journal:
    """Per-kind append-only segments under `WS/journal/`, named so they sort in order.

    A name is `<nanoseconds since the epoch>-<sequence>.<kind>.jsonl`, created exclusively:
    this process never appends to a file it did not create, so a segment left by an earlier
    run is never mixed with new records.
    """

    def __init__(self, workspace: Path) -> None:
        self.folder = workspace / JOURNAL_DIR
        self.folder.mkdir(exist_ok=True)
        _sync_dir(self.folder.parent)
        self._lock = threading.Lock()
        self._open: dict[str, _Segment] = {}
        self._sequence = itertools.count(1)
        self.pending = 0  # records appended and not yet handed out for loading

    def leftovers(self) -> list[tuple[str, Path]]:
        """Segments on disk from an earlier run (not loaded before it stopped), in order."""
        return [(_kind_of(p), p) for p in sorted(self.folder.glob(f"*{_SUFFIX}"))]

    def append(self, kind: str, payload: bytes, records: int) -> None:
        """Add records (JSON Lines, one per line) and sync them to disk.

        On any failure the segment is cut back to where it was, so a half-written request
        never glues onto the next one's line; the caller answers with an error.
        """
        with self._lock:
            segment = self._open.get(kind) or self._create(kind)
            offset = segment.file.tell()
            try:
                segment.file.write(payload)
                segment.file.flush()
                os.fdatasync(segment.file.fileno())
            except OSError:
                with contextlib.suppress(OSError):
                    segment.file.truncate(offset)
                    segment.file.seek(offset)
                raise
            segment.records += records
            self.pending += records

    def _create(self, kind: str) -> _Segment:
        order = next(self._sequence)
        path = self.folder / f"{time.time_ns():020d}-{order:09d}.{kind}{_SUFFIX}"
        segment = _Segment(path, path.open("xb"), order)
        _sync_dir(self.folder)  # the new name survives a power loss with its content
        self._open[kind] = segment
        return segment

    def rotate(self) -> list[tuple[str, Path]]:
        """Close the open segments and return them (kind, path) for loading, in order."""
        with self._lock:
            closed = sorted(self._open.items(), key=lambda item: item[1].order)
            for _, segment in closed:
                with contextlib.suppress(OSError):
                    segment.file.close()
            self._open.clear()
            self.pending = 0
        return [(kind, segment.path) for kind, segment in closed]


def _kind_of(path: Path) -> str:
    # <nanoseconds>-<sequence>.<kind>.jsonl
    return path.name[: -len(_SUFFIX)].rsplit(".", 1)[1]


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
