"""The service under faults: errors logged without data, a writer that survives its
work's errors, journal segments that will not load, cached figures after an erasure."""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest

import cxloop
from cxloop import analyses
from cxloop.service.writer import IngestRequest, WriteQueue
from tests.servers import running_server

EVENT = {
    "event_id": "R-1",
    "anonymous_id": "robust-visitor",
    "occurred_at": "2026-03-01T10:00:00Z",
    "touchpoint": "search",
}


@pytest.fixture
def empty_ws(tmp_path):
    cxloop.Workspace.init(tmp_path / "ws").close()
    return tmp_path / "ws"


def test_an_internal_error_is_a_500_whose_log_holds_no_data(empty_ws, monkeypatch):
    who = "alice" + "@example.com"  # data in a value, as in real errors (not in the source)

    def broken(ws, **options):
        raise ValueError(f"customer {who} has no orders")

    monkeypatch.setattr(analyses, "segments", broken)
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(  # type: ignore[method-assign]
        record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with running_server(empty_ws) as srv:
            headers = {"Authorization": f"Bearer {srv.analyst}"}
            response = httpx.get(f"{srv.base_url}/v1/segments", headers=headers, timeout=60)
    finally:
        root.removeHandler(handler)
    assert response.status_code == 500
    assert "internal error" in response.json()["detail"]
    assert "alice" not in response.text
    assert any("ValueError" in m for m in messages)
    assert not any("alice@example.com" in m for m in messages)


def test_the_writer_survives_the_errors_of_its_work(empty_ws):
    with cxloop.Workspace.open(empty_ws) as ws:
        writer = WriteQueue(ws, threading.RLock())
        try:
            with pytest.raises(ZeroDivisionError):
                writer.call(lambda: 1 / 0)
            assert writer.call(lambda: 42) == 42
            result = writer.submit_ingest(
                IngestRequest("events", (json.dumps(EVENT) + "\n").encode(), 1)
            )
            assert result.accepted == 1
            assert writer.alive
        finally:
            writer.close()


def test_a_segment_that_fails_to_load_stays_and_is_retried(empty_ws, monkeypatch):
    import cxloop.service.writer as writer_module

    monkeypatch.setattr(writer_module, "RETRY_S", 0.05)
    with cxloop.Workspace.open(empty_ws) as ws:
        real_ingest = ws.ingest
        failures = [2]

        def flaky(paths, kind=None, progress=None):
            if failures[0]:
                failures[0] -= 1
                raise OSError("disk full")
            return real_ingest(paths, kind=kind, progress=progress)

        ws.ingest = flaky  # type: ignore[method-assign]
        writer = WriteQueue(ws, threading.RLock(), journal_flush_ms=10_000)
        try:
            writer.submit_fast(IngestRequest("events", (json.dumps(EVENT) + "\n").encode(), 1))
            segment = next((empty_ws / "journal").glob("*.jsonl"))
            with pytest.raises(writer_module.WriterUnavailable):
                writer.flush()  # the first load fails: the flush says so
            assert segment.exists() and writer.trouble is not None and not writer.alive
            with pytest.raises(writer_module.WriterUnavailable):
                writer.flush()
            writer.flush()  # the disk has room again
            assert not segment.exists() and writer.trouble is None
            assert ws.count("events") == 1
        finally:
            writer.close()


def test_a_segment_the_loader_refuses_is_set_aside_not_lost(empty_ws):
    journal = empty_ws / "journal"
    journal.mkdir()
    odd = journal / "00000000000000000001-000000001.nonsense.jsonl"
    odd.write_text(json.dumps(EVENT) + "\n")
    with running_server(empty_ws) as srv:
        ready = httpx.get(f"{srv.base_url}/v1/ready", timeout=30).json()
    assert ready["journal_segments_set_aside"] == "1"
    assert (journal / "failed" / odd.name).exists()


def test_no_figure_from_before_an_erasure_is_served_after_it(tmp_path):
    from cxloop.generate import generate

    data = generate(tmp_path / "data", people=300, seed=8)
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        ws.ingest(sorted(data.files.values()))
        email = ws.engine.scalar("SELECT min(email) FROM customers WHERE email LIKE '%@%'")
    with running_server(tmp_path / "ws") as srv:
        admin = httpx.Client(
            base_url=srv.base_url, headers={"Authorization": f"Bearer {srv.admin}"}, timeout=120
        )
        before = admin.get("/v1/profiles")
        assert admin.delete(f"/v1/profiles/{email}").status_code == 200
        after = admin.get("/v1/profiles")  # within max_staleness_s, yet recomputed
        assert after.headers["x-data-version"] != before.headers["x-data-version"]
        assert after.json()["source_records"] < before.json()["source_records"]
