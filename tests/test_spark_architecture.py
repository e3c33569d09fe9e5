"""Content lift and the experience architecture (with the value framework) give the same
documents on DuckDB and on Spark (local mode), as the six analyses of `test_spark_parity.py`
do: their per-customer work is the engine's SQL, their models run on the driver."""

from __future__ import annotations

import pytest

import cxloop
from cxloop import analyses
from cxloop.content.sample import load_sample_content
from cxloop.engines.lake_workspace import analytics_workspace
from cxloop.experience.example import write_example
from cxloop.generate.pipeline import generate
from tests.test_spark_parity import assert_same

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity-architecture")
    data = generate(root / "data", people=1500, seed=7)
    workspace = cxloop.Workspace.init(root / "ws", brand="Northwind")
    workspace.ingest(list(data.files.values()))
    load_sample_content(workspace, data.content)
    write_example(root / "ws")
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def on_spark(ws, spark_session):
    with analytics_workspace(ws, "spark", session=spark_session) as lake_ws:
        yield lake_ws


CASES = {
    "content": (analyses.content, {}),
    "content_repurchase": (analyses.content, {"outcome": "repurchase"}),
    "architecture": (analyses.architecture, {}),
}
# The scorecard's benchmarks are computed in Python from the scorecard's document, which
# test_spark_parity.py already compares; they are not run on Spark again here.


@pytest.mark.parametrize("case", list(CASES))
def test_same_document_on_duckdb_and_spark(case, ws, on_spark):
    run, options = CASES[case]
    duck = run(ws, **options)
    spark = run(on_spark, **options)
    assert_same(case, duck, spark)
    if case == "content":
        assert any(a["lift"] and a["lift"]["significant"] for a in spark["assets"])
