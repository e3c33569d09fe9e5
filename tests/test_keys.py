"""Access control of the REST service: API keys at rest, roles per route, rate limits, CLI."""

from __future__ import annotations

import json
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from filelock import FileLock
from typer.testing import CliRunner

import cxloop
from cxloop.cli.main import app as cli_app
from cxloop.errors import CxloopError, WorkspaceBusyError, WorkspaceError
from cxloop.service.auth import ADMIN, INGEST, OPERATE, READ, Principal, RateLimiter, require
from cxloop.service.keys import ACCESS_FILE, ROLES, KeyStore, parse_key_id
from cxloop.workspace import LOCK_FILE, Workspace
from tests.conftest import run_cli

GROUPS = {"read": READ, "ingest": INGEST, "operate": OPERATE, "admin": ADMIN}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    cxloop.Workspace.init(tmp_path / "ws", brand="Northwind").close()
    return tmp_path / "ws"


@pytest.fixture
def store(workspace: Path):
    keys = KeyStore(workspace)
    yield keys
    keys.close()


# -- the store ------------------------------------------------------------------------------
def test_create_verify_list_round_trip(store: KeyStore):
    created = store.create("analyst", "weekly report job")
    assert created.secret.startswith(f"cxl_{created.info.key_id}_")
    assert len(created.secret) == 4 + 8 + 1 + 43
    assert parse_key_id(created.secret) == created.info.key_id
    verified = store.verify(created.secret)
    assert verified is not None
    assert (verified.key_id, verified.role, verified.name) == (
        created.info.key_id,
        "analyst",
        "weekly report job",
    )
    other = store.create("admin")
    listed = store.list()
    assert {k.key_id for k in listed} == {created.info.key_id, other.info.key_id}
    assert listed == sorted(listed, key=lambda k: (k.created_at, k.key_id))
    assert all(k.revoked_at is None for k in listed)


def test_threads_share_a_store(store: KeyStore):
    """Routes run in a thread pool: each thread gets its own connection, all see revocations."""
    keep, drop = store.create("analyst"), store.create("analyst")
    store.revoke(drop.info.key_id)
    with ThreadPoolExecutor(max_workers=8) as pool:
        kept = list(pool.map(store.verify, [keep.secret] * 400))
        dropped = list(pool.map(store.verify, [drop.secret] * 400))
    assert all(info is not None and info.key_id == keep.info.key_id for info in kept)
    assert dropped == [None] * 400


def test_a_second_store_sees_the_same_keys(workspace: Path, store: KeyStore):
    created = store.create("ingest")
    with_other = KeyStore(workspace)
    try:
        assert with_other.verify(created.secret) is not None
    finally:
        with_other.close()


def test_only_the_hash_is_at_rest(workspace: Path, store: KeyStore):
    secrets = [store.create(role).secret for role in ROLES]
    for secret in secrets:
        assert store.verify(secret) is not None
    store.close()
    stored = b"".join(p.read_bytes() for p in workspace.glob(ACCESS_FILE + "*"))
    assert stored  # the file is there and holds the keys
    for secret in secrets:
        assert secret.encode() not in stored
        assert secret.split("_", 2)[2].encode() not in stored  # not even the random part


def test_the_key_file_is_private(workspace: Path, store: KeyStore):
    mode = stat.S_IMODE((workspace / ACCESS_FILE).stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)


def test_revoke_takes_effect_at_once_and_is_idempotent(workspace: Path, store: KeyStore):
    created = store.create("operator")
    assert store.verify(created.secret) is not None
    cli_side = KeyStore(workspace)  # as `cxloop keys revoke` would, beside a running server
    try:
        first = cli_side.revoke(created.info.key_id)
        again = cli_side.revoke(created.info.key_id)
    finally:
        cli_side.close()
    assert first.revoked_at is not None
    assert again.revoked_at == first.revoked_at
    assert store.verify(created.secret) is None
    assert store.get(created.info.key_id).revoked_at == first.revoked_at  # type: ignore[union-attr]


def test_unknown_role_and_key_id_are_one_line_errors(store: KeyStore):
    with pytest.raises(CxloopError, match="valid roles: admin, analyst, ingest, operator"):
        store.create("root")
    with pytest.raises(CxloopError, match="no API key with id 'deadbeef'"):
        store.revoke("deadbeef")


def test_a_folder_that_is_not_a_workspace_is_refused(tmp_path: Path):
    with pytest.raises(WorkspaceError, match="not a cxloop workspace"):
        KeyStore(tmp_path)
    with pytest.raises(WorkspaceError, match="no such workspace"):
        KeyStore(tmp_path / "nope")
    assert not (tmp_path / ACCESS_FILE).exists()


def _malformed(secret: str) -> list[str]:
    key_id = parse_key_id(secret)
    tail = secret.rsplit("_", 1)[1]
    flipped = ("A" if tail[0] != "A" else "B") + tail[1:]
    return [
        "",
        "cxl_",
        secret[:-1],
        secret + "x",
        secret + "\n",
        " " + secret,
        secret.upper(),
        secret.replace("cxl_", "cxk_"),
        f"cxl_{key_id}_{flipped}",  # right id, wrong secret
        f"cxl_00000000_{tail}",  # unknown id
        f"cxl_{key_id}_{tail[:-1]}é",
        "x" * 10_000,
    ]


def test_malformed_or_wrong_secrets_are_refused(store: KeyStore):
    secret = store.create("admin").secret
    for bad in _malformed(secret):
        assert store.verify(bad) is None, bad
    assert store.verify(secret) is not None


def test_last_used_is_written_at_most_once_a_minute(workspace: Path):
    clock = FakeClock()
    store = KeyStore(workspace, clock=clock)
    try:
        created = store.create("analyst")
        assert store.get(created.info.key_id).last_used_at is None  # type: ignore[union-attr]
        store.verify(created.secret)
        assert store.get(created.info.key_id).last_used_at is not None  # type: ignore[union-attr]
        mark = "2000-01-01T00:00:00+00:00"  # a value the store would never write itself
        store._db().execute("UPDATE api_keys SET last_used_at = ?", (mark,))
        clock.now += 59
        store.verify(created.secret)
        assert store.get(created.info.key_id).last_used_at == mark  # type: ignore[union-attr]
        clock.now += 2
        store.verify(created.secret)
        assert store.get(created.info.key_id).last_used_at != mark  # type: ignore[union-attr]
    finally:
        store.close()


def test_verify_is_fast(store: KeyStore):
    secret = store.create("analyst").secret
    store.verify(secret)  # warm: connection opened, last_used written
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        store.verify(secret)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 1e-3, f"{per_call * 1e6:.0f} µs per verify"


# -- the rate limiter -----------------------------------------------------------------------
def test_rate_limiter_allows_a_burst_then_refills():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)  # one token a second
    assert [limiter.acquire("k1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k1") == pytest.approx(1.0)
    assert limiter.acquire("k2") == 0.0  # buckets are per key
    clock.now += 0.5
    assert limiter.acquire("k1") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("k1") == 0.0
    clock.now += 3600
    assert [limiter.acquire("k1") for _ in range(4)][-1] > 0  # refills up to burst, no more


def test_rate_limiter_refuses_nonsense_settings():
    with pytest.raises(ValueError):
        RateLimiter(per_minute=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(per_minute=10, burst=0)


# -- the FastAPI dependency -----------------------------------------------------------------
def make_app(store: KeyStore | None, limiter: RateLimiter | None = None) -> FastAPI:
    api = FastAPI()
    api.state.keys = store
    api.state.rate_limiter = limiter
    for path, group in GROUPS.items():
        api.add_api_route(
            f"/{path}", whoami, methods=["GET"], dependencies=[Depends(require(group))]
        )
    return api


def whoami(request: Request) -> dict[str, str]:
    """The route body: what the dependency left on the request."""
    principal: Principal = request.state.principal
    return {"key_id": principal.key_id, "role": principal.role}


@pytest.fixture
def client_and_keys(store: KeyStore):
    secrets = {role: store.create(role, f"{role} key").secret for role in ROLES}
    with TestClient(make_app(store)) as client:
        yield client, secrets


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("group", list(GROUPS))
def test_role_by_group_matrix(client_and_keys, role: str, group: str):
    client, secrets = client_and_keys
    response = client.get(f"/{group}", headers={"Authorization": f"Bearer {secrets[role]}"})
    if role in GROUPS[group]:
        assert response.status_code == 200, response.text
        assert response.json()["role"] == role
    else:
        assert response.status_code == 403, response.text
        detail = response.json()["detail"]
        assert all(needed in detail for needed in GROUPS[group]), detail
        assert secrets[role] not in response.text


def test_x_api_key_header_and_lowercase_bearer_work(client_and_keys):
    client, secrets = client_and_keys
    assert client.get("/read", headers={"X-API-Key": secrets["analyst"]}).status_code == 200
    lower = {"Authorization": f"bearer {secrets['analyst']}"}
    assert client.get("/read", headers=lower).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer cxl_00000000_" + "A" * 43},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "not-a-key"},
    ],
    ids=["none", "empty-bearer", "unknown", "basic", "malformed"],
)
def test_missing_or_invalid_key_is_401(client_and_keys, headers: dict[str, str]):
    client, _ = client_and_keys
    response = client.get("/read", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_revoked_key_is_401_on_the_next_request(client_and_keys, workspace: Path):
    client, secrets = client_and_keys
    headers = {"X-API-Key": secrets["admin"]}
    assert client.get("/admin", headers=headers).status_code == 200
    key_id = parse_key_id(secrets["admin"])
    assert key_id is not None
    cli_side = KeyStore(workspace)
    cli_side.revoke(key_id)
    cli_side.close()
    response = client.get("/admin", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_rate_limit_is_429_with_retry_after(store: KeyStore):
    clock = FakeClock()
    secret = store.create("analyst").secret
    other = store.create("analyst").secret
    with TestClient(make_app(store, RateLimiter(per_minute=30, burst=2, clock=clock))) as client:
        headers = {"X-API-Key": secret}
        assert [client.get("/read", headers=headers).status_code for _ in range(2)] == [200, 200]
        limited = client.get("/read", headers=headers)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"  # one token every 2 s
        assert client.get("/read", headers={"X-API-Key": other}).status_code == 200
        clock.now += 2
        assert client.get("/read", headers=headers).status_code == 200


def test_stacked_groups_verify_and_count_once(store: KeyStore):
    """A router-wide group plus a stricter route group: both checked, one token spent."""
    clock = FakeClock()
    api = make_app(store, RateLimiter(per_minute=1, burst=2, clock=clock))
    api.add_api_route(
        "/stacked",
        whoami,
        methods=["GET"],
        dependencies=[Depends(require(READ)), Depends(require(ADMIN))],
    )
    analyst = {"X-API-Key": store.create("analyst").secret}
    admin = {"X-API-Key": store.create("admin").secret}
    with TestClient(api) as client:
        assert client.get("/stacked", headers=analyst).status_code == 403
        assert [client.get("/stacked", headers=admin).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]


def test_no_key_store_fails_closed():
    with TestClient(make_app(None), raise_server_exceptions=False) as client:
        assert client.get("/read", headers={"X-API-Key": "cxl_x"}).status_code == 500


def test_openapi_declares_both_ways_to_send_a_key(store: KeyStore):
    schemes = make_app(store).openapi()["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}


# -- the CLI --------------------------------------------------------------------------------
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(cli_app, ["keys", *args])


def test_cli_create_list_revoke_while_the_workspace_is_locked(workspace: Path):
    lock = FileLock(str(workspace / LOCK_FILE))
    with lock:
        with pytest.raises(WorkspaceBusyError):  # the lock is really held
            Workspace.open(workspace, wait=0)
        created = invoke("create", str(workspace), "--role", "ingest", "--name", "nightly load")
        assert created.exit_code == 0, created.output
        secret = next(line for line in created.stdout.splitlines() if line.startswith("cxl_"))
        assert "will not be shown again" in created.stdout
        key_id = parse_key_id(secret)
        assert key_id is not None

        listed = invoke("list", str(workspace))
        assert listed.exit_code == 0, listed.output
        assert key_id in listed.stdout and "nightly load" in listed.stdout
        assert secret not in listed.stdout

        as_json = invoke("list", str(workspace), "--json")
        rows = json.loads(as_json.stdout)
        assert [(r["key_id"], r["role"], r["revoked_at"]) for r in rows] == [
            (key_id, "ingest", None)
        ]
        assert not any("secret" in field or "hash" in field for field in rows[0])

        revoked = invoke("revoke", str(workspace), key_id)
        assert revoked.exit_code == 0, revoked.output
        assert f"Revoked API key {key_id}" in revoked.stdout
    store = KeyStore(workspace)
    try:
        assert store.verify(secret) is None
    finally:
        store.close()


def test_cli_create_json_puts_only_json_on_stdout(workspace: Path):
    result = invoke("create", str(workspace), "--role", "analyst", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["role"] == "analyst" and parse_key_id(doc["secret"]) == doc["key_id"]
    assert "will not be shown again" in result.stderr


def test_cli_errors_are_user_errors(workspace: Path, tmp_path: Path):
    bad_role = invoke("create", str(workspace), "--role", "root")
    assert isinstance(bad_role.exception, CxloopError)
    assert "valid roles" in str(bad_role.exception)
    unknown = invoke("revoke", str(workspace), "deadbeef")
    assert isinstance(unknown.exception, CxloopError)
    not_ws = invoke("list", str(tmp_path))
    assert isinstance(not_ws.exception, WorkspaceError)
    assert "not a cxloop workspace" in str(not_ws.exception)


def test_cli_in_another_process_revokes_for_a_running_server(workspace: Path):
    """The real situation: the server process holds the lock and its key store; the
    command runs in a second process; the next request is refused."""
    store = KeyStore(workspace)
    try:
        with Workspace.open(workspace), TestClient(make_app(store)) as client:
            created = run_cli("keys", "create", str(workspace), "--role", "admin", "--json")
            assert created.returncode == 0, created.stderr
            doc = json.loads(created.stdout)
            headers = {"Authorization": f"Bearer {doc['secret']}"}
            assert client.get("/admin", headers=headers).status_code == 200
            revoked = run_cli("keys", "revoke", str(workspace), doc["key_id"])
            assert revoked.returncode == 0, revoked.stderr
            assert client.get("/admin", headers=headers).status_code == 401
            bad = run_cli("keys", "create", str(workspace), "--role", "root")
            assert bad.returncode != 0 and "Traceback" not in bad.stderr
            assert "valid roles" in bad.stderr
    finally:
        store.close()
