"""The command line: JSON documents, readable errors (one line, never a traceback)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, write


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def workspace(tmp_path):
    result = run_cli("init", str(tmp_path / "ws"), "--brand", "Northwind")
    assert result.returncode == 0, result.stderr
    return tmp_path / "ws"


def test_init_ingest_profiles_json(workspace, tmp_path):
    customers = write(
        tmp_path / "customers.csv",
        "customer_id,source,email\n1,crm,a@x.com\n2,shop,A@X.com\n3,shop,\n4,shop,bad@\n",
    )
    orders = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,source,ordered_at,amount\no1,1,crm,2024-01-01,10\n"
        "o2,2,shop,yesterday,5\n",
    )
    result = run_cli("ingest", str(workspace), str(customers), str(orders), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [(f["kind"], f["rows"], f["loaded"], f["rejected"]) for f in doc["files"]] == [
        ("customers", 4, 4, 0),
        ("orders", 2, 1, 1),
    ]
    assert set(doc["files"][0]) >= {"path", "kind", "rows", "loaded", "rejected", "duplicates"}
    assert doc["rejects_path"].endswith("rejects")
    result = run_cli("profiles", str(workspace), "--json")
    doc = json.loads(result.stdout)
    assert (doc["profiles"], doc["source_records"], doc["merged_records"]) == (3, 4, 1)
    assert doc["by_rule"]["email"] == 1
    result = run_cli("profiles", str(workspace), "--lookup", "a@x.com", "--json")
    profile = json.loads(result.stdout)
    assert {r["customer_id"] for r in profile["records"]} == {"1", "2"}
    assert profile["timeline"][0]["what"] == "order"
    table = run_cli("profiles", str(workspace))
    assert "Unified profiles" in table.stdout


def test_bad_inputs_are_one_line_errors(workspace, tmp_path):
    assert_one_line_error(
        run_cli("ingest", str(workspace), str(tmp_path / "x.csv")), "no such file"
    )
    assert_one_line_error(run_cli("ingest", str(workspace), str(tmp_path)), "is a directory")
    xlsx = write(tmp_path / "orders.xlsx", "x")
    assert_one_line_error(run_cli("ingest", str(workspace), str(xlsx)), "unknown file extension")
    empty = write(tmp_path / "orders.csv", "")
    assert_one_line_error(run_cli("ingest", str(workspace), str(empty)), "empty")
    header = write(tmp_path / "events.csv", "event_id,occurred_at\n1,2024-01-01\n")
    assert_one_line_error(
        run_cli("ingest", str(workspace), str(header)), "touchpoint", "customer_id"
    )
    bad_header = write(tmp_path / "feedback.csv", b"response_id,subm\xe9tted_at\n")
    assert_one_line_error(run_cli("ingest", str(workspace), str(bad_header)), "UTF-8", "line 1")
    assert_one_line_error(run_cli("profiles", str(tmp_path)), "not a cxloop workspace")
    assert_one_line_error(run_cli("profiles", str(tmp_path / "nope")), "no such workspace")
    assert_one_line_error(run_cli("init", str(workspace)), "already")
    unknown = write(tmp_path / "stuff.csv", "a\n1\n")
    assert_one_line_error(run_cli("ingest", str(workspace), str(unknown)), "--kind")


def test_reject_summary_names_file_line_column_reason(workspace, tmp_path):
    orders = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount\no1,1,2024-01-01,10\no2,2,2024-01-01,-3\n",
    )
    result = run_cli("ingest", str(workspace), str(orders))
    assert result.returncode == 0
    assert "orders.csv: 1 row(s) rejected, first at line 3: amount: '-3' is below 0" in (
        result.stderr
    )


def test_unreadable_binary_files_are_one_line_errors(workspace, tmp_path):
    fake_parquet = write(tmp_path / "orders.parquet", "order_id,amount\n1,2\n")
    assert_one_line_error(run_cli("ingest", str(workspace), str(fake_parquet)), "cannot read")
    bad_gzip = write(tmp_path / "orders.csv.gz", b"not gzip at all")
    assert_one_line_error(run_cli("ingest", str(workspace), str(bad_gzip)), "cannot read")


def test_generator_settings_errors_are_one_line(tmp_path):
    assert_one_line_error(
        run_cli("generate", "--people", "3000000", "--out", str(tmp_path / "g")), "people"
    )
    assert_one_line_error(run_cli("demo", "--people", "0", "--out", str(tmp_path / "d")), "people")


@pytest.mark.parametrize(
    "args",
    [[], ["ingest"], ["profiles", ".", "--bogus"], ["generate", "--people", "abc"]],
)
def test_usage_errors_are_messages_not_tracebacks(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "Usage" in result.stderr + result.stdout


def test_file_names_are_printed_as_they_are(workspace, tmp_path):
    path = write(tmp_path / "customers [v2].csv", "customer_id,created_at\n1,2024-01-01\n2,never\n")
    result = run_cli("ingest", str(workspace), str(path))
    assert "customers [v2].csv" in result.stdout + result.stderr
