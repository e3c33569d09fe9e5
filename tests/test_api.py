"""The REST API against a real server (uvicorn on a local port) with httpx.

Covers: the role matrix, ingest (one record, arrays, JSON Lines, rejects, idempotency, data
visible to analyses at once), the same documents as the CLI, caching by data version,
concurrent writers and readers, body and rate limits, and logs without personal data.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import cxloop
from cxloop.generate import generate
from tests.conftest import run_cli
from tests.servers import running_server

FRESH = {"cache-control": "no-cache"}  # figures on everything accepted so far
EVENT = {
    "anonymous_id": "api-test-visitor",
    "occurred_at": "2026-03-01T10:00:00Z",
    "touchpoint": "search",
    "channel": "web",
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("api")
    data = generate(base / "data", people=600, seed=11)
    with cxloop.Workspace.init(base / "ws", brand="Northwind", competitors=("Contoso",)) as ws:
        ws.ingest(sorted(data.files.values()))
        ws.profiles.build()
        emails = "SELECT {} FROM customers WHERE email IS NOT NULL AND email LIKE '%@%'"
        first = ws.engine.scalar(emails.format("min(email)"))
        last = ws.engine.scalar(emails.format("max(email)"))
    return base / "ws", first, last  # the last one is erased by a test


@pytest.fixture(scope="module")
def cli_scorecard(workspace):
    """The CLI's document, taken before the server holds the workspace."""
    result = run_cli("scorecard", str(workspace[0]), "--period", "quarter", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def server(workspace, cli_scorecard):
    with running_server(workspace[0]) as srv:
        yield srv


def client(server, role: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {getattr(server, role)}"} if role else {}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=120)


def test_health_needs_no_key(server):
    with client(server) as c:
        assert c.get("/v1/health").json() == {"status": "ok"}
        assert c.get("/v1/ready").status_code == 200


ROUTES = {  # one route per permission group, and the roles it admits
    "read": (("GET", "/v1/meta"), {"admin", "analyst"}),
    "ingest": (("POST", "/v1/events"), {"admin", "ingest"}),
    "admin": (("GET", "/v1/profiles/nobody@example.invalid/export"), {"admin"}),
}


@pytest.mark.parametrize("group", list(ROUTES))
@pytest.mark.parametrize("role", ["admin", "analyst", "ingest", "operator", None])
def test_role_matrix(server, group, role):
    (method, path), allowed = ROUTES[group]
    with client(server, role) as c:
        response = c.request(method, path, json=[] if method == "POST" else None)
    if role is None:
        assert response.status_code == 401
        assert response.headers["www-authenticate"].lower().startswith("bearer")
    elif role in allowed:
        assert response.status_code in {200, 404}, response.text  # 404: nobody to export
    else:
        assert response.status_code == 403
        assert "role" in response.json()["detail"]


def test_a_wrong_key_is_401(server):
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": "cxl_nope"}) as c:
        assert c.get("/v1/meta").status_code == 401


def test_whoami_answers_every_role(server):
    for role in ("admin", "analyst", "ingest", "operator"):
        with client(server, role) as c:
            assert c.get("/v1/whoami").json()["role"] == role


def test_the_api_serves_the_cli_document(server, cli_scorecard):
    with client(server, "analyst") as c:
        response = c.get("/v1/scorecard", params={"period": "quarter"})
    assert response.status_code == 200
    # Equal up to the last bits of floats: the engine sums in parallel, in varying order,
    # so even two CLI runs differ at 1e-15.
    assert response.json() == _approx(cli_scorecard)


def _approx(document):
    if isinstance(document, dict):
        return {k: _approx(v) for k, v in document.items()}
    if isinstance(document, list):
        return [_approx(v) for v in document]
    if isinstance(document, float):
        return pytest.approx(document, rel=1e-9, abs=1e-12)
    return document


def test_ingest_one_record_a_batch_and_json_lines(server):
    with client(server, "ingest") as c:
        one = c.post("/v1/events", json={**EVENT, "event_id": "API-1"})
        assert one.status_code == 200, one.text
        assert one.json() | {"data_version": 0} == {
            "kind": "events",
            "received": 1,
            "accepted": 1,
            "rejected": 0,
            "rejects": [],
            "stored": "journal",  # surely valid: synced to the journal, loaded moments later
            "data_version": 0,
        }
        batch = c.post(
            "/v1/events",
            json=[
                {**EVENT, "event_id": "API-2"},
                {**EVENT, "event_id": "API-3", "occurred_at": "yesterday"},
                {**EVENT, "event_id": "API-4"},
                "not a record",
            ],
        ).json()
        assert (batch["received"], batch["accepted"], batch["rejected"]) == (4, 2, 2)
        assert batch["stored"] == "warehouse"  # judged by the loader, rejects and all
        by_index = {r["index"]: r for r in batch["rejects"]}
        assert set(by_index) == {1, 3}
        assert by_index[1]["column"] == "occurred_at"
        assert "yesterday" in by_index[1]["reason"]
        assert by_index[1]["record"]["event_id"] == "API-3"
        lines = "\n".join(json.dumps({**EVENT, "event_id": f"API-L{i}"}) for i in range(3))
        jsonl = c.post(
            "/v1/events",
            content=lines + "\n{broken\n",
            headers={"content-type": "application/x-ndjson"},
        ).json()
        assert (jsonl["accepted"], jsonl["rejected"]) == (3, 1)
        assert jsonl["rejects"][0]["index"] == 3


def test_every_record_rejected_is_422_with_reasons(server):
    with client(server, "ingest") as c:
        response = c.post("/v1/orders", json={"order_id": "X", "ordered_at": "soon"})
        assert response.status_code == 422
        assert "lack" in response.json()["detail"] or response.json()["rejected"] == 1
        assert "inbox" not in response.text  # no internal file names
        assert c.post("/v1/events", content=b"{nope").status_code == 400


def test_ingest_is_idempotent_and_visible_to_analyses(server):
    with client(server, "analyst") as reader, client(server, "ingest") as writer:
        before = reader.get("/v1/meta", headers=FRESH).json()
        first = reader.get("/v1/scorecard", params={"period": "year"})
        etag = first.headers["etag"]
        assert (
            reader.get(
                "/v1/scorecard", params={"period": "year"}, headers={"if-none-match": etag}
            ).status_code
            == 304
        )
        answers = [
            {
                "response_id": f"API-F{i}",
                "email": f"api-nps-{i}@example.com",
                "submitted_at": "2026-03-02T09:00:00Z",
                "metric": "nps",
                "score": 0,
            }
            for i in range(40)
        ]
        assert writer.post("/v1/feedback", json=answers).json()["accepted"] == 40
        again = writer.post("/v1/feedback", json=answers).json()
        assert again["accepted"] == 40  # accepted as duplicates: nothing stored twice
        after = reader.get("/v1/meta", headers=FRESH).json()
        assert after["counts"]["feedback"] == before["counts"]["feedback"] + 40
        # Within the staleness window the cached figures may be served, saying how old...
        cached = reader.get("/v1/scorecard", params={"period": "year"})
        assert cached.headers["etag"] == etag and int(cached.headers["age"]) >= 0
        # ...and `no-cache` asks for figures on the current data.
        second = reader.get(
            "/v1/scorecard", params={"period": "year"}, headers={"cache-control": "no-cache"}
        )
        assert second.headers["etag"] != etag
        assert second.headers["x-data-version"] == str(after["data_version"])
        assert second.json() != first.json()


def test_profile_lookup_and_unknown_profile(server, workspace):
    email = workspace[1]
    with client(server, "analyst") as c:
        found = c.get(f"/v1/profiles/{email}")
        assert found.status_code == 200
        assert any(r["email"] == email for r in found.json()["records"])
        assert c.get("/v1/profiles/nobody@example.invalid").status_code == 404
        assert c.get("/v1/profiles").json()["profiles"] > 0


def test_bad_options_are_400_or_422_never_500(server):
    with client(server, "analyst") as c:
        assert c.get("/v1/scorecard", params={"by": "planet"}).status_code == 400
        assert c.get("/v1/scorecard", params={"since": "last year"}).status_code == 400
        assert c.get("/v1/moments", params={"window_days": "-3"}).status_code == 422
        assert c.get("/v1/clv", params={"model": "crystal_ball"}).status_code == 400


def test_concurrent_writers_and_readers_lose_nothing(server):
    def write(worker: int) -> int:
        with client(server, "ingest") as c:
            accepted = 0
            for i in range(15):
                body = {**EVENT, "event_id": f"API-C{worker}-{i}"}
                accepted += c.post("/v1/events", json=body).json()["accepted"]
            return accepted

    def read(_: int) -> int:
        with client(server, "analyst") as c:
            return sum(c.get("/v1/segments").status_code == 200 for _ in range(3))

    with client(server, "analyst") as c:
        before = c.get("/v1/meta", headers=FRESH).json()["counts"]["events"]
    with ThreadPoolExecutor(max_workers=10) as pool:
        writes = list(pool.map(write, range(8)))
        reads = list(pool.map(read, range(2)))
    assert writes == [15] * 8
    assert reads == [3, 3]
    with client(server, "analyst") as c:
        assert c.get("/v1/meta", headers=FRESH).json()["counts"]["events"] == before + 120


def test_access_log_holds_no_personal_data(server, workspace):
    email = workspace[1]
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("cxloop.access")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        with client(server, "analyst") as c:
            c.get(f"/v1/profiles/{email}")
        # The server logs the request once its answer is sent: the client may be first.
        deadline = time.monotonic() + 10
        while not any("/v1/profiles/{key}" in r for r in records) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        logger.setLevel(old)
        logger.removeHandler(handler)
    assert any("/v1/profiles/{key}" in r for r in records)
    assert not any(email in r for r in records)


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("limited") / "ws"
    cxloop.Workspace.init(path).close()
    config = path / "cxloop.toml"
    text = config.read_text().replace("rate_burst = 200", "rate_burst = 3")
    text = text.replace("rate_limit_per_minute = 6000", "rate_limit_per_minute = 1")
    text = text.replace("max_body_mb = 32.0", "max_body_mb = 0.01")
    config.write_text(text.replace("max_batch_records = 100000", "max_batch_records = 5"))
    with running_server(path) as srv:
        yield srv


def test_body_and_batch_limits(limited_server):
    with client(limited_server, "ingest") as c:
        big = c.post("/v1/events", content=b"[" + b" " * 20_000 + b"]")
        assert big.status_code == 413
        many = c.post("/v1/events", json=[{**EVENT, "event_id": f"L{i}"} for i in range(6)])
        assert many.status_code == 413
        assert "limit" in many.json()["detail"]


def test_rate_limit_per_key(limited_server):
    with client(limited_server, "analyst") as c:
        codes = [c.get("/v1/whoami").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200]
        assert codes[-1] == 429
        assert int(c.get("/v1/whoami").headers["retry-after"]) >= 1
    with client(limited_server, "admin") as other:  # another key has its own budget
        assert other.get("/v1/whoami").status_code == 200


def test_the_served_workspace_is_busy_for_other_processes(server, workspace, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({**EVENT, "event_id": "CLI-1"}) + "\n")
    result = run_cli("ingest", str(workspace[0]), str(events), "--wait", "0.5")
    assert result.returncode == 75, result.stderr
    assert "busy" in result.stderr


def test_openapi_documents_every_kind_and_analysis(server):
    with client(server) as c:
        spec = c.get("/openapi.json").json()
    paths = set(spec["paths"])
    for kind in ("customers", "events", "orders", "feedback", "mentions", "referrals"):
        assert f"/v1/{kind}" in paths
    for name in ("scorecard", "journey", "moments", "clv", "segments", "personas", "voc"):
        assert f"/v1/{name}" in paths
    assert {"/v1/profiles/{key}", "/v1/profiles/{key}/export"} <= paths


def test_export_and_erase_a_person_through_the_api(server, workspace):
    email, other = workspace[2], workspace[1]
    with client(server, "admin") as admin, client(server, "analyst") as analyst:
        exported = admin.get(f"/v1/profiles/{email}/export")
        assert exported.status_code == 200, exported.text
        document = exported.json()
        assert any(r["email"] == email for r in document["customers"])
        assert analyst.delete(f"/v1/profiles/{email}").status_code == 403
        version = admin.get("/v1/meta", headers=FRESH).json()["data_version"]
        erased = admin.delete(f"/v1/profiles/{email}")
        assert erased.status_code == 200, erased.text
        audit = erased.json()
        assert email not in erased.text  # the audit record names no one
        assert audit["data_version"] > version
        assert analyst.get(f"/v1/profiles/{email}").status_code == 404
        assert admin.get(f"/v1/profiles/{email}/export").status_code == 404
        assert admin.delete(f"/v1/profiles/{email}").status_code == 404
        assert analyst.get(f"/v1/profiles/{other}").status_code == 200  # nobody else


def test_journaled_records_are_durable_and_loaded(tmp_path):
    """Accepted on the fast path = on disk before the answer; loaded later, or on demand,
    and after a crash at the next start."""
    path = tmp_path / "ws"
    cxloop.Workspace.init(path).close()
    config = path / "cxloop.toml"
    config.write_text(
        config.read_text().replace("journal_flush_ms = 250.0", "journal_flush_ms = 60000.0")
    )
    with running_server(path) as srv, client(srv, "ingest") as c, client(srv, "admin") as a:
        answer = c.post("/v1/events", json={**EVENT, "event_id": "J-1"}).json()
        assert answer["stored"] == "journal"
        segments = list((path / "journal").glob("*.events.jsonl"))
        assert len(segments) == 1 and "J-1" in segments[0].read_text()
        assert a.get("/v1/meta").json()["counts"]["events"] == 0  # not loaded yet
        assert a.get("/v1/meta", headers=FRESH).json()["counts"]["events"] == 1
        assert not list((path / "journal").glob("*.jsonl"))  # loaded, then removed
    # A segment left by a crash is loaded before the next server is ready.
    left = path / "journal" / "20260101T000000-000000001.events.jsonl"
    left.write_text(json.dumps({**EVENT, "event_id": "J-2"}) + "\n")
    with running_server(path) as srv, client(srv, "admin") as a:
        assert a.get("/v1/meta").json()["counts"]["events"] == 2
        assert not left.exists()
