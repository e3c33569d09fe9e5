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


_Call = tuple[Callable[[], Any], Future[Any]]
_Item = _Pending | _Call | None

# How long a caller waits for the writer before answering 503 (the work may still finish).
ANSWER_TIMEOUT_S = 300.0
# A journal segment that fails to load (disk full, out of memory) is retried this often.
RETRY_S = 5.0


class WriterUnavailable(CxloopError):
    """The writer cannot take work now (stopping, or a journal segment will not load)."""


class WriteQueue:
    """Runs every write of the service on one thread, in arrival order.

    `submit_fast` journals (see the module docstring); `submit_ingest` groups validated
    loads; `call` runs any other write (an erasure) between groups, after the journal is
    loaded. All block the caller until the write is durable, and re-raise its error. The
    thread survives any error of one piece of work: it reports it to that work's callers
    and goes on.
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
        for stale in self.inbox.glob("*.jsonl"):  # never answered (a crash mid-load): gone
            stale.unlink(missing_ok=True)
        self.journal = Journal(ws.path)
        # Listed before any request can append: what an earlier run left, loaded first.
        self._unloaded: list[tuple[str, Path]] = self.journal.leftovers()
        self.trouble: str | None = None  # why journaled records are not loading, if they fail
        self.quarantined = 0  # segments the loader refused, kept in journal/failed/
        self.ready = threading.Event()
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._accepting = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="cxloop-writer", daemon=True)
        self._thread.start()

    # -- the callers' side --------------------------------------------------------------
    def submit_ingest(self, request: IngestRequest) -> IngestResult:
        future: Future[IngestResult] = Future()
        self._put(_Pending(request, future))
        return _wait(future)

    def submit_fast(self, request: IngestRequest) -> IngestResult:
        """Journal surely valid records and answer; they load within `journal_flush_ms`."""
        with self._accepting:
            if self._stopping:
                raise WriterUnavailable("the service is shutting down; send it again later")
            try:
                self.journal.append(request.kind, request.payload, request.records)
            except OSError as exc:
                raise WriterUnavailable(
                    f"the journal could not be written ({exc.strerror}); send it again later"
                ) from None
        if self.journal.pending >= self.max_group_records:
            self._queue.put((lambda: None, Future()))  # wake the writer: a load is due
        return IngestResult(kind=request.kind, received=request.records, journaled=True)

    def flush(self) -> None:
        """Load everything journaled so far (a reader asking for current figures)."""
        self.call(lambda: None)

    def call(self, work: Callable[[], Any]) -> Any:
        future: Future[Any] = Future()
        self._put((work, future))
        return _wait(future)

    @property
    def alive(self) -> bool:
        return (
            self._thread.is_alive()
            and not self._stopping
            and self.ready.is_set()
            and self.trouble is None
        )

    def close(self, timeout: float = 60.0) -> None:
        """Finish what is queued (the journal loaded), then stop."""
        with self._accepting:
            self._stopping = True
            self._queue.put(None)
        self._thread.join(timeout)

    def _put(self, item: _Pending | _Call) -> None:
        with self._accepting:
            if self._stopping:
                raise WriterUnavailable("the service is shutting down; send it again later")
            self._queue.put(item)

    # -- the writer thread --------------------------------------------------------------
    def _run(self) -> None:
        self._guarded(self._load_unloaded)  # what an earlier run left, before serving
        self.ready.set()
        last_load = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=self.flush_seconds)
            except queue.Empty:
                item = _IDLE
            if item is None:
                self._guarded(self._flush_journal)
                self._fail_queued(WriterUnavailable("the service stopped"))
                return
            if isinstance(item, _Pending):
                stop = self._guarded(lambda item=item: self._take_group(item))
                if stop:
                    self._guarded(self._flush_journal)
                    self._fail_queued(WriterUnavailable("the service stopped"))
                    return
            elif item is not _IDLE:
                self._run_call(*item)
                last_load = time.monotonic()
            if item is _IDLE or time.monotonic() - last_load >= self.flush_seconds:
                self._guarded(self._flush_journal)
                last_load = time.monotonic()

    def _guarded(self, step: Callable[[], Any]) -> Any:
        """Run one step of the loop; an error is logged (its type only) and survived."""
        try:
            return step()
        except Exception as exc:
            log.error("writer: %s in %s", type(exc).__name__, getattr(step, "__name__", "step"))
            return None

    def _fail_queued(self, exc: BaseException) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Pending):
                _settle(item.future, exc)
            elif item is not None:
                _settle(item[1], exc)

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
                self._run_call(*nxt)
                return False
            group.append(nxt)
            records += nxt.request.records
        self._load_groups(group)
        return False

    def _flush_journal(self) -> None:
        """Load the journal: segments that failed before first, then the open ones.

        Raises `WriterUnavailable` while a segment will not load, so work that must see
        every accepted record (an erasure, an export, current figures) fails loudly
        instead of missing some; the segment stays on disk and is retried.
        """
        if self.journal.pending:
            self._unloaded.extend(self.journal.rotate())
        self._load_unloaded()

    def _load_unloaded(self) -> None:
        loaded = False
        while self._unloaded:
            kind, path = self._unloaded[0]
            try:
                with self.lock:
                    report = self.ws.ingest([path], kind=kind)
            except CxloopError as exc:
                # The loader refuses the file itself (it never should: its records passed the
                # fast check). Retrying cannot help; it is set aside for an operator.
                self._quarantine(path, exc)
                self._unloaded.pop(0)
                continue
            except Exception as exc:
                self.trouble = (
                    f"journal segment {path.name} does not load ({type(exc).__name__}); "
                    f"retried every {RETRY_S:g} s"
                )
                log.error("%s", self.trouble)
                time.sleep(RETRY_S)  # the cause is outside (disk, memory): wait, then retry
                raise WriterUnavailable(self.trouble) from None
            if report.rejected:
                log.error(
                    "%d journaled %s record(s) were rejected by the loader (kept in %s): "
                    "the fast check accepted what validation refuses",
                    report.rejected,
                    kind,
                    report.rejects_path,
                )
            path.unlink(missing_ok=True)
            self._unloaded.pop(0)
            loaded = True
        self.trouble = None
        if loaded and self.on_commit:
            self.on_commit()

    def _quarantine(self, path: Path, exc: CxloopError) -> None:
        failed = path.parent / "failed"
        failed.mkdir(exist_ok=True)
        path.rename(failed / path.name)
        self.quarantined += 1
        log.error(
            "journal segment %s refused by the loader (%s); kept in %s for an operator",
            path.name,
            type(exc).__name__,
            failed,
        )

    def _run_call(self, work: Callable[[], Any], future: Future[Any]) -> None:
        try:
            self._flush_journal()  # a call sees (and an erasure erases) journaled data
            with self.lock:
                result = work()
            if self.on_commit:
                self.on_commit()
            _settle(future, result=result)
        except BaseException as exc:  # handed to the caller, who reports it
            _settle(future, exc)

    def _load_groups(self, group: list[_Pending]) -> None:
        try:
            self._flush_journal()  # an answered request is never overtaken
        except BaseException as exc:
            self._fail(group, exc)
            return
        by_kind: dict[str, list[_Pending]] = {}
        for pending in group:
            by_kind.setdefault(pending.request.kind, []).append(pending)
        answers: list[tuple[_Pending, IngestResult]] = []
        for members in by_kind.values():
            try:
                answers += self._load_together(members)
            except CxloopError as exc:
                # A file-level problem (say, no record has a required column) must fail only
                # the request that caused it: load each request on its own.
                if len(members) == 1:
                    self._fail(members, exc)
                    continue
                for one in members:
                    try:
                        answers += self._load_together([one])
                    except BaseException as exc:
                        self._fail([one], exc)
            except BaseException as exc:
                self._fail(members, exc)
        if self.on_commit:  # the new data version first: a read after the answer sees it
            self.on_commit()
        for pending, result in answers:
            _settle(pending.future, result=result)

    @staticmethod
    def _fail(members: list[_Pending], exc: BaseException) -> None:
        for pending in members:
            _settle(pending.future, exc)

    def _load_together(self, members: list[_Pending]) -> list[tuple[_Pending, IngestResult]]:
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
        answers = []
        for pending, (first, end) in zip(members, spans, strict=True):
            result = IngestResult(kind=kind, received=pending.request.records)
            result.data_version = version
            for reject_line, column, reason, record, raw in rows:
                if reject_line is not None and first <= reject_line < end:
                    index = reject_line - first
                    result.rejects.append(_reject(index, column, reason, record, raw))
            answers.append((pending, result))
        return answers


_IDLE = object()  # the queue stayed empty for a load interval


def _settle(future: Future[Any], exc: BaseException | None = None, result: Any = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _wait(future: Future[Any]) -> Any:
    try:
        return future.result(timeout=ANSWER_TIMEOUT_S)
    except TimeoutError:
        raise WriterUnavailable(
            f"the writer did not answer within {ANSWER_TIMEOUT_S:g} s; try again later"
        ) from None


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
