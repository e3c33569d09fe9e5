"""The batcher (programs/batching.py): every request gets its own outcome, batches form under
concurrency, an error stays with the request that caused it, leadership never gets lost."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from cxloop.programs.batching import Batcher


def test_each_request_gets_its_own_outcome_and_batches_form():
    seen: list[list[int]] = []

    def apply(batch: list[int], release) -> list[object]:
        seen.append(list(batch))
        time.sleep(0.002)  # a transaction's round trips: others queue meanwhile
        release()
        time.sleep(0.002)  # its commit: the next batch may run now
        return [ValueError(n) if n % 7 == 0 else n * 10 for n in batch]

    batcher: Batcher[int, int] = Batcher(apply, max_batch=8, max_running=1)

    def call(n: int) -> object:
        try:
            return batcher.submit(n)
        except ValueError as exc:
            return exc

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(call, range(400)))
    for n, outcome in enumerate(outcomes):
        if n % 7 == 0:
            assert isinstance(outcome, ValueError) and outcome.args == (n,)
        else:
            assert outcome == n * 10
    assert sorted(n for batch in seen for n in batch) == list(range(400))  # each once
    assert max(len(batch) for batch in seen) <= 8
    assert batcher.batches == len(seen) < 400 and batcher.requests == 400
    assert batcher._running == 0 and not batcher._queue  # nothing left held


def test_a_failing_batch_is_run_again_one_request_at_a_time():
    calls: list[list[str]] = []
    gate = threading.Event()

    def apply(batch: list[str], release) -> list[object]:
        calls.append(list(batch))
        if len(calls) == 1:
            gate.wait(5)  # the first batch holds the seat until the others queued
        if "bad" in batch:
            raise RuntimeError("constraint violated")
        return [s.upper() for s in batch]

    batcher: Batcher[str, str] = Batcher(apply, max_running=1)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.submit, "first")
        while not calls:
            time.sleep(0.001)
        rest = [pool.submit(batcher.submit, s) for s in ("a", "bad", "b")]
        while len(batcher._queue) < 3:
            time.sleep(0.001)
        gate.set()
        assert first.result(5) == "FIRST"
        assert rest[0].result(5) == "A" and rest[2].result(5) == "B"
        with pytest.raises(RuntimeError, match="constraint"):
            rest[1].result(5)
    assert calls[1] == ["a", "bad", "b"] and calls[2:] == [["a"], ["bad"], ["b"]]


@pytest.mark.parametrize(("min_beside", "most_at_once"), [(1, 2), (1000, 1)])
def test_a_second_batch_runs_beside_the_first_only_once_enough_wait(min_beside, most_at_once):
    running, peak = [0], [0]
    guard = threading.Lock()

    def apply(batch: list[int], release) -> list[int]:
        with guard:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.003)
        with guard:
            running[0] -= 1
        release()
        return batch

    batcher: Batcher[int, int] = Batcher(apply, max_running=2, min_beside=min_beside)
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(batcher.submit, range(300))) == list(range(300))
    assert peak[0] == most_at_once


def test_settings_are_checked():
    with pytest.raises(ValueError):
        Batcher(lambda batch, release: batch, max_batch=0)
