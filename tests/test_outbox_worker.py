"""The outbox and `cxloop worker`: every message reaches an idempotent receiver exactly once,
through failures, retries and a worker process killed mid-run; dead letters after N failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import cxloop
from cxloop.loop_settings import TriggersSettings
from cxloop.programs import outbox as box
from cxloop.programs.store import ProgramStore
from cxloop.programs.triggers.worker import run
from tests.loop_helpers import set_settings
from tests.programs_db import STORES, fresh_database

FAILURES_BEFORE_SUCCESS = 2
MESSAGES = 60


class Receiver:
    """A webhook receiver whose handler is idempotent by `Idempotency-Key`; it fails the first
    attempts of every message (HTTP 503) and is slow enough for a worker to die mid-batch."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.successes: Counter[str] = Counter()  # 2xx answers per key (repeats allowed)
        self.handled: dict[str, dict] = {}  # what the idempotent handler acted on, once
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers["Idempotency-Key"]
                time.sleep(0.01)
                with receiver.lock:
                    receiver.attempts[key] += 1
                    fail = receiver.attempts[key] <= FAILURES_BEFORE_SUCCESS
                    if not fail:
                        receiver.successes[key] += 1
                        document = json.loads(body)
                        assert document["message_key"] == key
                        receiver.handled.setdefault(key, document)  # the idempotent handler
                self.send_response(503 if fail else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_worker(path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cxloop",
            "worker",
            str(path),
            "--batch",
            "5",
            "--lease",
            "1",
            "--poll",
            "0.05",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("kind", STORES)
def test_each_message_is_handled_exactly_once_through_failures_and_a_killed_worker(kind, tmp_path):
    path = tmp_path / "ws"
    cxloop.Workspace.init(path).close()
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database()) if kind == "postgresql" else None
        receiver = stack.enter_context(Receiver())
        set_settings(path, "programs", {"database_url": url or ""})
        set_settings(
            path,
            "triggers",
            {
                "webhooks": [f"default {receiver.url}"],
                "backoff_seconds": 0.05,
                "backoff_max_seconds": 0.2,
                "max_attempts": 10,
            },
        )
        store = stack.enter_context(ProgramStore.open(path, url, pool_size=2))
        now = datetime.now(UTC)
        keys = [f"test:{i:03d}" for i in range(MESSAGES)]
        with store.write() as conn:  # the messages of one state change, one transaction
            box.enqueue(
                conn,
                [
                    {
                        "message_key": k,
                        "webhook": "default",
                        "topic": "survey_invitation",
                        "payload": {"n": i},
                    }
                    for i, k in enumerate(keys)
                ],
                now=now,
            )
        first = start_worker(path)
        try:
            wait_for(lambda: len(receiver.handled) >= MESSAGES // 4, 60, "a quarter handled")
        finally:
            first.send_signal(signal.SIGKILL)  # no chance to mark what it posted
            first.wait(10)
        assert len(receiver.handled) < MESSAGES, "the worker was killed mid-run"
        second = start_worker(path)
        try:
            wait_for(lambda: box.counts(store)["delivered"] == MESSAGES, 120, "all delivered")
        finally:
            second.send_signal(signal.SIGTERM if os.name != "nt" else signal.SIGINT)
            _, stderr = second.communicate(timeout=10)
        assert "Traceback" not in (stderr or "")
        assert sorted(receiver.handled) == keys  # none lost, each handled once
        assert all(receiver.handled[k]["payload"] == {"n": i} for i, k in enumerate(keys))
        assert all(receiver.attempts[k] > FAILURES_BEFORE_SUCCESS for k in keys)  # retried
        assert box.counts(store) == {"pending": 0, "delivered": MESSAGES, "dead": 0}


def test_a_message_that_keeps_failing_goes_to_the_dead_letters_and_can_be_retried(tmp_path):
    settings = TriggersSettings(
        webhooks=("default http://127.0.0.1:9/never",),
        max_attempts=3,
        backoff_seconds=0.01,
        backoff_max_seconds=0.02,
    )
    calls: list[str] = []

    def failing(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        calls.append(headers["Idempotency-Key"])
        return 500

    with ProgramStore.open(tmp_path) as store:
        with store.write() as conn:
            box.enqueue(
                conn,
                [
                    {"message_key": "k1", "webhook": "default", "topic": "t", "payload": {}},
                    {"message_key": "k2", "webhook": "nowhere", "topic": "t", "payload": {}},
                ],
                now=datetime.now(UTC),
            )
        deadline = time.monotonic() + 10
        while box.counts(store)["pending"] and time.monotonic() < deadline:
            run(store, settings, once=True, post=failing)
            time.sleep(0.03)
        assert box.counts(store) == {"pending": 0, "delivered": 0, "dead": 2}
        assert calls == ["k1"] * 3  # the unknown webhook is never posted
        dead = {m.message_key: m for m in box.messages(store, status="dead")}
        assert dead["k1"].last_error == "HTTP 500" and dead["k1"].attempts == 3
        assert "no webhook named 'nowhere'" in (dead["k2"].last_error or "")
        assert box.retry_dead(store, now=datetime.now(UTC), ids=[dead["k1"].id]) == 1
        delivered = run(store, settings, once=True, post=lambda *a: 204)
        assert delivered.delivered == 1
        assert box.counts(store) == {"pending": 0, "delivered": 1, "dead": 1}


class GarbageServer:
    """A TCP server that answers every request with bytes that are not HTTP (a broken proxy,
    a port reused by another service): the HTTP client raises BadStatusLine."""

    def __init__(self) -> None:
        import socket

        self.socket = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"garbage that is not HTTP\r\n\r\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}/hook"

    def __enter__(self) -> GarbageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.socket.close()


def test_a_receiver_answering_garbage_is_a_failed_attempt_not_a_dead_worker(tmp_path):
    """http.client's own exceptions (BadStatusLine, IncompleteRead...) and any other error of
    one post are a failed attempt of that message; the rest of the batch is still delivered."""
    from cxloop.programs.triggers.worker import deliver_once

    with GarbageServer() as garbage, ProgramStore.open(tmp_path) as store:
        settings = TriggersSettings(
            webhooks=(f"default {garbage.url}", "good http://127.0.0.1:9/ok"),
            http_timeout_seconds=2,
        )
        with store.write() as conn:
            box.enqueue(
                conn,
                [
                    {"message_key": f"k{i}", "webhook": "default", "topic": "t", "payload": {}}
                    for i in range(3)
                ],
                now=datetime.now(UTC),
            )
        report = deliver_once(store, settings)
        assert report.failed_attempts == 3
        for message in box.messages(store):
            assert message.status == "pending" and message.attempts == 1
            assert "BadStatusLine" in (message.last_error or "")

        def flaky(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
            if headers["Idempotency-Key"] == "k0":
                raise ValueError("a bug in a transport")
            return 200

        with store.write() as conn:
            conn.execute(box.outbox.update().values(next_attempt_at=datetime.now(UTC)))
        report = deliver_once(store, settings, post=flaky)
        assert (report.delivered, report.failed_attempts) == (2, 1)
        [k0] = [m for m in box.messages(store) if m.message_key == "k0"]
        assert k0.attempts == 2 and "ValueError: a bug in a transport" in (k0.last_error or "")


def test_a_batch_that_outlives_its_lease_posts_each_message_once(tmp_path):
    """Worker A claims three messages for 60 s and each post takes 40 s (slow receivers). At
    80 s, while A posts the second, worker B claims what looks abandoned. Each message must
    be posted once, and no attempt counted by a worker whose claim had passed on."""
    from datetime import timedelta

    from cxloop.programs.triggers.worker import deliver_once

    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # noon: no quiet hours
    clock = {"now": start}
    posts: Counter[str] = Counter()
    settings = TriggersSettings(webhooks=("default http://127.0.0.1:9/hook",))

    with ProgramStore.open(tmp_path) as store:
        with store.write() as conn:
            box.enqueue(
                conn,
                [
                    {"message_key": f"m{i}", "webhook": "default", "topic": "t", "payload": {}}
                    for i in (1, 2, 3)
                ],
                now=start,
            )

        def worker_b(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
            posts[headers["Idempotency-Key"]] += 1
            return 200

        def worker_a(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
            posts[headers["Idempotency-Key"]] += 1
            clock["now"] += timedelta(seconds=40)
            if headers["Idempotency-Key"] == "m2":  # meanwhile, another worker
                deliver_once(store, settings, clock=lambda: clock["now"], post=worker_b)
            return 200

        report = deliver_once(
            store, settings, batch=3, lease_seconds=60, clock=lambda: clock["now"], post=worker_a
        )
        assert posts == {"m1": 1, "m2": 1, "m3": 1}
        assert report.delivered == 2 and report.lost_claims == 1  # m3 went to worker B
        delivered = box.messages(store, status="delivered")
        assert len(delivered) == 3 and all(m.attempts == 1 for m in delivered)


def test_quiet_hours_hold_retries_dead_letters_queued_at_night_and_a_late_worker(tmp_path):
    """Quiet hours 21:00-08:00 in the message's zone (Paris: UTC+1 in March): a message due
    during the window is not posted, whether it is a retry after backoff, a dead letter an
    operator queued again at night, or a message a worker down since the afternoon finds."""
    from datetime import timedelta

    from cxloop.programs.triggers.worker import deliver_once

    settings = TriggersSettings(
        webhooks=("default http://127.0.0.1:9/hook",),
        backoff_seconds=3600,
        backoff_max_seconds=3600,
    )
    afternoon = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 16:00 in Paris
    night = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)  # 23:30 in Paris
    morning = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 08:00 in Paris: the window's end
    posted: list[str] = []

    def post(status: int):
        def answer(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
            posted.append(headers["Idempotency-Key"])
            return status

        return answer

    with ProgramStore.open(tmp_path) as store:
        with store.write() as conn:
            box.enqueue(
                conn,
                [
                    {
                        "message_key": key,
                        "webhook": "default",
                        "topic": "t",
                        "payload": {},
                        "zone": "Europe/Paris",
                    }
                    for key in ("late_worker", "retried", "dead")
                ],
                now=afternoon,
            )
        with store.write() as conn:  # two were tried in the afternoon (only those two due)
            conn.execute(
                box.outbox.update()
                .where(box.outbox.c.message_key == "late_worker")
                .values(next_attempt_at=afternoon + timedelta(hours=1))
            )
        deliver_once(store, settings, clock=lambda: afternoon, post=post(503))
        assert sorted(posted) == ["dead", "retried"]
        with store.write() as conn:  # as if its attempts had run out
            conn.execute(
                box.outbox.update().where(box.outbox.c.message_key == "dead").values(status="dead")
            )
        [dead] = box.messages(store, status="dead")
        box.retry_dead(store, now=night, ids=[dead.id])  # an operator, at night
        with store.write() as conn:  # the retry's backoff ends in the night
            conn.execute(
                box.outbox.update()
                .where(box.outbox.c.message_key == "retried")
                .values(next_attempt_at=night - timedelta(minutes=5))
            )
        posted.clear()
        report = deliver_once(store, settings, clock=lambda: night, post=post(200))
        assert posted == [] and report.delivered == 0
        due = {m.message_key: m.next_attempt_at for m in box.messages(store)}
        assert due == dict.fromkeys(("late_worker", "retried", "dead"), morning)
        report = deliver_once(store, settings, clock=lambda: morning, post=post(200))
        assert sorted(posted) == ["dead", "late_worker", "retried"] and report.delivered == 3
