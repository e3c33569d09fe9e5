"""External benchmarks: file validation (file, line, column) and the scorecard comparison."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cxloop.analytics.benchmarks import (
    Benchmark,
    BenchmarkFileError,
    compare,
    import_benchmarks,
    load_benchmarks,
    read_benchmarks,
    verdict_text,
)
from tests.conftest import run_cli, write

HEADER = "metric,industry,period,value,source,ci_low,ci_high,n\n"


def test_bad_rows_are_named_by_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bench.csv",
        HEADER
        + "nps,retail,2025,32,Index,29,35,4200\n"
        + "nsp,retail,2025,32,Index,,,\n"
        + "csat,retail,2025,78,Index,,,\n"
        + "nps,retail,25,30,Index,,,\n"
        + "nps,retail,2025-Q2,30,Index,31,35,\n"
        + "nps,retail,2025-Q3,30,Index,29,,0\n"
        + "nps,retail,2025,33,Index,,,\n",
    )
    with pytest.raises(BenchmarkFileError) as info:
        read_benchmarks(path)
    p = info.value.problems
    assert (
        p[0]
        == f"{path}, line 3, column metric: 'nsp' is not a scorecard metric (see docs/metrics.md)"
    )
    assert p[1].startswith(f"{path}, line 4, column value: 78 is outside csat's scale 0 to 1")
    assert p[2].startswith(f"{path}, line 5, column period: '25' is not a period")
    assert p[3] == f"{path}, line 6, column ci_low: the interval [31, 35] does not contain 30"
    assert p[4] == f"{path}, line 7, column n: '0' is not a whole number of at least 1"
    assert p[5] == f"{path}, line 7, column ci_high: give both ends of the interval or none"
    assert p[6].startswith(f"{path}, line 8, column metric: same metric, industry, period")


def test_json_lines_and_import_merges(tmp_path: Path) -> None:
    rows = [{"metric": "nps", "industry": "retail", "period": "2025", "value": 30,
             "source": "A"}, {"metric": "csat", "industry": "retail", "period": "2025",
             "value": 0.8, "source": "B", "ci_low": 0.77, "ci_high": 0.83, "n": 900}]  # fmt: skip
    first = write(tmp_path / "a.jsonl", "\n".join(json.dumps(r) for r in rows))
    ws = tmp_path / "ws"
    ws.mkdir()
    assert import_benchmarks(ws, first)["added"] == 2
    again = write(tmp_path / "b.json", json.dumps([{**rows[0], "value": 31}]))
    result = import_benchmarks(ws, again)
    assert (result["added"], result["replaced"], result["total"]) == (0, 1, 2)
    loaded = {b.metric: b for b in load_benchmarks(ws)}
    assert loaded["nps"].value == 31 and loaded["csat"].n == 900


SCORECARD = {
    "period": "year",
    "labels": {"nps": "NPS, all answers", "csat": "CSAT (% 4-5)", "revenue": "revenue"},
    "trend": [
        {"period": "2025", "metrics": {
            "nps": {"value": 20.0, "ci_low": 16.0, "ci_high": 24.0, "n": 900, "se": 2.0},
            "csat": {"value": 0.75, "ci_low": 0.73, "ci_high": 0.77, "n": 2000, "se": 0.01},
            "revenue": {"value": 1000, "ci_low": None, "ci_high": None, "n": 10},
        }},
    ],
}  # fmt: skip


def test_difference_combines_uncertainty_or_says_there_is_none() -> None:
    rows = compare(
        [
            Benchmark("nps", "retail", "2025", 30.0, "A", 27.0, 33.0, 3000),
            Benchmark("csat", "retail", "2025", 0.78, "B"),
            Benchmark("nps", "retail", "2025-Q1", 30.0, "C"),
            Benchmark("revenue", "retail", "2025", 900.0, "D"),
            Benchmark("nps", "retail", "2024", 30.0, "E"),
        ],
        SCORECARD,
    )
    nps, csat, quarter, revenue, missing = rows
    se_b = 6.0 / (2 * 1.959963984540054)
    half = 1.959963984540054 * math.sqrt(2.0**2 + se_b**2)
    assert nps["difference"]["value"] == pytest.approx(-10.0)
    assert nps["difference"]["ci_low"] == pytest.approx(-10.0 - half)
    assert nps["position"] == "below" and nps["verdict"] == "worse"
    assert nps["benchmark_has_uncertainty"]
    # Without the benchmark's uncertainty: our interval shifted, and said so.
    assert csat["difference"]["ci_low"] == pytest.approx(0.73 - 0.78)
    assert csat["difference"]["ci_high"] == pytest.approx(0.77 - 0.78)
    assert not csat["benchmark_has_uncertainty"] and "no uncertainty" in csat["note"]
    assert quarter["difference"] is None and "--period quarter" in quarter["note"]
    assert revenue["difference"]["ci_low"] is None and revenue["verdict"] == "better"
    assert missing["ours"] is None and "no nps figure of ours for 2024" in missing["note"]


def test_verdict_reads_the_metric_direction() -> None:
    """A lower-is-better metric (customers needing support): ours above the industry's is worse.
    CES here is the contract's 1-7 scale with 7 = very easy, so it is higher-is-better."""
    card = {
        "period": "year",
        "higher_is_better": {"support_contact_rate": False, "ces": True},
        "trend": [{"period": "2025", "metrics": {
            "support_contact_rate": {"value": 0.30, "ci_low": 0.28, "ci_high": 0.32, "n": 2000,
                                     "se": 0.01},
            "ces": {"value": 5.0, "ci_low": 4.9, "ci_high": 5.1, "n": 500, "se": 0.05},
        }}],
    }  # fmt: skip
    high, low, ces = compare(
        [
            Benchmark("support_contact_rate", "retail", "2025", 0.20, "A"),
            Benchmark("support_contact_rate", "retail", "2025", 0.40, "B"),
            Benchmark("ces", "retail", "2025", 5.5, "C"),
        ],
        card,
    )
    assert (high["position"], high["verdict"]) == ("above", "worse")
    assert (low["position"], low["verdict"]) == ("below", "better")
    assert (ces["position"], ces["verdict"]) == ("below", "worse")
    assert verdict_text(high) == "worse (above; lower is better)"
    assert verdict_text(ces) == "worse (below; higher is better)"
    # Without the scorecard's directions the metric registry decides.
    del card["higher_is_better"]
    (row,) = compare([Benchmark("support_contact_rate", "retail", "2025", 0.2, "A")], card)
    assert row["verdict"] == "worse" and row["higher_is_better"] is False


def test_scorecard_cli_shows_benchmarks(ws, tmp_path: Path) -> None:
    orders = write(
        tmp_path / "feedback.csv",
        "response_id,customer_id,submitted_at,metric,score\n"
        + "".join(f"R{i},C{i},2025-03-01,nps,{9 if i % 2 else 5}\n" for i in range(40)),
    )
    ws.ingest([orders])
    path = ws.path
    ws.close()
    bench = write(tmp_path / "bench.csv", HEADER + "nps,retail,2025,30,Index,,,\n")
    assert run_cli("benchmarks", "import", str(path), str(bench)).returncode == 0
    result = run_cli("scorecard", str(path), "--period", "year", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["benchmarks"]
    assert row["ours"]["value"] == pytest.approx(0.0) and row["difference"]["value"] == -30
    shown = run_cli("scorecard", str(path), "--period", "year")
    assert "External benchmarks" in shown.stdout and "no interval" in shown.stdout
    bad = write(tmp_path / "bad.csv", HEADER + "nps,retail,2025,300,Index,,,\n")
    refused = run_cli("benchmarks", "import", str(path), str(bad))
    assert refused.returncode == 2 and "line 2, column value: 300 is outside" in refused.stderr
