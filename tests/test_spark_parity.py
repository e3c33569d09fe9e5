"""The same analyses on DuckDB and on Spark (local mode) give the same documents.

One generated data set (2,000 people, seed 7, with its dirty rows) is loaded into a
workspace; each analysis runs on the workspace (DuckDB) and on a Spark session reading the
workspace's tables exported as a Parquet lake (`engines/lake.py`), with the same options.
The whole JSON documents are compared: every count, label and list exactly, every float
within 1e-9 relative (the engines may add the same numbers in another order).

Fields that legitimately differ between the two runs are listed in `MAY_DIFFER`, each with
its reason; there are none today.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import cxloop
from cxloop import analyses
from cxloop.engines.lake_workspace import analytics_workspace
from cxloop.generate.pipeline import generate

pytestmark = [pytest.mark.spark, pytest.mark.slow]

REL_TOL = 1e-9

MAY_DIFFER: dict[str, str] = {}
"""Paths in a document (`analysis:.key[i].key`) allowed to differ, with the reason."""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    data = generate(root / "data", people=2000, seed=7)
    workspace = cxloop.Workspace.init(root / "ws", brand="Northwind")
    workspace.ingest(list(data.files.values()))
    # The persona model is fitted once and saved in the workspace; both engines then assign
    # customers with it (the document says whether its run fitted or loaded the model).
    analyses.personas(workspace)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def on_spark(ws, spark_session):
    with analytics_workspace(ws, "spark", session=spark_session) as lake_ws:
        yield lake_ws


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON documents differ: exact for everything but floats (1e-9 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        same = math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12) or (
            math.isnan(a) and math.isnan(b)
        )
        return [] if same else [f"{path}: {a!r} vs {b!r}"]
    if type(a) is not type(b) or a != b:
        return [f"{path}: {a!r} ({type(a).__name__}) vs {b!r} ({type(b).__name__})"]
    return []


def assert_same(name: str, duck: dict[str, Any], spark: dict[str, Any]) -> None:
    found = [d for d in differences(duck, spark) if f"{name}:{d.split(':')[0]}" not in MAY_DIFFER]
    assert not found, f"{name}: {len(found)} difference(s), first: " + "; ".join(found[:10])


CASES = {
    # With a breakdown the scorecard has all three levels (all, period, group).
    "scorecard": (analyses.scorecard, {"by": "segment"}),
    "journey": (analyses.journey, {}),
    "moments": (analyses.moments, {}),
    "moments_repurchase": (analyses.moments, {"outcome": "repurchase"}),
    "clv": (analyses.clv, {}),
    "segments": (analyses.segments, {}),
    "personas": (analyses.personas, {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_same_document_on_duckdb_and_spark(case, ws, on_spark):
    run, options = CASES[case]
    duck = run(ws, **options)
    spark = run(on_spark, **options)
    assert_same(case, duck, spark)


def test_each_analysis_ran_on_spark(on_spark):
    """The documents above came from Spark: the engine reads the lake, not the workspace."""
    from cxloop.engines.spark_engine import SparkEngine

    assert isinstance(on_spark.engine, SparkEngine)
    assert on_spark.engine.table_exists("profile_events")
    assert on_spark.location.endswith("lake")
