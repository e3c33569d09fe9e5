"""API keys for the REST service, kept in `WS/access.sqlite`.

Why a separate SQLite file rather than a table in the DuckDB warehouse: the running server
holds the workspace lock (one process per warehouse), yet an operator must be able to create
or revoke a key *while it runs*, and a revocation must bite on the very next request without
a restart. SQLite in WAL mode gives exactly that: many readers, one short writer, across
processes, with a busy timeout instead of a lock error. `verify` reads the file on every
call (a primary-key lookup, a few microseconds), so nothing is cached that could outlive a
revocation.

A secret looks like ``cxl_<key_id>_<43 url-safe base64 characters>``: the key id is a public
handle (it appears in `cxloop keys list` and in logs), the tail carries 256 random bits.
Only the SHA-256 of the whole secret is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cxloop.config import CONFIG_FILE
from cxloop.errors import CxloopError, WorkspaceError

ACCESS_FILE = "access.sqlite"
ROLES: tuple[str, ...] = ("admin", "analyst", "ingest", "operator")
SECRET_PREFIX = "cxl"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0
# last_used_at is a hint for operators ("is this key still in use?"), not an audit log:
# one write per key per minute keeps the request path read-only almost always.
TOUCH_INTERVAL_S = 60.0

_SECRET_RE = re.compile(r"cxl_(?P<key_id>[0-9a-f]{8})_[A-Za-z0-9_-]{43}")
_MAX_SECRET_LEN = 64  # refuse long garbage before running the pattern on it
_KEY_ID_TRIES = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id        TEXT PRIMARY KEY,
    secret_sha256 BLOB NOT NULL,
    role          TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    revoked_at    TEXT,
    last_used_at  TEXT
)
"""
_COLUMNS = "key_id, role, name, created_at, revoked_at, last_used_at"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never the secret, never its hash."""

    key_id: str
    role: str
    name: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its secret. The secret exists only here: it is shown once, then lost."""

    info: KeyInfo
    secret: str


def check_workspace_folder(path: Path) -> None:
    """Refuse a folder that is not a workspace, in the words `Workspace.open` uses.

    The key commands must not open the warehouse (the server may hold its lock), so they
    check the folder themselves instead of going through `Workspace.open`.
    """
    if not path.exists():
        raise WorkspaceError(f"{path}: no such workspace (create one with `cxloop init`)")
    if not (path / CONFIG_FILE).is_file():
        raise WorkspaceError(
            f"{path}: not a cxloop workspace (no {CONFIG_FILE}; create one with "
            f"`cxloop init {path}`)"
        )


def check_role(role: str) -> str:
    """The role itself, or a one-line error that lists the valid ones."""
    if role not in ROLES:
        raise CxloopError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
    return role


def hash_secret(secret: str) -> bytes:
    """SHA-256 of the secret.

    A plain fast hash is the right tool here, unlike for passwords: the secret carries 256
    random bits, so there is no dictionary to try and brute force is out of reach whatever
    the hash speed. A slow KDF (bcrypt, scrypt, argon2) would add nothing against that and
    would cost tens of milliseconds on *every* request, since every request is verified.
    """
    return hashlib.sha256(secret.encode("utf-8")).digest()


def parse_key_id(secret: str) -> str | None:
    """The key id inside a well-formed secret, or None for anything else."""
    if len(secret) > _MAX_SECRET_LEN:
        return None
    match = _SECRET_RE.fullmatch(secret)
    return match["key_id"] if match else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _info(row: sqlite3.Row) -> KeyInfo:
    return KeyInfo(
        key_id=row["key_id"],
        role=row["role"],
        name=row["name"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


class KeyStore:
    """The API keys of one workspace.

    Safe to share between threads: each thread gets its own SQLite connection (a reused
    connection makes `verify` about 20x cheaper than opening one per call; both stay well
    under a millisecond). Several processes may use the same file at once.
    """

    def __init__(
        self,
        workspace_path: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        workspace_path = Path(workspace_path)
        check_workspace_folder(workspace_path)
        self.path = workspace_path / ACCESS_FILE
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._touched: dict[str, float] = {}  # key_id -> clock() of the last last_used write
        self._create_file()
        with self._write() as db:
            db.execute(_SCHEMA)
            # PRAGMA takes no bound parameters; the value is a module constant, not input.
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    # -- the public API ---------------------------------------------------------------------
    def create(self, role: str, name: str = "") -> CreatedKey:
        """A new key for `role`; its secret is returned once and never stored."""
        check_role(role)
        for _ in range(_KEY_ID_TRIES):  # 32-bit ids: a clash is rare, but possible
            key_id = secrets.token_hex(4)
            secret = f"{SECRET_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
            created_at = _now()
            try:
                with self._write() as db:
                    db.execute(
                        "INSERT INTO api_keys (key_id, secret_sha256, role, name, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (key_id, hash_secret(secret), role, name, created_at),
                    )
            except sqlite3.IntegrityError:
                continue
            info = KeyInfo(key_id, role, name, created_at, None, None)
            return CreatedKey(info=info, secret=secret)
        raise CxloopError("could not find a free key id; try again")  # pragma: no cover

    def list(self) -> list[KeyInfo]:
        """Every key, oldest first; revoked ones stay listed with their revocation time."""
        rows = self._db().execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, key_id")
        return [_info(row) for row in rows]

    def get(self, key_id: str) -> KeyInfo | None:
        row = (
            self._db()
            .execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
            .fetchone()
        )
        return _info(row) if row else None

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key; the server refuses it from its next request. Revoking twice is a no-op
        that keeps the first revocation time."""
        with self._write() as db:
            db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            )
        info = self.get(key_id)
        if info is None:
            raise CxloopError(f"no API key with id {key_id!r} (see `cxloop keys list`)")
        return info

    def verify(self, secret: str) -> KeyInfo | None:
        """The key a secret belongs to, or None when it is unknown, malformed or revoked.

        Looked up by its public key id, then the hashes are compared in constant time, so
        the answer time says nothing about how much of a guessed secret was right.
        """
        key_id = parse_key_id(secret)
        if key_id is None:
            return None
        row = (
            self._db()
            .execute(f"SELECT {_COLUMNS}, secret_sha256 FROM api_keys WHERE key_id = ?", (key_id,))
            .fetchone()
        )
        if row is None or not hmac.compare_digest(row["secret_sha256"], hash_secret(secret)):
            return None
        if row["revoked_at"] is not None:
            return None
        self._touch(key_id)
        return _info(row)

    def close(self) -> None:
        """Close every thread's connection (at server shutdown; not while requests run)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    # -- internals --------------------------------------------------------------------------
    def _touch(self, key_id: str) -> None:
        """Record use at most once a minute per key; a busy file skips the hint, never fails."""
        now = self._clock()
        with self._lock:
            last = self._touched.get(key_id)
            if last is not None and now - last < TOUCH_INTERVAL_S:
                return
            self._touched[key_id] = now
        try:
            with self._write() as db:
                db.execute(
                    "UPDATE api_keys SET last_used_at = ? WHERE key_id = ?", (_now(), key_id)
                )
        except sqlite3.OperationalError as exc:
            log.warning("could not record use of API key %s: %s", key_id, exc)

    def _create_file(self) -> None:
        """Create the file readable by its owner only: it lists who may call the service."""
        if not self.path.exists():
            with suppress(FileExistsError):  # another process created it first
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        db = self._db()
        db.execute("PRAGMA journal_mode = WAL")  # persistent: stored in the file itself

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (autocommit: every read sees the latest commit)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,  # only so that close() may close it from elsewhere
            )
            connection.row_factory = sqlite3.Row
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; IMMEDIATE takes the write lock up front, so a clash
        waits for the busy timeout instead of failing halfway."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
