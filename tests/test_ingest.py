"""Loading contract files: every bad-input case of the contract, idempotency, atomicity."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import time
from pathlib import Path

import duckdb
import pytest

import cxloop
from cxloop.errors import InputFileError, WorkspaceBusyError
from tests.conftest import write

EVENTS_HEADER = "event_id,customer_id,occurred_at,touchpoint,stage,duration_s,success,properties\n"


def rejects(ws):
    return ws.engine.fetchall('SELECT line, "column", reason FROM ingest_rejects ORDER BY line')


def test_good_rows_load_and_bad_rows_are_kept_with_reasons(ws, tmp_path):
    path = write(
        tmp_path / "events.csv",
        EVENTS_HEADER
        + "e1,c1,2024-03-01T10:15:00Z,product_view,buy,12.5,yes,\n"  # line 2 ok
        + "e2,c1,,checkout,buy,,,\n"  # line 3 missing timestamp
        + "e3,c1,2025-13-45,checkout,buy,,,\n"  # line 4 bad timestamp
        + "e4,c1,2024-03-01,checkout,sell,,,\n"  # line 5 unknown stage
        + "e5,c1,2024-03-01,checkout,buy,12;5,,\n"  # line 6 bad number
        + 'e6,c1,2024-03-01,checkout,buy,,,"{""late_days"": 3}"\n',  # line 7 ok
    )
    report = ws.ingest([path]).files[0]
    assert (report.rows, report.loaded, report.rejected) == (6, 2, 4)
    assert rejects(ws) == [
        (3, "occurred_at", "occurred_at: is required"),
        (4, "occurred_at", "occurred_at: '2025-13-45' is not an ISO 8601 timestamp"),
        (5, "stage", "stage: 'sell' is not one of buy, own, advocate"),
        (6, "duration_s", "duration_s: '12;5' is not a number with '.' as decimal separator"),
    ]
    props = ws.engine.scalar("SELECT properties FROM events WHERE event_id = 'e6'")
    assert json.loads(props) == {"late_days": 3}
    # The rejects file carries the original values and the reasons, and loads again once fixed.
    text = Path(report.rejects_file).read_text(encoding="utf-8")
    assert "2025-13-45" in text and "_reject_reason" in text
    fixed = write(tmp_path / "fixed_events.csv", text.replace("2025-13-45", "2025-12-15"))
    again = ws.ingest([fixed]).files[0]
    assert again.loaded == 1 and again.rejected == 3


@pytest.mark.parametrize(
    ("metric", "score", "ok"),
    [
        ("nps", "10", True),
        ("nps", "11", False),
        ("nps", "-1", False),
        ("nps", "7.5", False),
        ("ces", "0", False),
        ("ces", "7", True),
        ("csat", "6", False),
        ("rating", "4.5", True),
        ("rating", "0", False),
        ("comment", "", True),
        ("nps", "", False),
        ("stars", "3", False),
    ],
)
def test_feedback_scores_must_be_on_their_metric_scale(ws, tmp_path, metric, score, ok):
    path = write(
        tmp_path / "feedback.csv",
        "response_id,customer_id,submitted_at,metric,score,text\n"
        f"r1,c1,2024-05-01,{metric},{score},hello\n",
    )
    report = ws.ingest([path]).files[0]
    assert report.loaded == int(ok) and report.rejected == int(not ok)


def test_a_file_without_the_score_column_is_judged_not_crashed(ws, tmp_path):
    # Found by fuzzing the API: the score rules referred to a column the file lacked.
    path = write(
        tmp_path / "feedback.jsonl",
        '{"response_id": "s1", "customer_id": "c1", "submitted_at": "2024-05-01", '
        '"metric": "csat"}\n'
        '{"response_id": "s2", "customer_id": "c1", "submitted_at": "2024-05-01", '
        '"metric": "comment", "text": "fine"}\n',
    )
    report = ws.ingest([path]).files[0]
    assert (report.loaded, report.rejected) == (1, 1)
    assert report.first_reject is not None and "score: is required" in report.first_reject


def test_orders_amounts_are_exact_and_non_negative(ws, tmp_path):
    path = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount,status\n"
        "o1,c1,2024-05-01,19.99,completed\n"
        "o2,c1,2024-05-01,-5,completed\n"
        'o3,c1,2024-05-01,"12,50",\n'
        "o4,c1,2024-05-01,0.10,RETURNED\n"
        "o5,c1,2024-05-01,3,lost\n",
    )
    report = ws.ingest([path]).files[0]
    assert (report.loaded, report.rejected) == (2, 3)
    rows = ws.engine.fetchall("SELECT order_id, amount, status FROM orders ORDER BY order_id")
    assert [(r[0], str(r[1]), r[2]) for r in rows] == [
        ("o1", "19.9900", "completed"),
        ("o4", "0.1000", "returned"),
    ]
    reasons = [r[2] for r in rejects(ws)]
    assert "amount: '-5' is below 0" in reasons[0]
    assert "'12,50' is not an amount" in reasons[1]
    assert "'lost' is not one of" in reasons[2]


def test_timestamps_follow_the_contract(tmp_path):
    ws = cxloop.Workspace.init(tmp_path / "ws", timezone="Europe/Paris")
    path = write(
        tmp_path / "events.csv",
        "event_id,customer_id,occurred_at,touchpoint\n"
        "a,c,2024-03-01,x\n"  # naive date: workspace time zone (UTC+1 in March)
        "b,c,2024-03-01T10:15:00+02:00,x\n"
        "c,c,2024-03-01T10:15:00Z,x\n",
    )
    ws.ingest([path])
    got = dict(
        ws.engine.fetchall("SELECT event_id, strftime(occurred_at, '%Y-%m-%d %H:%M') FROM events")
    )
    assert got == {"a": "2024-02-29 23:00", "b": "2024-03-01 08:15", "c": "2024-03-01 10:15"}
    ws.close()


def test_customer_reference_is_required(ws, tmp_path):
    path = write(
        tmp_path / "events.csv",
        "event_id,customer_id,anonymous_id,email,occurred_at,touchpoint\n"
        "a,,,,2024-03-01,x\nb,,anon1,,2024-03-01,x\nc,,,x@y.com,2024-03-01,x\n",
    )
    report = ws.ingest([path]).files[0]
    assert (report.loaded, report.rejected) == (2, 1)


def test_header_without_required_columns_names_them(ws, tmp_path):
    path = write(tmp_path / "orders.csv", "order_id,customer_id\no1,c1\n")
    with pytest.raises(InputFileError, match="lacks required column\\(s\\) ordered_at, amount"):
        ws.ingest([path])


def test_invalid_utf8_reports_the_line_and_loads_the_rest(ws, tmp_path):
    path = write(
        tmp_path / "customers.csv",
        b"customer_id,first_name\nc1,Ann\nc2,Ren\xe9e\nc3,Bo\n",
    )
    report = ws.ingest([path]).files[0]
    assert (report.loaded, report.rejected) == (2, 1)
    assert rejects(ws) == [(3, None, "not valid UTF-8")]
    assert report.first_reject.startswith("line 3")
    # Good rows after the bad line still carry their true line numbers.
    assert ws.engine.scalar("SELECT _row FROM customers WHERE customer_id = 'c3'") == 2


def test_unknown_columns_are_kept_or_reported(ws, tmp_path):
    customers = write(
        tmp_path / "customers.csv",
        'customer_id,Email,Plan,attributes\nc1, A@B.com ,gold,"{""tier"": 2}"\n',
    )
    orders = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount,coupon\no1,c1,2024-01-01,5,X\n",
    )
    report = ws.ingest([customers, orders])
    attrs = json.loads(ws.engine.scalar("SELECT attributes FROM customers"))
    assert attrs == {"tier": 2, "plan": "gold"}
    assert ws.engine.scalar("SELECT email FROM customers") == "A@B.com"
    assert report.files[1].ignored_columns == ("coupon",)


def test_loading_twice_changes_nothing_and_changes_replace(ws, tmp_path):
    path = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,5\no2,c1,2024-01-02,6\n"
        "o1,c1,2024-01-01,5\n",
    )
    first = ws.ingest([path]).files[0]
    assert (first.loaded, first.duplicates) == (2, 1)
    snapshot = ws.engine.fetchall("SELECT * EXCLUDE (_loaded_at) FROM orders ORDER BY order_id")
    second = ws.ingest([path]).files[0]
    assert (second.loaded, second.updated, second.duplicates) == (0, 0, 3)
    assert (
        ws.engine.fetchall("SELECT * EXCLUDE (_loaded_at) FROM orders ORDER BY order_id")
        == snapshot
    )
    changed = write(
        tmp_path / "orders_fix.csv", "order_id,customer_id,ordered_at,amount\no2,c1,2024-01-02,7\n"
    )
    third = ws.ingest([changed]).files[0]
    assert (third.loaded, third.updated) == (0, 1)
    assert str(ws.engine.scalar("SELECT amount FROM orders WHERE order_id = 'o2'")) == "7.0000"
    assert ws.count("orders") == 2


def test_same_id_in_another_source_is_another_record(ws, tmp_path):
    path = write(tmp_path / "customers.csv", "customer_id,source\n001,crm\n001,shop\n001,\n1,crm\n")
    assert ws.ingest([path]).files[0].loaded == 4


def test_formats_load_the_same_rows(ws, tmp_path):
    csv_text = (
        "event_id,customer_id,occurred_at,touchpoint,duration_s,success,properties\n"
        'a,c1,2024-03-01T10:00:00Z,view,3.5,true,"{""k"": 1}"\n'
        "b,c2,2024-03-02,cart,,false,\n"
    )
    csv_path = write(tmp_path / "csv" / "events.csv", csv_text)
    gz_path = tmp_path / "gz" / "events.csv.gz"
    gz_path.parent.mkdir()
    gz_path.write_bytes(gzip.compress(csv_text.encode()))
    jsonl = write(
        tmp_path / "jl" / "events.jsonl",
        '{"event_id": "a", "customer_id": "c1", "occurred_at": "2024-03-01T10:00:00Z", '
        '"touchpoint": "view", "duration_s": 3.5, "success": true, "properties": {"k": 1}}\n'
        '\n{"event_id": "b", "customer_id": "c2", "occurred_at": "2024-03-02", '
        '"touchpoint": "cart", "success": false}\n',
    )
    parquet = tmp_path / "pq" / "events.parquet"
    parquet.parent.mkdir()
    duckdb.sql(
        "SELECT 'a' AS event_id, 'c1' AS customer_id, "
        "TIMESTAMP '2024-03-01 10:00:00' AS occurred_at, "
        "'view' AS touchpoint, 3.5 AS duration_s, true AS success, '{\"k\": 1}' AS properties "
        "UNION ALL SELECT 'b', 'c2', TIMESTAMP '2024-03-02', 'cart', NULL, false, NULL"
    ).write_parquet(str(parquet))
    query = (
        "SELECT event_id, customer_id, occurred_at, touchpoint, duration_s, success, "
        "properties FROM events ORDER BY 1"
    )
    results = []
    for path in (csv_path, gz_path, jsonl, parquet):
        ws.engine.execute("DELETE FROM events")
        report = ws.ingest([path]).files[0]
        assert report.rejected == 0, report
        rows = ws.engine.fetchall(query)
        results.append([(*r[:6], json.loads(r[6]) if r[6] else {}) for r in rows])
    assert all(r == results[0] for r in results)


def test_jsonl_bad_lines_are_rejected_with_line_numbers(ws, tmp_path):
    path = write(
        tmp_path / "mentions.jsonl",
        '{"mention_id": "m1", "posted_at": "2024-01-01", "platform": "x", "author": "a", '
        '"brand": "Northwind", "kind": "post"}\n'
        "not json\n"
        '["an", "array"]\n'
        '{"mention_id": "m2", "posted_at": "2024-01-01", "platform": "x", "author": "a", '
        '"brand": "Northwind", "kind": "shout"}\n',
    )
    report = ws.ingest([path]).files[0]
    assert (report.loaded, report.rejected) == (1, 3)
    assert [(r[0], r[2]) for r in rejects(ws)] == [
        (2, "line: not a JSON object"),
        (3, "line: not a JSON object"),
        (4, "kind: 'shout' is not one of post, reply, review, share, like"),
    ]


class Boom(Exception):
    pass


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_a_failure_mid_file_leaves_the_workspace_as_before(ws, tmp_path, monkeypatch, error):
    good = write(
        tmp_path / "orders.csv", "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,5\n"
    )
    ws.ingest([good])
    before = ws.engine.fetchall("SELECT * FROM orders")
    log_before = ws.engine.scalar("SELECT count(*) FROM ingest_log")
    second = write(
        tmp_path / "more_orders.csv",
        "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,9\no2,c1,2024-01-01,x\no3,c,2024-01-01,1\n",
    )
    real_execute = ws.engine.execute

    def failing(sql, params=None):
        if sql.startswith("INSERT INTO ingest_rejects"):
            raise error()  # after the delete/insert of the merge, before commit
        return real_execute(sql, params)

    monkeypatch.setattr(ws.engine, "execute", failing)
    with pytest.raises(error):
        ws.ingest([second])
    monkeypatch.undo()
    assert ws.engine.fetchall("SELECT * FROM orders") == before
    assert ws.engine.scalar("SELECT count(*) FROM ingest_log") == log_before
    assert ws.engine.scalar("SELECT count(*) FROM ingest_rejects") == 0
    # And the workspace is usable afterwards.
    assert ws.ingest([second]).files[0].updated == 1


def _hold_workspace(path, seconds, ready):
    with cxloop.Workspace.open(path):
        ready.set()
        time.sleep(seconds)


def test_a_second_process_waits_then_says_busy(tmp_path):
    cxloop.Workspace.init(tmp_path / "ws").close()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_workspace, args=(tmp_path / "ws", 4, ready))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(WorkspaceBusyError, match="busy"):
            cxloop.Workspace.open(tmp_path / "ws", wait=0.5)
        # Waiting long enough succeeds once the other process is done.
        with cxloop.Workspace.open(tmp_path / "ws", wait=30) as ws:
            assert ws.count("orders") == 0
    finally:
        holder.join(30)


def test_odd_header_names_are_just_names(ws, tmp_path):
    path = write(
        tmp_path / "customers.csv",
        'customer_id,rowid,"a""; DROP TABLE customers; --",email\nc1,x,y,a@b.com\nc2,,,\n',
    )
    report = ws.ingest([path]).files[0]
    assert report.loaded == 2
    attrs = json.loads(
        ws.engine.scalar("SELECT attributes FROM customers WHERE customer_id = 'c1'")
    )
    assert attrs == {"rowid": "x", 'a"; drop table customers; --': "y"}


def test_repeated_header_names_are_refused(ws, tmp_path):
    path = write(tmp_path / "customers.csv", "customer_id,Email,email\nc1,a,b\n")
    with pytest.raises(InputFileError, match="appears twice"):
        ws.ingest([path])


CRASH_SCRIPT = """
import os, signal, sys
import cxloop
from cxloop.engines.duckdb_engine import DuckDBEngine

real = DuckDBEngine.execute

def crashing(self, sql, params=None):
    if sql.startswith("INSERT INTO ingest_log"):
        os.kill(os.getpid(), signal.SIGKILL)  # the process dies inside the transaction
    return real(self, sql, params)

DuckDBEngine.execute = crashing
with cxloop.Workspace.open(sys.argv[1]) as ws:
    ws.ingest([sys.argv[2]])
"""


def test_a_killed_process_leaves_the_workspace_as_before(tmp_path):
    import subprocess
    import sys

    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        ws.ingest(
            [
                write(
                    tmp_path / "orders.csv",
                    "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,5\n",
                )
            ]
        )
        before = ws.engine.fetchall("SELECT * FROM orders")
    more = write(
        tmp_path / "more_orders.csv",
        "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,9\no2,c1,2024-01-01,1\n",
    )
    script = write(tmp_path / "crash.py", CRASH_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ws"), str(more)], capture_output=True
    )
    assert result.returncode == -9
    with cxloop.Workspace.open(tmp_path / "ws") as ws:
        assert ws.engine.fetchall("SELECT * FROM orders") == before
        assert ws.engine.scalar("SELECT count(*) FROM ingest_log") == 1


def test_whole_numbers_and_amounts_are_never_rounded(ws, tmp_path):
    path = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount,items,currency\n"
        "o1,c,2024-01-01,1.2345,2,eur\n"  # ok: 4 decimals; currency upper-cased
        "o2,c,2024-01-01,1.23456,2,\n"  # 5 decimals: refused, not rounded
        "o3,c,2024-01-01,-0.00001,2,\n"  # negative: refused
        "o4,c,2024-01-01,5,2.7,\n"  # items must be whole
        "o5,c,2024-01-01,5,1e3,\n"
        "o6,c,2024-01-01,5,-1,\n"
        "o7,c,2024-01-01,5,1,EURO\n"  # not an ISO 4217 code
        "o8,c,2024-01-01,5,,\n",  # currency defaults to the workspace's
    )
    report = ws.ingest([path]).files[0]
    assert (report.loaded, report.rejected) == (2, 6)
    rows = ws.engine.fetchall("SELECT order_id, amount, currency FROM orders ORDER BY 1")
    assert [(r[0], str(r[1]), r[2]) for r in rows] == [
        ("o1", "1.2345", "EUR"),
        ("o8", "5.0000", "USD"),
    ]
    reasons = dict(ws.engine.fetchall("SELECT line, reason FROM ingest_rejects"))
    assert "is not an amount" in reasons[3] and "is not an amount" in reasons[4]
    assert "is not a whole number" in reasons[5] and "is not a whole number" in reasons[6]
    assert "is below 0" in reasons[7]
    assert "ISO 4217" in reasons[8]


def test_reject_lines_are_physical_lines(ws, tmp_path):
    path = write(
        tmp_path / "customers.csv",
        "customer_id,address,created_at\n"  # 1
        "c1,,2024-01-01\n"  # 2
        "\n"  # 3 blank
        'c2,"12 Main St\nFlat 3",2024-01-01\n'  # 4-5 a value spanning two lines
        "\n"  # 6 blank
        "c3,a,b,c\n"  # 7 too many values (refused by the reader)
        "c4,,never\n",  # 8 bad timestamp
    )
    report = ws.ingest([path]).files[0]
    assert (report.loaded, report.rejected) == (2, 2)
    assert [r[0] for r in rejects(ws)] == [7, 8]
    assert report.first_reject.startswith("line 7")


def test_jsonl_lines_after_an_unreadable_line(ws, tmp_path):
    path = write(
        tmp_path / "customers.jsonl",
        b'{"customer_id": "c1"}\n{"customer_id": "c\xff"}\n{"customer_id": "c3", '
        b'"created_at": "never"}\n',
    )
    report = ws.ingest([path]).files[0]
    assert (report.loaded, report.rejected) == (1, 2)
    assert [r[0] for r in rejects(ws)] == [2, 3]


def test_jsonl_keys_are_case_insensitive_across_lines(ws, tmp_path):
    path = write(
        tmp_path / "customers.jsonl",
        '{"customer_id": "c1", "Email": "a@x.com"}\n{"Customer_ID": "c2", "email": "b@x.com"}\n',
    )
    report = ws.ingest([path]).files[0]
    assert report.loaded == 2
    assert ws.engine.fetchall("SELECT customer_id, email FROM customers ORDER BY 1") == [
        ("c1", "a@x.com"),
        ("c2", "b@x.com"),
    ]


def test_surrounding_whitespace_of_every_kind_is_trimmed(ws, tmp_path):
    path = write(
        tmp_path / "customers.csv",
        "customer_id,email,first_name\nc1\t,a@x.com,\t\nc2\u00a0, b@x.com ,\u00a0Zoë \n",
    )
    ws.ingest([path])
    assert ws.engine.fetchall(
        "SELECT customer_id, email, first_name FROM customers ORDER BY 1"
    ) == [
        ("c1", "a@x.com", None),
        ("c2", "b@x.com", "Zoë"),
    ]


def test_file_names_are_never_glob_patterns(ws, tmp_path):
    real = write(tmp_path / "customers[1].csv", "customer_id\nREAL\n")
    write(tmp_path / "customers1.csv", "customer_id\nWRONG\n")
    star = tmp_path / "customers_*.parquet"
    duckdb.sql("SELECT 'P1' AS customer_id").write_parquet(str(star))
    duckdb.sql("SELECT 'OTHER' AS customer_id").write_parquet(str(tmp_path / "customers_x.parquet"))
    reports = ws.ingest([real, star], kind="customers").files
    assert [r.rows for r in reports] == [1, 1]
    assert sorted(r[0] for r in ws.engine.fetchall("SELECT customer_id FROM customers")) == [
        "P1",
        "REAL",
    ]


def test_empty_header_names_do_not_crash(ws, tmp_path):
    path = write(
        tmp_path / "orders.csv", "order_id,customer_id,ordered_at,amount,\no1,c,2024-01-01,-5,\n"
    )
    report = ws.ingest([path]).files[0]
    assert report.rejected == 1 and Path(report.rejects_file).exists()


def test_typed_parquet_values_follow_the_same_rules(ws, tmp_path):
    path = tmp_path / "events.parquet"
    duckdb.sql(
        "SELECT 'e1' AS event_id, 'c' AS customer_id, TIMESTAMP '2024-01-01' AS occurred_at, "
        "'view' AS touchpoint, [1, 2] AS properties "
        "UNION ALL SELECT 'e2', 'c', TIMESTAMP '2024-01-01', 'view', NULL"
    ).write_parquet(str(path))
    report = ws.ingest([path]).files[0]
    assert (report.loaded, report.rejected) == (1, 1)
    orders = tmp_path / "orders.parquet"
    duckdb.sql(
        "SELECT 'o1' AS order_id, 'c' AS customer_id, DATE '2024-01-01' AS ordered_at, "
        "2.5 AS amount, 2.7::DOUBLE AS items"
    ).write_parquet(str(orders))
    assert ws.ingest([orders]).files[0].rejected == 1


def test_a_bad_header_in_a_later_file_loads_nothing(ws, tmp_path):
    good = write(tmp_path / "customers.csv", "customer_id\nc1\n")
    bad = write(tmp_path / "orders.csv", "order_id,customer_id,ordered_at\no1,c1,2024-01-01\n")
    with pytest.raises(InputFileError, match="amount"):
        ws.ingest([good, bad])
    assert ws.count("customers") == 0


def test_two_files_with_one_name_keep_their_own_rejects(ws, tmp_path):
    a = write(tmp_path / "a" / "orders.csv", "order_id,customer_id,ordered_at,amount\no1,c,x,1\n")
    b = write(tmp_path / "b" / "orders.csv", "order_id,customer_id,ordered_at,amount\no2,c,y,1\n")
    first, second = ws.ingest([a, b]).files
    assert first.rejects_file != second.rejects_file
    assert (
        "o1" in Path(first.rejects_file).read_text()
        and "o2" in Path(second.rejects_file).read_text()
    )


def test_loading_bumps_the_data_version_per_file(ws, tmp_path):
    before = ws.data_version
    ws.ingest([write(tmp_path / "customers.csv", "customer_id\nc1\n")])
    assert ws.data_version == before + 1
    ws.ingest([write(tmp_path / "customers.csv", "customer_id\nc1\n")])  # nothing new
    assert ws.data_version == before + 1


def test_extras_keep_their_json_types(ws, tmp_path):
    jsonl = write(
        tmp_path / "customers.jsonl",
        '{"customer_id": "c1", "visits": 5, "tags": ["a", "b"], "vip": true, "note": " x "}\n',
    )
    ws.ingest([jsonl])
    attrs = json.loads(ws.engine.scalar("SELECT attributes FROM customers"))
    assert attrs == {"visits": 5, "tags": ["a", "b"], "vip": True, "note": " x "}
    parquet = tmp_path / "more_customers.parquet"
    duckdb.sql("SELECT 'c2' AS customer_id, [1, 2] AS scores, 3.5 AS score").write_parquet(
        str(parquet)
    )
    ws.ingest([parquet])
    attrs = json.loads(
        ws.engine.scalar("SELECT attributes FROM customers WHERE customer_id = 'c2'")
    )
    assert attrs == {"scores": [1, 2], "score": 3.5}
