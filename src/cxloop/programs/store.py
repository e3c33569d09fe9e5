"""The programs' transactional store: one code path over SQLite (embedded) and PostgreSQL.

Why a second database beside the DuckDB warehouse: the warehouse is an analytical copy that
can be rebuilt from files; a points ledger is the record itself. It needs many small
concurrent transactions that never lose a committed write, which is what SQLite in WAL mode
(one writer at a time, `synchronous=FULL`) and PostgreSQL (row locks) give.

Dialect differences live here and nowhere else:

- SQLite: every write transaction starts with `BEGIN IMMEDIATE`, so the write lock is taken
  at the start and two read-modify-write transactions can never interleave (a deferred BEGIN
  would let both read, then one fail to upgrade its lock). Reads use a deferred `BEGIN`,
  which in WAL mode is a consistent snapshot that does not block the writer.
- PostgreSQL: READ COMMITTED, and the ledger locks the member's row (`SELECT ... FOR UPDATE`,
  or an `UPDATE` that takes the lock) before it reads anything it will change; the lock is a
  no-op in SQLite, where the whole database is already locked. Every statement is the same.

`retrying` re-runs a whole transaction after a serialisation failure, a deadlock or a busy
SQLite file, with jittered exponential backoff; callers wrap the function that opens the
transaction, never a statement inside one.

Set-based statements (`one_of`, `insert_rows`, `update_rows`: many rows, one statement)
differ too. On PostgreSQL each takes one parameter (an array for `= ANY(...)`, a JSON
document of rows read back as a table), so its text is the same for one row or sixty-four:
psycopg converts it once and the server keeps it prepared, where a list of placeholders
would be new text, parsed and planned again, for every length. SQLite runs in this process,
so a statement per row costs only a call into its library: an expanding `IN (...)` list
and `executemany` serve there.
"""

from __future__ import annotations

import functools
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import URL, Connection, Engine

from cxloop.programs.errors import ProgramError, RetryTransaction, StoreUnavailable
from cxloop.programs.group_commit import GroupCommit

DATABASE_FILE = "programs.sqlite"
MIGRATIONS = Path(__file__).parent / "migrations"
# Milliseconds a SQLite connection waits for the write lock before it reports "busy".
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant: concurrent `open` calls on PostgreSQL migrate one after the other.
_MIGRATION_LOCK_KEY = 0x6378_6C6F_6F70  # "cxloop"
_READ_OPTION = "cxloop_read"

T = TypeVar("T")


class ProgramStore:
    """The transactional store of the programs: SQLite file WS/programs.sqlite by default
    (embedded, WAL), or PostgreSQL when `[programs] database_url` is set; one code path
    (SQLAlchemy Core); schema by Alembic migrations shipped in the package."""

    def __init__(self, engine: Engine) -> None:
        self.engine: Engine = engine
        # SQLite has one writer at a time: the writers of this process take turns on one
        # connection and share commits (group_commit.py) instead of polling the file lock.
        self._group = GroupCommit(engine) if engine.dialect.name == "sqlite" else None

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(
        cls, workspace_path: Path, database_url: str | None = None, *, pool_size: int = 20
    ) -> ProgramStore:
        """Open the store (embedded file in the workspace unless a URL is given), migrated.

        `pool_size` is the number of connections kept open; as many again may be opened
        under load. Raises `StoreUnavailable` when the database cannot be reached.
        """
        url = _resolve_url(Path(workspace_path), database_url or None)
        engine = _create_engine(url, pool_size)
        store = cls(engine)
        try:
            store.migrate()
        except sa.exc.OperationalError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreUnavailable(
                f"cannot open the programs store {store.display_url}: {reason}"
            ) from None
        except BaseException:
            engine.dispose()
            raise
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest migration shipped with this version of cxloop.

        Runs in one transaction (DDL is transactional on both databases), under a lock, so
        processes that open the store together migrate once and never see half a schema.
        """
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE is the lock
            if self.dialect == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = conn
            # "heads": each program (loyalty, advocacy, cases, ...) keeps its own branch of
            # migrations from a common base, so programs evolve without ordering each other.
            command.upgrade(config, "heads")

    # -- properties -------------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The database URL with any password hidden, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    # -- transactions -----------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: commits when the block ends, rolls back on any exception.

        Isolation comes from the dialect (see the module docstring): SQLite holds the
        database's write lock for the whole block; on PostgreSQL the caller locks the rows it
        changes. Wrap the function holding this block in `retrying`.
        """
        if self._group is not None:
            with self._group.write() as conn:
                yield conn
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot, never blocking writers."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":  # one snapshot for every statement of the block
                conn.execution_options(isolation_level="REPEATABLE READ")
            else:
                conn.execution_options(**{_READ_OPTION: True})
            with conn.begin():
                yield conn

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Close every pooled connection."""
        if self._group is not None:
            self._group.close()
        self.engine.dispose()

    def __enter__(self) -> ProgramStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def retrying(fn: Callable[[], T], attempts: int = 10) -> T:
    """Run `fn` (which opens and commits its own transaction), again after transient failures.

    Transient: a PostgreSQL serialisation failure (40001) or deadlock (40P01), a SQLite
    database that stayed busy or locked, or a `RetryTransaction` signal. Anything else is
    raised at once. Backoff is exponential with full jitter (2 ms doubling, capped at 200 ms)
    so clients that collided do not collide again in step. After `attempts` tries a
    `StoreUnavailable` says so.
    """
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == attempts - 1:
                raise StoreUnavailable(
                    f"the programs store stayed busy after {attempts} attempts; try again"
                ) from exc
            time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
    raise AssertionError("unreachable")  # pragma: no cover


def is_transient(exc: BaseException) -> bool:
    """Whether a failed transaction may succeed when run again unchanged."""
    if isinstance(exc, RetryTransaction):
        return True
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in {"40001", "40P01"}:
        return True
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        busy = code is not None and code & 0xFF in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
        return busy or "database is locked" in str(orig)
    return False


# -- set-based statements (see the module docstring) ---------------------------------------------
@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """Send the statements of the block together, in one round trip, where the driver can.

    Only for statements whose results the block does not read (inserts and updates without
    RETURNING): on PostgreSQL they are queued (psycopg's pipeline mode) and run when the block
    ends, where an error of any of them is raised, as SQLAlchemy would have raised it (an
    `IntegrityError` for a unique key, with the driver's error as `.orig`). A round trip
    costs a wake-up of the client and of the server; a batch of the ledger saves four. On
    SQLite the statements simply run one after the other.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    driver_error = conn.dialect.loaded_dbapi.Error
    raw = conn.connection.dbapi_connection
    assert raw is not None
    try:
        with raw.pipeline():  # type: ignore[attr-defined]
            yield
    except driver_error as exc:
        raise sa.exc.DBAPIError.instance("(pipelined statements)", None, exc, driver_error) from exc


def one_of(column: sa.ColumnElement[Any], name: str, dialect: str) -> sa.ColumnElement[bool]:
    """`column` equals one of the values of a list bound at execution as `name`."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=ARRAY(column.type)))
    return column.in_(sa.bindparam(name, expanding=True))


def insert_rows(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    returning: sa.Column[Any] | None = None,
) -> list[Any]:
    """Insert `rows` (dicts with the same keys) with one statement; with `returning` (a
    generated key), the generated values in the order of `rows`.

    On PostgreSQL the rows are inserted in their order (`ORDER BY` their position), so a
    sequence hands out ascending values in that order: sorting the returned values gives them
    row by row, as SQLAlchemy's own `sort_by_parameter_order` does.
    """
    if not rows:
        return []
    names = tuple(rows[0])
    if conn.dialect.name == "postgresql":
        statement, encode = _pg_insert(conn.dialect, table, names, returning)
        result = conn.execute(statement, {"b_rows": encode(rows)})
        return sorted(result.scalars()) if returning is not None else []
    result = conn.execute(_sqlite_insert(table, returning), list(rows))
    return list(result.scalars()) if returning is not None else []


def update_rows(
    conn: Connection, table: sa.Table, key: str, rows: Sequence[dict[str, Any]]
) -> None:
    """Set columns of many rows, each found by its `key` column, with one statement.

    `rows` are dicts with the same keys: `key` and the columns to set."""
    if not rows:
        return
    names = tuple(rows[0])
    if conn.dialect.name == "postgresql":
        statement, encode = _pg_update(conn.dialect, table, key, names)
        conn.execute(statement, {"b_rows": encode(rows)})
    else:
        statement = _sqlite_update(table, key, names)
        conn.execute(statement, [{f"b_{n}": row[n] for n in names} for row in rows])


# PostgreSQL: the rows travel as one JSON document, a table again on the server
# (`jsonb_to_recordset`): one parameter for the whole statement, serialised by the json
# module in C, where one array per column is dumped value by value in Python.
_POSITION = "row_position_"


def _pg_rows(
    dialect: sa.Dialect, table: sa.Table, names: tuple[str, ...]
) -> tuple[Any, Callable[[Sequence[dict[str, Any]]], str]]:
    columns = [table.c[n] for n in names]
    document = sa.cast(sa.bindparam("b_rows", type_=sa.Text), JSONB)
    rows = (
        sa.func.jsonb_to_recordset(document)
        .table_valued(
            *[sa.column(c.name, c.type) for c in columns], sa.column(_POSITION, sa.Integer)
        )
        .render_derived(name="v", with_types=True)
    )
    # Values pass through their column type as in any statement (e.g. a naive datetime is
    # refused), then become JSON: times as ISO 8601 text, which PostgreSQL reads back exactly.
    convert = {
        c.name: processor
        for c in columns
        if (processor := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        or c.type.python_type is datetime
    }

    def encode(values: Sequence[dict[str, Any]]) -> str:
        out = []
        for position, row in enumerate(values):
            item = {n: row[n] for n in names}
            for name, processor in convert.items():
                value = item[name]
                if processor is not None and value is not None:
                    value = processor(value)
                item[name] = value.isoformat() if isinstance(value, datetime) else value
            item[_POSITION] = position
            out.append(item)
        return json.dumps(out, separators=(",", ":"))

    return rows, encode


@functools.lru_cache(maxsize=64)
def _pg_insert(
    dialect: sa.Dialect, table: sa.Table, names: tuple[str, ...], returning: Any
) -> tuple[Any, Callable[[Sequence[dict[str, Any]]], str]]:
    rows, encode = _pg_rows(dialect, table, names)
    select = sa.select(*[rows.c[n] for n in names]).order_by(rows.c[_POSITION])
    statement = sa.insert(table).from_select(list(names), select)
    return (statement if returning is None else statement.returning(returning)), encode


@functools.lru_cache(maxsize=64)
def _pg_update(
    dialect: sa.Dialect, table: sa.Table, key: str, names: tuple[str, ...]
) -> tuple[Any, Callable[[Sequence[dict[str, Any]]], str]]:
    rows, encode = _pg_rows(dialect, table, names)
    statement = (
        sa.update(table)
        .where(table.c[key] == rows.c[key])
        .values({n: rows.c[n] for n in names if n != key})
    )
    return statement, encode


@functools.lru_cache(maxsize=64)
def _sqlite_insert(table: sa.Table, returning: Any) -> Any:
    if returning is None:
        return sa.insert(table)
    return sa.insert(table).returning(returning, sort_by_parameter_order=True)


@functools.lru_cache(maxsize=64)
def _sqlite_update(table: sa.Table, key: str, names: tuple[str, ...]) -> Any:
    return (
        sa.update(table)
        .where(table.c[key] == sa.bindparam(f"b_{key}"))
        .values({n: sa.bindparam(f"b_{n}") for n in names if n != key})
    )


def _resolve_url(workspace_path: Path, database_url: str | None) -> URL:
    if database_url is None:
        return sa.engine.URL.create("sqlite", database=str(workspace_path / DATABASE_FILE))
    try:
        url = sa.engine.make_url(database_url)
    except sa.exc.ArgumentError:
        raise ProgramError(
            "[programs] database_url is not a database URL "
            "(expected postgresql://user@host:port/database)"
        ) from None
    backend = url.get_backend_name()
    if backend in {"postgresql", "postgres"}:
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        return url.set(drivername="sqlite")
    raise ProgramError(
        f"[programs] database_url: {backend!r} is not supported; use postgresql://... "
        "or leave it empty for the embedded store"
    )


def _create_engine(url: URL, pool_size: int) -> Engine:
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(
            url,
            isolation_level="READ COMMITTED",
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={
                "application_name": "cxloop",
                "connect_timeout": 10,
                "options": "-c plan_cache_mode=force_generic_plan",
            },
        )
    Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module (it would BEGIN deferred, and late).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous = FULL")  # a commit survives power loss
    cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_MS)}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    read_only = conn.get_execution_options().get(_READ_OPTION, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
