"""The one writer of a served workspace: API ingest, grouped and loaded in order.

DuckDB allows one writing process per database file, and one connection must not run two
statements at once, so every write of the service goes through this thread. Two paths:

- **Fast path** (`submit_fast`): a request whose records are all surely valid
  (`cxloop.contract.fastcheck`) is appended to the journal (`journal.py`) and synced to
  disk on the caller's thread, then answered; this thread loads the journal's segments
  every `journal_flush_ms` through the normal loader. Loading costs about the same for one
  record as for thousands (mostly planning the validation query), so this is what makes
  single events fast and streams cheap.
- **Validated path** (`submit_ingest`): any other request is loaded at once, grouped with
  the requests that arrived within `group_commit_ms`: the records of each kind are written
  as one JSON Lines file and loaded with the same loader as `cxloop ingest`; each request
  gets back its own accepted and rejected records, found by the line span its records
  occupied. The journal is loaded first, so a request answered earlier is never overtaken.

Either way a request is answered only after its records are durable (the journal synced,
or the load committed), so an accepted record is never lost.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxloop.errors import CxloopError
from cxloop.service.journal import Journal
from cxloop.workspace import Workspace

log = logging.getLogger("cxloop.service")

INBOX_DIR = "inbox"
_sequence = itertools.count(1)


class RequestRejected(CxloopError):
    """A request none of whose records could be read (the API answers 422)."""


@dataclass(frozen=True)
class IngestRequest:
    """Records of one kind from one API request, as JSON Lines (one record per line)."""

    kind: str
    payload: bytes
    records: int


@dataclass
class IngestResult:
    """What happened to one request's records."""

    kind: str
    received: int
    rejects: list[dict[str, Any]] = field(default_factory=list)
    data_version: int | None = None
    # True: accepted on the fast path, in the journal, loaded within journal_flush_ms.
    journaled: bool = False

    @property
    def rejected(self) -> int:
        return len({r["index"] for r in self.rejects})

    @property
    def accepted(self) -> int:
        return self.received - self.rejected

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejects": self.rejects,
            "stored": "journal" if self.journaled else "warehouse",
            "data_version": self.data_version,
        }


@dataclass
class _Pending:
    request: IngestRequest
    future: Future[IngestResult]


class WriteQueue:
    """Runs every write of the service on one thread, in arrival order.

    `submit_ingest` groups ingest requests (see the module docstring); `call` runs any
    other write (an erasure) between groups. Both block the caller until the write has
    committed, and re-raise its error.
    """

    def __init__(
        self,
        ws: Workspace,
        lock: threading.RLock,
        *,
        group_commit_ms: float = 2.0,
        journal_flush_ms: float = 250.0,
        max_group_records: int = 200_000,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.ws = ws
        self.lock = lock
        self.group_seconds = group_commit_ms / 1000.0
        self.flush_seconds = journal_flush_ms / 1000.0
        self.max_group_records = max_group_records
        self.on_commit = on_commit
        self.inbox = ws.path / INBOX_DIR
        self.inbox.mkdir(exist_ok=True)
        self.journal = Journal(ws.path)
        # Listed before any request can append: what an earlier run left, loaded first.
        self._leftovers = self.journal.leftovers()
        self.ready = threading.Event()
        self._queue: queue.Queue[_Pending | tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.Queue()
        )
        self._thread = threading.Thread(target=self._run, name="cxloop-writer", daemon=True)
        self._stopping = False
        self._thread.start()

    # -- the callers' side --------------------------------------------------------------
    def submit_ingest(self, request: IngestRequest) -> IngestResult:
        future: Future[IngestResult] = Future()
        self._put(_Pending(request, future))
        return future.result()

    def submit_fast(self, request: IngestRequest) -> IngestResult:
        """Journal surely valid records and answer; they load within `journal_flush_ms`."""
        if self._stopping:
            raise CxloopError("the service is shutting down; send the request again later")
        self.journal.append(request.kind, request.payload, request.records)
        if self.journal.pending >= self.max_group_records:
            self._queue.put((lambda: None, Future()))  # wake the writer: a flush is due
        return IngestResult(kind=request.kind, received=request.records, journaled=True)

    def flush(self) -> None:
        """Load everything journaled so far (a reader asking for current figures)."""
        self.call(lambda: None)

    def call(self, work: Callable[[], Any]) -> Any:
        future: Future[Any] = Future()
        self._put((work, future))
        return future.result()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping and self.ready.is_set()

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop."""
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout)

    def _put(self, item: _Pending | tuple[Callable[[], Any], Future[Any]]) -> None:
        if self._stopping:
            raise CxloopError("the service is shutting down; send the request again later")
        self._queue.put(item)

    # -- the writer thread --------------------------------------------------------------
    def _run(self) -> None:
        self._load_segments(self._leftovers)  # what a crash left, before serving
        self.ready.set()
        last_flush = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=self.flush_seconds)
            except queue.Empty:
                item = False  # nothing arrived: a good moment to load the journal
            if item is None:
                self._flush_journal()
                return
            if item is not False and isinstance(item, _Pending):
                if self._take_group(item):
                    self._flush_journal()
                    return
            elif item is not False:
                self._flush_journal()  # a call sees (and an erasure erases) journaled data
                last_flush = time.monotonic()
                self._run_call(*item)
            if time.monotonic() - last_flush >= self.flush_seconds or item is False:
                self._flush_journal()
                last_flush = time.monotonic()

    def _take_group(self, first: _Pending) -> bool:
        """Load `first` with what arrives within the group window; True when told to stop."""
        group = [first]
        records = first.request.records
        deadline = time.monotonic() + self.group_seconds
        while records < self.max_group_records:
            try:
                nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if not isinstance(nxt, _Pending):
                self._load_groups(group)
                if nxt is None:
                    return True
                self._flush_journal()
                self._run_call(*nxt)
                return False
            group.append(nxt)
            records += nxt.request.records
        self._load_groups(group)
        return False

    def _flush_journal(self) -> None:
        if self.journal.pending:
            self._load_segments(self.journal.rotate())

    def _load_segments(self, segments: list[tuple[str, Path]]) -> None:
        """Load journal segments in order; a segment is deleted once its load committed."""
        if not segments:
            return
        for kind, path in segments:
            try:
                with self.lock:
                    report = self.ws.ingest([path], kind=kind)
            except Exception as exc:  # kept for an operator, never dropped
                failed = path.parent / "failed"
                failed.mkdir(exist_ok=True)
                path.rename(failed / path.name)
                log.error(
                    "journal segment %s could not be loaded (%s); kept in %s",
                    path.name,
                    type(exc).__name__,
                    failed,
                )
                continue
            if report.rejected:
                log.error(
                    "%d journaled %s record(s) were rejected by the loader (kept in %s): "
                    "the fast check accepted what validation refuses",
                    report.rejected,
                    kind,
                    report.rejects_path,
                )
            path.unlink(missing_ok=True)
        if self.on_commit:
            self.on_commit()

    def _run_call(self, work: Callable[[], Any], future: Future[Any]) -> None:
        try:
            with self.lock:
                result = work()
            if self.on_commit:
                self.on_commit()
            future.set_result(result)
        except BaseException as exc:  # handed to the caller, who reports it
            future.set_exception(exc)

    def _load_groups(self, group: list[_Pending]) -> None:
        self._flush_journal()
        by_kind: dict[str, list[_Pending]] = {}
        for pending in group:
            by_kind.setdefault(pending.request.kind, []).append(pending)
        for members in by_kind.values():
            try:
                self._load_together(members)
            except CxloopError as exc:
                # A file-level problem (say, no record has a required column) must fail only
                # the request that caused it: load each request on its own.
                if len(members) == 1:
                    self._fail(members, exc)
                    continue
                for one in members:
                    try:
                        self._load_together([one])
                    except BaseException as exc:
                        self._fail([one], exc)
            except BaseException as exc:
                self._fail(members, exc)
        if self.on_commit:
            self.on_commit()

    @staticmethod
    def _fail(members: list[_Pending], exc: BaseException) -> None:
        for pending in members:
            if not pending.future.done():
                pending.future.set_exception(exc)

    def _load_together(self, members: list[_Pending]) -> None:
        kind = members[0].request.kind
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.inbox / f"api-{stamp}-{next(_sequence)}-{secrets.token_hex(3)}.{kind}.jsonl"
        spans: list[tuple[int, int]] = []
        line = 1
        with path.open("wb") as f:
            for pending in members:
                f.write(pending.request.payload)
                spans.append((line, line + pending.request.records))
                line += pending.request.records
        try:
            with self.lock:
                try:
                    self.ws.ingest([path], kind=kind)
                except CxloopError as exc:  # the file name is ours, not the caller's
                    message = (
                        str(exc).replace(f"{path}: ", "").replace("header lacks", "records lack")
                    )
                    raise RequestRejected(message) from None
                rows = self.ws.engine.fetchall(
                    'SELECT line, "column", reason, record, raw FROM ingest_rejects '
                    "WHERE path = ? ORDER BY line",
                    [str(path)],
                )
                version = self.ws.data_version
        finally:
            path.unlink(missing_ok=True)
        for pending, (first, end) in zip(members, spans, strict=True):
            result = IngestResult(kind=kind, received=pending.request.records)
            result.data_version = version
            for reject_line, column, reason, record, raw in rows:
                if reject_line is not None and first <= reject_line < end:
                    index = reject_line - first
                    result.rejects.append(_reject(index, column, reason, record, raw))
            pending.future.set_result(result)


def _reject(
    index: int, column: str | None, reason: str, record: Any, raw: str | None
) -> dict[str, Any]:
    """One rejected record: its index in the request, the column, the reason, the record."""
    parsed: Any = record
    if isinstance(record, str):
        with contextlib.suppress(ValueError):
            parsed = json.loads(record)
    if parsed is None and raw is not None:
        parsed = raw  # not readable as a record: the text as sent
    return {"index": index, "column": column, "reason": reason, "record": parsed}
