"""Fixtures for the programs' store: the embedded SQLite file and a real PostgreSQL server.

Every PostgreSQL test gets a fresh database `cxloop_test_<random hex>` on the server named by
`CXLOOP_TEST_POSTGRES` (a libpq connection string to a maintenance database; default the
local server, 127.0.0.1:5432 as user postgres), dropped afterwards. Without a reachable
server the PostgreSQL tests skip with the reason; under CI (`CI=true`) they fail instead,
because a CI run that skipped them would prove nothing about production.

Use in a test module: `from tests.programs_db import program_store  # noqa: F401` and take
`program_store` (parametrised: sqlite, postgresql) or `postgres_url` as an argument.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cxloop.programs.store import ProgramStore

ADMIN_CONNINFO = os.environ.get(
    "CXLOOP_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
STORES = ["sqlite", "postgresql"]


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(ADMIN_CONNINFO, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = (
            f"PostgreSQL is not reachable ({ADMIN_CONNINFO}): {reason}. These tests need a "
            "real server; start one or point CXLOOP_TEST_POSTGRES at one"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: a skipped PostgreSQL test is a failure)")
        pytest.skip(message)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped when the block ends."""
    name = f"cxloop_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        info = psycopg.conninfo.conninfo_to_dict(ADMIN_CONNINFO)
        user = info.get("user", "postgres")
        host = info.get("host", "127.0.0.1")
        port = info.get("port", "5432")
        try:
            yield f"postgresql://{user}@{host}:{port}/{name}"
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with fresh_database() as url:
        yield url


@contextmanager
def open_store(kind: str, workspace: Path, *, pool_size: int = 8) -> Iterator[ProgramStore]:
    """A migrated store of the given kind (`sqlite` in the workspace, or a fresh PostgreSQL
    database), closed (and dropped) when the block ends."""
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database()) if kind == "postgresql" else None
        store = ProgramStore.open(workspace, url, pool_size=pool_size)
        stack.callback(store.close)
        yield store


@pytest.fixture(params=STORES)
def program_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProgramStore]:
    """The programs' store, once embedded and once on PostgreSQL."""
    with open_store(request.param, tmp_path / "ws") as store:
        yield store
