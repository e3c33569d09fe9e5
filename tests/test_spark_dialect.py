"""The Spark dialect's rewrites and parameter binding, as SQL text (no JVM needed).

Each case is DuckDB SQL an analysis uses and the Spark SQL it must become; a change in
SQLGlot or in a rewrite shows here in review. The meaning of each translation is checked
against Spark itself by the parity tests (tests/test_spark_parity.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlglot

from cxloop.config import ConfigError, SparkSettings, WorkspaceConfig
from cxloop.engines.dialects import SPARK
from cxloop.engines.spark_engine import bind
from cxloop.errors import CxloopError


def spark_sql(duckdb_sql: str, params=None) -> str:
    statement = sqlglot.parse_one(duckdb_sql, read="duckdb")
    if params is not None:
        statement = bind(statement, params)
    return SPARK.transpile(statement)


@pytest.mark.parametrize(
    ("duckdb_sql", "spark"),
    [
        # Fractions of a second kept (unix_timestamp would drop them).
        ("SELECT epoch(ts) FROM t", "SELECT UNIX_MICROS(CAST(ts AS TIMESTAMP_LTZ)) / 1e6 FROM t"),
        # Day boundaries, not whole 24-hour periods.
        (
            "SELECT date_diff('day', a, b) FROM t",
            "SELECT DATEDIFF(CAST(b AS DATE), CAST(a AS DATE)) FROM t",
        ),
        (
            "SELECT ts + to_days(CAST(n AS INTEGER)) FROM t",
            "SELECT ts + MAKE_INTERVAL(0, 0, 0, CAST(n AS INT)) FROM t",
        ),
        # The mask of several grouped-away columns, the first one the highest bit.
        (
            "SELECT GROUPING(a, b) FROM t GROUP BY GROUPING SETS ((a), ())",
            "SELECT (GROUPING(a) * 2 + GROUPING(b) * 1) FROM t GROUP BY GROUPING SETS ((a), ())",
        ),
        # DuckDB's 1-based index, literal or not; 0 gives NULL as in DuckDB.
        (
            "SELECT l[1], l[x + 1] FROM t",
            "SELECT TRY_ELEMENT_AT(l, NULLIF(1, 0)), TRY_ELEMENT_AT(l, NULLIF(x + 1, 0)) FROM t",
        ),
        ("SELECT l[-1] FROM t", "SELECT TRY_ELEMENT_AT(l, NULLIF(-1, 0)) FROM t"),
        ("SELECT m['k'] FROM t", "SELECT m['k'] FROM t"),
        # Ordered lists keep their order (and NULL values).
        (
            "SELECT list(name ORDER BY code) FROM t",
            "SELECT TRANSFORM(ARRAY_SORT(COLLECT_LIST(STRUCT(code AS k0, name AS v))), "
            "item_ -> item_.v) FROM t",
        ),
        (
            "SELECT list_reverse(max_by(step, seq, 5)) FROM t",
            "SELECT REVERSE(TRANSFORM(SLICE(SORT_ARRAY(COLLECT_LIST(STRUCT(seq AS v, step AS x)), "
            "FALSE), 1, 5), item_ -> item_.x)) FROM t",
        ),
        (
            "SELECT coalesce(list_position(l, x), 0) FROM t",
            "SELECT COALESCE(NULLIF(ARRAY_POSITION(l, x), 0), 0) FROM t",
        ),
        # Ascending order puts NULLs last in DuckDB, first in Spark: SQLGlot says so.
        (
            "SELECT row_number() OVER (ORDER BY a) FROM t",
            "SELECT ROW_NUMBER() OVER (ORDER BY a NULLS LAST) FROM t",
        ),
    ],
)
def test_rewrite(duckdb_sql, spark):
    assert spark_sql(duckdb_sql) == spark


def test_descending_ordered_list_is_refused_not_mistranslated():
    with pytest.raises(ValueError, match="DESC"):
        spark_sql("SELECT list(x ORDER BY k DESC) FROM t")


def test_other_date_parts_are_refused():
    with pytest.raises(ValueError, match="only 'day'"):
        spark_sql("SELECT date_diff('month', a, b) FROM t")


def test_parameters_become_typed_literals():
    sql = spark_sql(
        "SELECT * FROM t WHERE a = $s AND b < $f AND c = $i AND d = $d AND e < $ts "
        "AND f = $dec AND list_contains($names, g) AND h IS $none AND k = $yes",
        {
            "s": "O'Brien \\ co",
            "f": 0.1,
            "i": 7,
            "d": date(2026, 6, 30),
            "ts": datetime(2026, 1, 1, 12, 30),
            "dec": Decimal("12.3400"),
            "names": ["web", "app"],
            "none": None,
            "yes": True,
        },
    )
    assert "a = 'O\\'Brien \\\\ co'" in sql
    assert "b < CAST('0.1' AS DOUBLE)" in sql  # a DOUBLE, as DuckDB binds it, not DECIMAL
    assert "c = 7" in sql
    assert "d = CAST('2026-06-30' AS DATE)" in sql
    assert "e < CAST('2026-01-01 12:30:00' AS TIMESTAMP)" in sql
    assert "f = CAST('12.3400' AS DECIMAL(6, 4))" in sql
    assert "ARRAY_CONTAINS(ARRAY('web', 'app'), g)" in sql
    assert "h IS NULL" in sql and "k = TRUE" in sql


def test_an_instant_is_bound_as_its_utc_wall_clock():
    instant = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert "CAST('2026-01-01 12:00:00' AS TIMESTAMP)" in spark_sql("SELECT $t", {"t": instant})
    assert datetime(2026, 1, 1, 12, tzinfo=UTC) == instant


def test_empty_list_parameter_is_typed():
    assert spark_sql("SELECT $l", {"l": []}) == "SELECT CAST(ARRAY() AS ARRAY<STRING>)"


def test_positional_parameters_in_order():
    sql = spark_sql("INSERT INTO meta (key, value) VALUES (?, ?)", ["a", "b"])
    assert sql == "INSERT INTO meta (key, value) VALUES ('a', 'b')"


def test_missing_or_extra_parameters_are_errors():
    with pytest.raises(CxloopError, match=r"\$x"):
        spark_sql("SELECT $x", {"y": 1})
    with pytest.raises(CxloopError, match="1 SQL parameters but 2"):
        spark_sql("SELECT ?", [1, 2])


def test_spark_settings_are_checked():
    with pytest.raises(ConfigError, match="not 'key=value'"):
        WorkspaceConfig.from_dict({"spark": {"conf": ["spark.executor.memory"]}})
    with pytest.raises(ConfigError, match="sc://"):
        WorkspaceConfig.from_dict({"spark": {"remote": "http://host:15002"}})
    with pytest.raises(ConfigError, match="unknown setting \\[spark\\] masters"):
        WorkspaceConfig.from_dict({"spark": {"masters": "local"}})
    with pytest.raises(ConfigError, match="not one of duckdb, spark"):
        WorkspaceConfig.from_dict({"engine": {"name": "postgres"}})
    config = WorkspaceConfig.from_dict(
        {"engine": {"name": "spark"}, "spark": {"conf": ["a.b = c=d"]}}
    )
    assert config.spark.conf_pairs() == {"a.b": "c=d"}
    assert SparkSettings().conf_pairs() == {"spark.sql.shuffle.partitions": "8"}


def test_unknown_engine_is_a_clear_error(ws):
    from cxloop.engines.lake_workspace import analytics_workspace

    with (
        pytest.raises(CxloopError, match="unknown engine 'oracle'"),
        analytics_workspace(ws, "oracle"),
    ):
        pass
    with analytics_workspace(ws, "duckdb") as same:
        assert same is ws


def test_missing_pyspark_says_how_to_install(monkeypatch):
    import builtins

    from cxloop.engines import spark_engine

    real_import = builtins.__import__

    def no_pyspark(name, *args, **kwargs):
        if name.startswith("pyspark"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(CxloopError, match=r"pip install 'cxloop\[spark\]'"):
        spark_engine.import_pyspark()


def test_cli_refuses_an_unknown_engine(ws):
    from tests.conftest import run_cli

    ws.close()
    result = run_cli("scorecard", str(ws.path), "--engine", "oracle")
    assert result.returncode != 0
    assert "unknown engine 'oracle' (expected one of duckdb, spark)" in result.stderr
    assert "Traceback" not in result.stderr
