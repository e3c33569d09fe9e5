"""Hand concurrent requests of one process to a function that applies them together.

Why: a write transaction has a fixed cost (round trips, statements parsed and run, a commit
that waits for the disk) that dwarfs the cost of one more row. When many threads write at
once, each doing its own transaction pays that cost once per request; gathered into one
transaction with set-based statements, it is paid once per batch (`docs/loyalty.md`).

How (no background thread; the waiting threads do the work): a request joins the queue. If
fewer than `max_running` batches are running, its thread becomes a leader: it takes up to
`max_batch` queued requests (its own among them, or it waits for the batch that took its
own), runs them through `apply`, hands every request its outcome, and passes the leadership
to the next queued request, if any, or gives it up. Under no load a batch holds one request
and adds no wait; under load, batches grow by themselves to what queued while the previous
batch ran, so there is no timer to tune.

`apply(batch, release)` returns one outcome per request, in order: a result, or the
exception that request must raise. It calls `release()` when its statements are done and
only the commit is left: the leadership passes on then, so the next batch runs while this
one waits for the disk (`max_running` bounds the batches running statements, not those
committing); a batch starts beside a running one only once `min_beside` requests are
queued, so a busy process runs a few large batches rather than many small ones. If `apply`
raises for a batch of several requests, each request is run again alone, so an error is
raised by the request that caused it and never by its neighbours.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

R = TypeVar("R")
T = TypeVar("T")


class _Slot(Generic[R, T]):
    """One request waiting for its outcome (or for its turn to lead)."""

    __slots__ = ("done", "error", "lead", "ready", "request", "result")

    def __init__(self, request: R) -> None:
        self.request = request
        self.ready = threading.Event()
        self.done = False
        self.lead = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def answer(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class Batcher(Generic[R, T]):
    """Runs the requests submitted concurrently by this process's threads in batches."""

    def __init__(
        self,
        apply: Callable[[list[R], Callable[[], None]], Sequence[T | BaseException]],
        *,
        max_batch: int = 64,
        max_running: int = 2,
        min_beside: int = 1,
    ) -> None:
        if max_batch < 1 or max_running < 1 or min_beside < 1:
            raise ValueError("max_batch, max_running and min_beside must be at least 1")
        self._apply = apply
        self.max_batch = max_batch
        self.max_running = max_running
        self.min_beside = min_beside
        self._lock = threading.Lock()
        self._queue: deque[_Slot[R, T]] = deque()
        self._running = 0  # leaders: threads holding the right to run a batch
        #: Batches run and requests they held (a mean batch size for benchmarks).
        self.batches = 0
        self.requests = 0

    def submit(self, request: R) -> T:
        """Apply `request` (with whatever else is queued) and return its result or raise."""
        slot: _Slot[R, T] = _Slot(request)
        with self._lock:
            self._queue.append(slot)
            slot.lead = self._running == 0 or (
                self._running < self.max_running and len(self._queue) >= self.min_beside
            )
            if slot.lead:
                self._running += 1
        while True:
            if slot.lead:
                slot.lead = False
                self._lead(slot)
            if slot.done:
                return slot.answer()
            slot.ready.wait()
            slot.ready.clear()

    def _lead(self, mine: _Slot[R, T]) -> None:
        """Run batches until `mine` is answered or nothing is queued, or until a batch
        released the leadership before its commit; pass the leadership on or give it up.

        While `mine` is in a batch another leader runs, this thread runs the next batch
        rather than wake another thread to do it.
        """
        while True:
            with self._lock:
                if mine.done or not self._queue:
                    self._hand_over()
                    return
                size = min(self.max_batch, len(self._queue))
                batch = [self._queue.popleft() for _ in range(size)]
                self.batches += 1
                self.requests += size
            released = False

            def release() -> None:
                nonlocal released
                with self._lock:
                    if not released:
                        released = True
                        self._hand_over()

            self._run(batch, release)
            if released:
                return

    def _hand_over(self) -> None:
        """(Under the lock) make a queued request a leader, or free the seat."""
        for successor in self._queue:
            if not successor.lead:
                successor.lead = True
                successor.ready.set()
                return
        self._running -= 1

    def _run(self, batch: list[_Slot[R, T]], release: Callable[[], None]) -> None:
        try:
            outcomes = self._outcomes([slot.request for slot in batch], release)
        except BaseException as exc:  # a bug or an interrupt: every request hears of it
            outcomes = [exc] * len(batch)
        for slot, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                slot.error = outcome
            else:
                slot.result = outcome
            slot.done = True
            slot.ready.set()

    def _outcomes(
        self, requests: list[R], release: Callable[[], None]
    ) -> Sequence[T | BaseException]:
        try:
            outcomes = self._apply(requests, release)
        except Exception as exc:
            if len(requests) == 1:
                return [exc]
            # Which request caused it is unknown: run each alone, so only that one fails.
            return [self._outcomes([request], release)[0] for request in requests]
        if len(outcomes) != len(requests):
            raise RuntimeError(f"{len(outcomes)} outcomes for {len(requests)} requests")
        return outcomes
