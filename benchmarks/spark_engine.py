"""The six analyses on DuckDB and on Spark (local mode), timed in one process.

    .venv/bin/python benchmarks/spark_engine.py                        # 2,000 people
    .venv/bin/python benchmarks/spark_engine.py --people 100000 --repeats 1
    .venv/bin/python benchmarks/spark_engine.py --workspace WS --conf spark.driver.memory=8g

Each analysis runs `--repeats` times on each engine; the median wall time is printed. The
Spark session is started once (its start-up and the lake export are timed apart), as a
notebook or `spark-submit` job would hold it; `benchmarks/scale.py --spark` times the CLI
instead, a fresh JVM per command. Spark's settings: `[spark]` of the workspace plus `--conf`
(local mode keeps everything in the driver's JVM: give it memory for large workspaces).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cxloop
from cxloop import analyses
from cxloop.engines.lake_workspace import analytics_workspace
from cxloop.engines.spark_engine import spark_session

ANALYSES = ("scorecard", "journey", "moments", "clv", "segments", "personas")


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workspace", help="an existing, loaded workspace (no generation)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--conf", action="append", default=[], help="key=value (repeatable)")
    parser.add_argument("--only", nargs="*", default=list(ANALYSES))
    args = parser.parse_args()

    if args.workspace:
        ws = cxloop.Workspace.open(args.workspace)
    else:
        from cxloop.generate.pipeline import generate

        root = Path(tempfile.mkdtemp(prefix="cxloop-spark-bench-"))
        data = generate(root / "data", people=args.people, seed=args.seed)
        ws = cxloop.Workspace.init(root / "ws", brand="Northwind")
        ws.ingest(list(data.files.values()))
    analyses.personas(ws)  # fit and save the persona model once: both engines load it
    conf = (*ws.config.spark.conf, *args.conf)
    started = time.perf_counter()
    session = spark_session(replace(ws.config.spark, master=args.master, conf=conf))
    print(f"spark session start: {time.perf_counter() - started:.1f} s ({args.master})")
    with ws:
        started = time.perf_counter()
        with analytics_workspace(ws, "spark", session=session) as on_spark:
            print(f"lake export and registration: {time.perf_counter() - started:.1f} s")
            print(f"{'analysis':<12} {'duckdb s':>10} {'spark s':>10}   load")
            for name in args.only:
                run = getattr(analyses, name)
                duck = timed(lambda run=run: run(ws), args.repeats)
                spark = timed(lambda run=run: run(on_spark), args.repeats)
                load = os.getloadavg()[0]
                print(f"{name:<12} {duck:>10.2f} {spark:>10.2f}   {load:4.1f}", flush=True)
    session.stop()


if __name__ == "__main__":
    main()
