"""`cxloop worker WS`: deliver the outbox to the configured webhooks.

Each message is POSTed as JSON `{"message_key", "topic", "created_at", "payload"}` with the
header `Idempotency-Key: <message_key>`; any 2xx answer delivers it. Anything else (another
status, a refused connection, a timeout, an answer that is not HTTP, any other error of the
post) is a failed attempt of that message only, retried with exponential backoff until
`[triggers] max_attempts`, then the message is dead (docs/triggers.md#delivery). One bad
receiver therefore never stops the worker nor holds up the other messages.

Delivery is at least once: the worker claims a batch for a lease, renews each message's lease
just before posting it (a batch of slow receivers may outlive the first lease), then marks it
delivered. A message whose claim another worker took meanwhile is left to that worker (neither
posted nor marked here). A worker killed between a post and its mark leaves the claim to
expire and the message is posted again, with the same key, so a receiver that keeps the keys
it has seen handles every message exactly once. Quiet hours are applied at each claim
(programs/outbox.py). The standard library's HTTP client is used on purpose: the
worker needs nothing a plain POST does not.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cxloop.loop_settings import TriggersSettings
from cxloop.programs.outbox import Message, claim, mark_delivered, mark_failed, renew
from cxloop.programs.store import ProgramStore

log = logging.getLogger(__name__)

Post = Callable[[str, bytes, dict[str, str], float], int]


@dataclass
class WorkerReport:
    """What one worker run did."""

    delivered: int = 0
    failed_attempts: int = 0
    dead: int = 0
    batches: int = 0
    # Messages whose claim had passed to another worker before this one got to them.
    lost_claims: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST and return the status code (an HTTP error status is returned, not raised)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def deliver_once(
    store: ProgramStore,
    settings: TriggersSettings,
    *,
    batch: int = 50,
    lease_seconds: float = 60.0,
    clock: Callable[[], datetime] | None = None,
    post: Post = http_post,
    report: WorkerReport | None = None,
) -> WorkerReport:
    """Claim and post one batch of due messages."""
    now_fn = clock or (lambda: datetime.now(UTC))
    report = report or WorkerReport()
    hooks = settings.endpoints
    claimed = claim(
        store,
        now=now_fn(),
        limit=batch,
        lease_seconds=lease_seconds,
        quiet=settings.quiet_window,
    )
    if claimed:
        report.batches += 1
    for message in claimed:
        # Posts are sequential and each may take up to the timeout: the batch's first lease
        # may have run out. Renew this message's claim (or learn it is another worker's).
        if not renew(store, message, now=now_fn(), lease_seconds=lease_seconds):
            report.lost_claims += 1
            continue
        error = _post(message, hooks, settings, post)
        if error is None:
            if mark_delivered(store, message, now=now_fn()):
                report.delivered += 1
            else:
                report.lost_claims += 1
            continue
        status = mark_failed(
            store,
            message,
            error,
            now=now_fn(),
            max_attempts=settings.max_attempts,
            backoff_seconds=settings.backoff_seconds,
            backoff_max_seconds=settings.backoff_max_seconds,
        )
        if status == "lost":
            report.lost_claims += 1
            continue
        report.failed_attempts += 1
        if status == "dead":
            report.dead += 1
            log.warning("outbox message %s is dead after %s", message.message_key, error)
    return report


def run(
    store: ProgramStore,
    settings: TriggersSettings,
    *,
    once: bool = False,
    poll_seconds: float = 1.0,
    batch: int = 50,
    lease_seconds: float = 60.0,
    max_seconds: float | None = None,
    post: Post = http_post,
    on_batch: Callable[[WorkerReport], None] | None = None,
) -> WorkerReport:
    """Deliver until stopped (Ctrl-C), or with `once` until nothing is due now."""
    report = WorkerReport()
    started = time.monotonic()
    while True:
        before = report.batches
        deliver_once(
            store, settings, batch=batch, lease_seconds=lease_seconds, post=post, report=report
        )
        if on_batch is not None and report.batches != before:
            on_batch(report)
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            return report
        if report.batches == before:  # nothing was due
            if once:
                return report
            time.sleep(poll_seconds)


def _post(
    message: Message, hooks: dict[str, Any], settings: TriggersSettings, post: Post
) -> str | None:
    """None when delivered, else why not."""
    hook = hooks.get(message.webhook)
    if hook is None:
        return f"no webhook named {message.webhook!r} in [triggers] webhooks"
    body = json.dumps(
        {
            "message_key": message.message_key,
            "topic": message.topic,
            "created_at": message.created_at.isoformat(),
            "payload": message.payload,
        },
        sort_keys=True,
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": message.message_key,
        "User-Agent": "cxloop-worker",
    }
    try:
        status = post(hook.url, body, headers, settings.http_timeout_seconds)
    except Exception as exc:  # any failure of one post is a failed attempt
        # OSError/URLError, but also http.client's BadStatusLine, IncompleteRead,
        # LineTooLong and a ValueError of a malformed answer: escaping here would crash the
        # worker before mark_failed, and the same message would crash it again after the
        # lease, stalling every webhook.
        return f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= status < 300:
        return None
    return f"HTTP {status}"
