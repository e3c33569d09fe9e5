"""Trigger evaluation benchmark (issue 11): evaluation on ingest of 1,000,000 events < 60 s.

    .venv/bin/python benchmarks/triggers.py                      # 1,000,000 events, 3 repeats
    .venv/bin/python benchmarks/triggers.py --events 100000 --repeats 1

Data: `--customers` customers (half with marketing consent) and `--events` events over the
last 6 days, spread evenly over 10 touchpoints, 20% unsuccessful, written by DuckDB to Parquet.
Each repeat uses a fresh workspace (embedded store) with three event triggers:

    ces_after_support: event touchpoint=support_contact -> survey ces            (~10% of rows)
    returns_desk: event touchpoint=return success=false -> case logistics         (~2%)
    checkout_help: event touchpoint=checkout success=false -> webhook default     (~2%)

The customers are loaded and profiled first; the events are then loaded with the reactors
switched off (`load_s`), and the reactor's work on the loaded rows is timed on its own
(`evaluate_s`, what `cxloop ingest` adds to a load): candidates and judgement in DuckDB, and
every decision, outbox message and case written to the programs store. The events' customers
are known, so the profiles are not rebuilt (`profiles_rebuilt` says so); `profile_build_s` is
the identity build that events naming new people would add. Printed: one JSON line per
repeat, then the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from cxloop import reactions
from cxloop.reactions import LoadedRows

RULES = [
    "ces_after_support: event touchpoint=support_contact -> survey ces",
    "returns_desk: event touchpoint=return success=false -> case logistics",
    "checkout_help: event touchpoint=checkout success=false -> webhook default",
]
TOUCHPOINTS = [
    "product_view", "search", "add_to_cart", "checkout", "delivery", "onboarding",
    "support_contact", "chat", "return", "review",
]  # fmt: skip


def write_data(folder: Path, customers: int, events: int) -> tuple[Path, Path]:
    con = duckdb.connect()
    customers_file, events_file = folder / "customers.parquet", folder / "events.parquet"
    con.execute(
        f"""COPY (SELECT 'c' || i AS customer_id, 'crm' AS source,
                     'c' || i || '@example.com' AS email, i % 2 = 0 AS consent_marketing
              FROM range({int(customers)}) t(i)) TO '{customers_file}' (FORMAT parquet)"""
    )
    tps = "[" + ", ".join(f"'{t}'" for t in TOUCHPOINTS) + "]"
    con.execute(
        f"""COPY (SELECT 'e' || i AS event_id, 'crm' AS source,
                     'c' || (hash(i) % {int(customers)}) AS customer_id,
                     now()::TIMESTAMP - INTERVAL 6 DAY + to_seconds(i % 518400) AS occurred_at,
                     {tps}[1 + (i % 10)] AS touchpoint, hash(i * 7) % 5 <> 0 AS success
              FROM range({int(events)}) t(i)) TO '{events_file}' (FORMAT parquet)"""
    )
    return customers_file, events_file


def one_run(folder: Path, customers_file: Path, events_file: Path) -> dict[str, float]:
    from cxloop.programs.triggers.reactions import evaluate_loaded
    from cxloop.workspace import Workspace

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.loop_helpers import loop_workspace

    path = Path(tempfile.mkdtemp(dir=folder)) / "ws"
    ws = loop_workspace(
        path,
        triggers={
            "rules": RULES,
            "max_age_days": 0,
            "quiet_hours": "",
            "webhooks": ["default http://127.0.0.1:9/hook"],
        },
    )
    assert isinstance(ws, Workspace)
    saved = reactions.REACTORS
    reactions.REACTORS = ()
    try:
        ws.ingest([customers_file])
        ws.profiles.build()
        started = time.perf_counter()
        report = ws.ingest([events_file])
        load_s = time.perf_counter() - started
    finally:
        reactions.REACTORS = saved
    [loaded] = report.files
    started = time.perf_counter()
    summary = evaluate_loaded(ws, [LoadedRows(loaded.kind, loaded.path, loaded.loaded_at)])
    evaluate_s = time.perf_counter() - started
    rebuilt = not ws.profiles.stale
    started = time.perf_counter()
    ws.profiles.ensure_current()  # what a load of events from new people would add
    profiles_s = time.perf_counter() - started
    ws.close()
    return {
        "events": report.loaded,
        "load_s": round(load_s, 2),
        "evaluate_s": round(evaluate_s, 2),
        "profiles_rebuilt": rebuilt,
        "profile_build_s": round(profiles_s, 2),
        "candidates": summary["trigger_candidates"],
        "sent": summary["sent"],
        "skipped": summary["skipped"],
        "holdout": summary["holdout"],
        "messages": summary["messages"],
        "cases": summary["cases_opened_by_triggers"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        customers_file, events_file = write_data(folder, args.customers, args.events)
        runs = []
        for _ in range(args.repeats):
            run = one_run(folder, customers_file, events_file)
            print(json.dumps(run), flush=True)
            runs.append(run)
    medians = {
        k: statistics.median(r[k] for r in runs) if not isinstance(v, bool) else v
        for k, v in runs[0].items()
    }
    print(json.dumps({"median": medians, "repeats": args.repeats}))
    if args.out:
        args.out.write_text(json.dumps({"runs": runs, "median": medians}, indent=2))


if __name__ == "__main__":
    main()
