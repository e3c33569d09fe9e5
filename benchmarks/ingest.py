"""Ingest benchmark: cxloop's validated load against DuckDB's bare read of the same file.

Target (issue 2): at least 0.5x the speed of DuckDB's own `read_csv` / `read_parquet` of the
same file into a table (a ratio measured in the same run, so machine noise cancels), and at
least 1 million event rows per second from Parquet.

    .venv/bin/python benchmarks/ingest.py                 # 100,000 people, 3 repeats
    .venv/bin/python benchmarks/ingest.py --people 20000 --repeats 5

The baseline writes into a file-backed DuckDB database, like a workspace does. Medians of the
repeats are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

import cxloop
from cxloop.generate import generate


def bare_load(path: Path, db_dir: Path) -> float:
    db = db_dir / "bare.duckdb"
    if db.exists():
        db.unlink()
    con = duckdb.connect(str(db))
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    started = time.perf_counter()
    con.execute(f"CREATE TABLE events AS SELECT * FROM {reader}(?)", [str(path)])
    con.execute("CHECKPOINT")
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def cxloop_load(path: Path, db_dir: Path) -> tuple[float, int]:
    ws_dir = db_dir / "ws"
    if ws_dir.exists():
        shutil.rmtree(ws_dir)
    with cxloop.Workspace.init(ws_dir) as ws:
        started = time.perf_counter()
        report = ws.ingest([path])
        ws.engine.execute("CHECKPOINT")
        elapsed = time.perf_counter() - started
    return elapsed, report.files[0].rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None, help="reuse generated data here")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args()

    data = args.data or Path(tempfile.gettempdir()) / f"cxloop-bench-{args.people}-{args.seed}"
    events_csv = data / "events.csv"
    if not events_csv.exists():
        t0 = time.perf_counter()
        generate(data, people=args.people, seed=args.seed, dirty_rate=0.0)
        print(f"generated {args.people:,} people in {time.perf_counter() - t0:.1f} s")
    events_parquet = data / "events.parquet"
    if not events_parquet.exists():
        # A typed Parquet export, as a warehouse writes it (timestamps, numbers, booleans).
        duckdb.execute(
            "COPY (SELECT * FROM read_csv(?)) TO '"
            + str(events_parquet).replace("'", "''")
            + "' (FORMAT parquet)",
            [str(events_csv)],
        )

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for label, path in (("csv", events_csv), ("parquet", events_parquet)):
            bare, ours, rows = [], [], 0
            for _ in range(args.repeats):
                bare.append(bare_load(path, scratch))
                elapsed, rows = cxloop_load(path, scratch)
                ours.append(elapsed)
            bare_s, ours_s = statistics.median(bare), statistics.median(ours)
            results[label] = {
                "rows": rows,
                "bytes": path.stat().st_size,
                "bare_s": round(bare_s, 3),
                "cxloop_s": round(ours_s, 3),
                "speed_ratio": round(bare_s / ours_s, 3),
                "rows_per_s": round(rows / ours_s),
            }
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    doc = {
        "people": args.people,
        "repeats": args.repeats,
        "machine": machine,
        "duckdb": duckdb.__version__,
        "results": results,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"machine: {machine}; duckdb {duckdb.__version__}; medians of {args.repeats}")
    print("| format | rows | bare DuckDB (s) | cxloop ingest (s) | speed ratio | rows/s |")
    print("|---|---|---|---|---|---|")
    for label, r in results.items():
        print(
            f"| {label} | {r['rows']:,} | {r['bare_s']} | {r['cxloop_s']} | "
            f"{r['speed_ratio']} | {r['rows_per_s']:,} |"
        )


if __name__ == "__main__":
    main()
