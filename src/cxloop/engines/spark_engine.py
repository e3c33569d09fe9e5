"""The Spark engine: the analytics' SQL on Apache Spark, through the DuckDB engine's interface.

Every statement the analytics send is parsed as DuckDB SQL, its bound parameters are written
into the tree as typed literals (SQLGlot builds them: nothing is pasted into SQL text), the
rewrites of `dialects.SPARK` are applied, and SQLGlot writes Spark SQL. Queries return rows
as the DuckDB engine does; the few write statements the analytics use on their own scratch
tables (CREATE TABLE AS, CREATE TABLE, INSERT, DELETE, DROP) become session views over
materialised results, because Spark's views cannot be written to. The warehouse itself is
read-only here: it comes from Parquet folders (`engines/lake.py`).

pyspark is an optional dependency (`pip install 'cxloop[spark]'`): it is imported only when a
Spark engine is made, with an install hint when it is missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from cxloop.engines.dialects import SPARK, Dialect
from cxloop.errors import CxloopError

if TYPE_CHECKING:
    import pyarrow as pa

    from cxloop.config import SparkSettings

Params = Sequence[Any] | dict[str, Any] | None

INSTALL_HINT = (
    "the Spark engine needs pyspark and Java 17: pip install 'cxloop[spark]' "
    "(and a JDK, e.g. apt-get install openjdk-17-jre-headless)"
)


def import_pyspark() -> Any:
    """The `pyspark.sql` module, or a clear error saying how to install it."""
    try:
        import pyspark.sql
    except ImportError as exc:
        raise CxloopError(INSTALL_HINT) from exc
    return pyspark.sql


def spark_session(settings: SparkSettings, *, dialect: Dialect = SPARK) -> Any:
    """A Spark session from the workspace's `[spark]` settings: Spark Connect when `remote`
    is set, else a classic session on `master` (an existing session is reused, as under
    `spark-submit`). The dialect's settings are applied on top: they give DuckDB's meaning."""
    sql = import_pyspark()
    builder = sql.SparkSession.builder.appName(settings.app_name)
    builder = (
        builder.remote(settings.remote) if settings.remote else builder.master(settings.master)
    )
    # cxloop reports progress itself; Spark's console bars would mix into its output.
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    for key, value in settings.conf_pairs().items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM, the cluster or the network refused
        raise CxloopError(f"cannot start Spark ({type(exc).__name__}): {_first_line(exc)}") from exc
    configure(session, dialect)
    return session


def configure(session: Any, dialect: Dialect = SPARK) -> None:
    """Apply the dialect's settings to a session (runtime settings: also on a reused one)."""
    for key, value in dialect.settings.items():
        session.conf.set(key, value)


class SparkResult:
    """A query's result, shaped like the DuckDB cursor the analytics read (`description`,
    `fetchall`, `fetchone`, `fetchnumpy`). Rows come back once, through Arrow, which is far
    faster than Spark's row objects and gives DuckDB's Python values (structs as dicts)."""

    def __init__(self, table: pa.Table | None = None) -> None:
        self._table = table
        names = table.column_names if table is not None else []
        self.description = [(n, None, None, None, None, None, None) for n in names]
        self._rows: list[tuple[Any, ...]] | None = None if table is not None else []
        self._next = 0

    def _all(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            assert self._table is not None
            columns = [c.to_pylist() for c in self._table.columns]
            self._rows = list(zip(*columns, strict=True))
        return self._rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._all()[self._next :]
        self._next += len(rows)
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._all()
        if self._next >= len(rows):
            return None
        self._next += 1
        return rows[self._next - 1]

    def fetchnumpy(self) -> dict[str, Any]:
        """Columns as numpy arrays, masked where NULL (as DuckDB's `fetchnumpy`)."""
        import numpy as np

        table = self._table
        assert table is not None, "fetchnumpy after a statement that returns no rows"
        out: dict[str, Any] = {}
        for name, column in zip(table.column_names, table.columns, strict=True):
            values = column.to_numpy(zero_copy_only=False)
            if column.null_count:
                mask = column.is_null().to_numpy(zero_copy_only=False)
                values = np.ma.masked_array(values, mask=mask)
            out[name] = values
        return out


class SparkEngine:
    """Analytics on a Spark session, with the DuckDB engine's methods.

    `tables` are the session views the engine made (scratch tables of the analyses, and the
    lake's tables registered by `register_parquet`); `close()` drops them, not the session,
    which may be shared (tests, notebooks, spark-submit).
    """

    def __init__(self, session: Any, *, dialect: Dialect = SPARK) -> None:
        self.session = session
        self.dialect = dialect
        self.tables: dict[str, Any] = {}
        configure(session, dialect)

    # -- the lake ---------------------------------------------------------------------------
    def register_parquet(self, name: str, location: str) -> None:
        """Make the Parquet folder (or file) at `location` the table `name`."""
        frame = self.session.read.parquet(location)
        frame.createOrReplaceTempView(name)
        self.tables[name] = frame

    # -- the DuckDB engine's interface ------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> SparkResult:
        """Run DuckDB SQL (one or more statements); the result of the last one."""
        result = SparkResult()
        for statement in self.parse(sql, params):
            with _spark_errors(statement):
                result = self._run(statement)
        return result

    def fetchall(self, sql: str, params: Params = None) -> list:
        return self.execute(sql, params).fetchall()

    def fetchone(self, sql: str, params: Params = None) -> Any:
        return self.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Params = None) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else row[0]

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        (statement,) = self.parse(sql, params)
        with _spark_errors(statement):
            return to_arrow(self._frame(statement))

    def table_exists(self, name: str) -> bool:
        return name in self.tables or bool(self.session.catalog.tableExists(name))

    def columns_of(self, relation: str) -> dict[str, str]:
        frame = self.session.sql(f"SELECT * FROM {relation} LIMIT 0")
        return {f.name: f.dataType.simpleString() for f in frame.schema.fields}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements run one by one: Spark has no multi-statement transactions. The tables
        written here are this session's own views, which no one else reads meanwhile."""
        yield

    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table (computed in Python) the table `name` of this session."""
        frame = from_arrow(self.session, table)
        frame.createOrReplaceTempView(name)
        self.tables[name] = frame

    def unregister(self, name: str) -> None:
        self._drop(name)

    def write(self, sql: str, path: Path, params: Params = None) -> None:
        """Write a query's result to one local CSV (with a header) or Parquet file."""
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = self.arrow(sql, params)
        if path.suffix.lower() == ".parquet":
            pq.write_table(table, str(path))
        else:
            pacsv.write_csv(table, str(path))

    def close(self) -> None:
        for name in list(self.tables):
            self._drop(name)

    # -- translation ------------------------------------------------------------------------
    def parse(self, sql: str, params: Params = None) -> list[exp.Expression]:
        """DuckDB SQL as parsed statements, with the parameters bound as literals."""
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
        return [bind(s, params) for s in statements] if params is not None else statements

    def to_sql(self, statement: exp.Expression) -> str:
        return self.dialect.transpile(statement.copy())

    def _frame(self, query: exp.Expression) -> Any:
        return self.session.sql(self.to_sql(query))

    # -- statements -------------------------------------------------------------------------
    def _run(self, statement: exp.Expression) -> SparkResult:
        if isinstance(statement, exp.Query):
            return SparkResult(to_arrow(self._frame(statement)))
        if isinstance(statement, exp.Create) and statement.kind in {"TABLE", "VIEW"}:
            self._create(statement)
        elif isinstance(statement, exp.Insert):
            self._insert(statement)
        elif isinstance(statement, exp.Delete):
            name = statement.this.name
            where = statement.args.get("where")
            keep: exp.Expression = (
                exp.Not(this=exp.Coalesce(this=where.this.copy(), expressions=[exp.false()]))
                if where is not None
                else exp.false()
            )
            self._replace(name, self._frame(exp.select("*").from_(name).where(keep)))
        elif isinstance(statement, exp.Drop) and statement.kind in {"TABLE", "VIEW"}:
            self._drop(statement.this.name)
        else:
            raise CxloopError(
                f"the Spark engine does not run this statement: {statement.sql('duckdb')[:80]}"
            )
        return SparkResult()

    def _create(self, statement: exp.Create) -> None:
        target = statement.this
        query = statement.expression
        if isinstance(target, exp.Schema):  # CREATE TABLE t (column type, ...)
            columns = ", ".join(
                c.sql(dialect=self.dialect.sqlglot_name) for c in target.expressions
            )
            frame = self.session.createDataFrame([], schema=columns)
            self._replace(target.this.name, frame)
            return
        if not isinstance(query, exp.Query):
            raise CxloopError(f"the Spark engine cannot create {target.sql('duckdb')} like this")
        self._replace(target.name, self._frame(query))

    def _insert(self, statement: exp.Insert) -> None:
        if statement.args.get("alternative"):
            raise CxloopError(
                f"INSERT OR {statement.args['alternative']} needs a keyed table: the Spark "
                "engine reads a prepared warehouse and does not keep keyed tables"
            )
        target = statement.this
        names = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else None
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        existing = self.tables.get(name)
        if existing is None:
            existing = self.session.table(name)
        incoming = self._frame(statement.expression)
        if statement.args.get("by_name"):
            names = incoming.columns
        elif names is None:
            names = existing.columns[: len(incoming.columns)]
        incoming = incoming.toDF(*names)
        functions = import_pyspark().functions
        columns = [
            (incoming[f.name] if f.name in names else functions.lit(None))
            .cast(f.dataType)
            .alias(f.name)
            for f in existing.schema.fields
        ]
        self._replace(name, existing.unionByName(incoming.select(*columns)))

    def _replace(self, name: str, frame: Any) -> None:
        """Materialise `frame` as the session table `name` (what it replaces may be in it)."""
        try:
            frame = frame.localCheckpoint(eager=True)  # computed once, lineage cut
        except NotImplementedError:  # a Spark Connect 3.5 client has no local checkpoints
            frame = frame.cache()
            frame.count()
        old = self.tables.get(name)
        frame.createOrReplaceTempView(name)
        self.tables[name] = frame
        if old is not None and old is not frame:
            old.unpersist()

    def _drop(self, name: str) -> None:
        frame = self.tables.pop(name, None)
        self.session.catalog.dropTempView(name)
        if frame is not None:
            frame.unpersist()


# -- parameters -------------------------------------------------------------------------------
def bind(statement: exp.Expression, params: Params) -> exp.Expression:
    """Replace `$name` and `?` placeholders by typed literals built by SQLGlot."""
    placeholders = list(statement.find_all(exp.Placeholder, bfs=False))
    if isinstance(params, dict):
        for node in placeholders:
            if node.name not in params:
                raise CxloopError(f"no value for the SQL parameter ${node.name}")
            node.replace(literal(params[node.name]))
        return statement
    values = list(params or [])
    if len(values) != len(placeholders):
        raise CxloopError(f"{len(placeholders)} SQL parameters but {len(values)} values")
    for node, value in zip(placeholders, values, strict=True):
        node.replace(literal(value))
    return statement


def literal(value: Any) -> exp.Expression:
    """A Python value as a typed SQL literal with DuckDB's parameter type (floats stay
    DOUBLE, not DECIMAL; timestamps are wall-clock values)."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        text = repr(value) if value == value and abs(value) != float("inf") else str(value)
        return exp.cast(exp.Literal.string(text), "DOUBLE")
    if isinstance(value, Decimal):
        digits = len(value.as_tuple().digits)
        scale = max(-int(value.as_tuple().exponent), 0)
        return exp.cast(
            exp.Literal.string(str(value)), f"DECIMAL({max(digits, scale + 1)}, {scale})"
        )
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:  # an instant: as the UTC wall clock of the session
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, list | tuple):
        items = [literal(v) for v in value]
        array = exp.Array(expressions=items)
        return array if items else exp.cast(array, "ARRAY<TEXT>")
    raise CxloopError(f"cannot pass a {type(value).__name__} as an SQL parameter")


# -- values -----------------------------------------------------------------------------------
def to_arrow(frame: Any) -> pa.Table:
    """A Spark DataFrame as a pyarrow Table: `toArrow` from Spark 4.0; on 3.5, the classic
    session's Arrow batches; through pandas only where neither exists (a 3.5 Connect client).
    """
    import pyarrow as pa

    if hasattr(frame, "toArrow"):
        return frame.toArrow()
    if hasattr(frame, "_collect_as_arrow"):
        from pyspark.sql.pandas.types import to_arrow_schema

        batches = frame._collect_as_arrow()
        if batches:
            return pa.Table.from_batches(batches)
        return pa.Table.from_batches([], schema=to_arrow_schema(frame.schema))
    return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)


def from_arrow(session: Any, table: pa.Table) -> Any:
    """A pyarrow Table as a Spark DataFrame (directly from Spark 4.0; via pandas on 3.5)."""
    try:
        return session.createDataFrame(table)
    except (TypeError, ValueError):
        return session.createDataFrame(table.to_pandas())


@contextmanager
def _spark_errors(statement: exp.Expression) -> Iterator[None]:
    """Spark's own failures (analysis errors, a lost executor, the JVM out of memory) as one
    clear line naming the statement, instead of a Java stack trace."""
    try:
        yield
    except CxloopError:
        raise
    except Exception as exc:
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        what = " ".join(statement.sql("duckdb").split())[:120]
        raise CxloopError(
            f"Spark could not run a statement of the analysis ({_first_line(exc)}): {what}"
        ) from exc


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
