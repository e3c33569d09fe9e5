"""Group commit for the embedded store: many write transactions, one fsync.

SQLite with `synchronous=FULL` syncs the file on every commit (1-2 ms on common disks), and
only one transaction writes at a time, so committing each request alone caps the embedded
ledger at a few hundred writes a second however many clients wait. Here the writers of one
process take turns on one connection inside one open database transaction: each request runs
in its own SAVEPOINT (its changes are atomic: released on success, rolled back to on error),
and whoever finds no other writer queued (or a full batch) commits them all with one fsync.
A request returns only after the commit that made it durable, exactly as with one transaction
per request; if that commit fails, every request in the batch is told to run again.

What a request sees is unchanged: it holds the only writer seat, so it reads everything
written before it (committed, or released earlier in its batch, which commits with it or not
at all). Readers on other connections see only committed batches (WAL snapshots). Other
processes wait on SQLite's file lock as before. Write blocks must not be nested.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cxloop.programs.errors import RetryTransaction

#: A batch commits when no writer is queued, or when it holds this many requests, or when
#: it has been open this long: a bound on the wait a busy stream of writers adds.
MAX_BATCH = 64
MAX_BATCH_SECONDS = 0.010


class _Batch:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.size = 0
        self.opened = time.monotonic()


class GroupCommit:
    """The writer seat of one SQLite store in this process (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._seat = threading.Lock()
        self._queue_guard = threading.Lock()
        self._queued = 0
        self._conn: Connection | None = None
        self._batch: _Batch | None = None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One request's transaction: a savepoint in the open batch, durable on return.

        Every outcome waits for the commit of the batch it ran in, a refusal too: what the
        request read (perhaps written earlier in the batch) is then durable. If that commit
        fails, `RetryTransaction` asks the caller (`retrying`) to run the request again.
        """
        with self._queue_guard:
            self._queued += 1
        self._seat.acquire()
        with self._queue_guard:
            self._queued -= 1
        batch: _Batch | None = None
        error: BaseException | None = None
        try:
            conn = self._connection()
            if self._batch is None:
                conn.begin()  # BEGIN IMMEDIATE (the store's begin hook)
                self._batch = _Batch()
            batch = self._batch
            savepoint = conn.begin_nested()
            try:
                yield conn
            except BaseException as exc:
                error = exc
                self._undo(conn, savepoint)
            else:
                savepoint.commit()  # RELEASE: part of the batch now
                batch.size += 1
        finally:
            self._maybe_commit()
            self._seat.release()
        if batch is not None:
            batch.done.wait()
            if batch.error is not None and not isinstance(error, RetryTransaction):
                raise RetryTransaction("the batch this write ran in did not commit") from (
                    batch.error
                )
        if error is not None:
            raise error

    def close(self) -> None:
        with self._seat:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- inside the seat ------------------------------------------------------------------
    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self._engine.connect()
        return self._conn

    def _undo(self, conn: Connection, savepoint: sa.engine.NestedTransaction) -> None:
        """Roll this request back; if SQLite dropped the whole transaction, fail the batch."""
        try:
            if savepoint.is_active:
                savepoint.rollback()
        except sa.exc.DBAPIError as exc:
            self._fail(exc)
            return
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            self._fail(RuntimeError("SQLite rolled the transaction back"))

    def _maybe_commit(self) -> None:
        batch = self._batch
        if batch is None:
            return
        with self._queue_guard:
            others_waiting = self._queued > 0
        young = time.monotonic() - batch.opened < MAX_BATCH_SECONDS
        if others_waiting and batch.size < MAX_BATCH and young:
            return  # the next writer continues this batch; one of them commits it
        self._batch = None
        assert self._conn is not None
        try:
            self._conn.commit()
        except BaseException as exc:
            batch.error = exc
            self._reset()
        finally:
            batch.done.set()

    def _fail(self, error: BaseException) -> None:
        batch, self._batch = self._batch, None
        self._reset()
        if batch is not None:
            batch.error = error
            batch.done.set()

    def _reset(self) -> None:
        """Throw the connection away after a failed batch.

        A failed COMMIT can leave SQLite's transaction open while SQLAlchemy believes it
        ended; closing the connection rolls back whatever is left, and the next writer
        starts on a fresh one.
        """
        if self._conn is not None:
            self._conn.invalidate()
            self._conn.close()
            self._conn = None
