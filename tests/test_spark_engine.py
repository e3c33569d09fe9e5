"""The Spark engine's own statements on its scratch tables, against a local Spark session.

The analyses write scratch tables with DuckDB statements (CREATE TABLE, INSERT, DELETE,
DROP); on Spark they become session views over materialised results. DuckDB semantics are the
reference: a DELETE whose condition is NULL keeps the row; INSERT BY NAME matches columns by
name; an INSERT casts to the table's column types.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from cxloop.engines.spark_engine import SparkEngine
from cxloop.errors import CxloopError

pytestmark = pytest.mark.spark


@pytest.fixture
def engine(spark_session):
    engine = SparkEngine(spark_session)
    yield engine
    engine.close()


def test_scratch_table_statements_keep_duckdb_meaning(engine):
    engine.execute("CREATE OR REPLACE TEMP TABLE t (k VARCHAR, n BIGINT, x DOUBLE)")
    engine.execute("INSERT INTO t VALUES ('a', 1, 0.5), ('b', NULL, 1.5)")
    engine.execute("INSERT INTO t (k, n) VALUES (?, ?)", ["c", 3])
    engine.execute("INSERT INTO t BY NAME SELECT 2.5 AS x, 'd' AS k, 4 AS n")
    engine.execute("DELETE FROM t WHERE n > $min", {"min": 2})  # NULL > 2 is not true: kept
    rows = engine.fetchall("SELECT k, n, x FROM t ORDER BY k")
    assert rows == [("a", 1, 0.5), ("b", None, 1.5)]
    assert engine.columns_of("t") == {"k": "string", "n": "bigint", "x": "double"}
    engine.execute("CREATE OR REPLACE TEMP TABLE t AS SELECT k FROM t WHERE k = 'a'")
    assert engine.scalar("SELECT count(*) FROM t") == 1
    engine.execute("DROP TABLE IF EXISTS t")
    assert not engine.table_exists("t")


def test_values_come_back_as_duckdb_gives_them(engine):
    row = engine.fetchone(
        "SELECT CAST('12.3400' AS DECIMAL(18, 4)) AS d, DATE '2026-06-30' AS day, "
        "TIMESTAMP '2026-01-01 12:30:00.25' AS ts, [1, 2] AS l, {'a': 1} AS s, "
        "epoch(TIMESTAMP '1970-01-01 00:00:01.5') AS e"
    )
    assert row == (
        Decimal("12.3400"),
        date(2026, 6, 30),
        datetime(2026, 1, 1, 12, 30, 0, 250000),
        [1, 2],
        {"a": 1},
        1.5,
    )
    numpy = engine.execute("SELECT * FROM (VALUES (1, NULL), (2, 2.5)) v(i, x)").fetchnumpy()
    assert list(numpy["i"]) == [1, 2] and numpy["x"].mask.tolist() == [True, False]


def test_arrow_tables_in_and_out(engine):
    import pyarrow as pa

    engine.register("__in", pa.table({"id": ["x", "y"], "v": [1.0, None]}))
    try:
        out = engine.arrow("SELECT id, v * 2 AS v FROM __in ORDER BY id")
    finally:
        engine.unregister("__in")
    assert out.to_pylist() == [{"id": "x", "v": 2.0}, {"id": "y", "v": None}]
    assert not engine.table_exists("__in")


def test_spark_failures_are_one_clear_line(engine):
    with pytest.raises(CxloopError, match="Spark could not run a statement") as caught:
        engine.execute("SELECT no_such_column FROM (SELECT 1 AS a)")
    assert "\n" not in str(caught.value)
    with pytest.raises(CxloopError, match="INSERT OR REPLACE needs a keyed table"):
        engine.execute("INSERT OR REPLACE INTO meta VALUES ('k', 'v')")
