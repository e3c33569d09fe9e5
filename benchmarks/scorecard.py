"""Scorecard benchmark: the full scorecard with a monthly trend and one breakdown.

Target (issue 3): 1,000,000 people (tens of millions of events) in under 30 s on this
machine, with peak memory under 4 GB; the same metrics computed in pandas on the same data
are measured in the same run, as a ratio.

    .venv/bin/python benchmarks/scorecard.py                    # 1,000,000 people
    .venv/bin/python benchmarks/scorecard.py --people 100000 --repeats 3

The data is generated (Parquet) and loaded once into a cached workspace; each measurement
runs in a fresh process so that peak memory (ru_maxrss) belongs to that measurement alone.
pandas needs the `bench` extra (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Peak memory of this process only: VmHWM belongs to the process's own address space
# (ru_maxrss can carry the parent's peak across fork and exec on Linux).
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

CXLOOP_RUN = (
    PEAK
    + """
import json, sys, time
import cxloop
from cxloop.analytics.periods import Period
from cxloop.analytics.scorecard import Scope, build_scorecard
with cxloop.Workspace.open(sys.argv[1]) as ws:
    started = time.perf_counter()
    doc = build_scorecard(ws, Scope(period=Period.MONTH, by="touchpoint"))
    elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb(), "nps": doc["metrics"]["nps"]["value"],
                  "revenue": doc["metrics"]["revenue"]["value"],
                  "steps": doc["metrics"]["steps_per_journey"]["value"],
                  "periods": len(doc["trend"]), "groups": len(doc["breakdown"])}))
"""
)

PANDAS_RUN = (
    PEAK
    + """
import json, sys, time
import duckdb, numpy as np, pandas as pd

con = duckdb.connect(sys.argv[1] + "/warehouse.duckdb", read_only=True)
t0 = time.perf_counter()
fb = con.sql("SELECT metric, score, touchpoint, submitted_at FROM feedback").df()
orders = con.sql(
    "SELECT l.profile_id, o.amount::DOUBLE AS amount, o.ordered_at FROM orders o "
    "JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id "
    "WHERE o.status = 'completed'").df()
ev = con.sql(
    "SELECT l.profile_id, e.occurred_at, e.duration_s, e.touchpoint FROM events e "
    "JOIN profile_links l ON l.kind = 'events' AND l.source = e.source AND l.id = e.event_id"
).df()
load = time.perf_counter() - t0

t0 = time.perf_counter()
fb["period"] = fb["submitted_at"].dt.to_period("M")
nps = fb[fb.metric == "nps"].assign(
    p=lambda d: d.score >= 9, d=lambda d: d.score < 7, rel=lambda d: d.touchpoint.isna())

def nps_of(g):
    return pd.Series({"n": len(g), "nps": 100 * (g.p.sum() - g.d.sum()) / max(len(g), 1)})

nps_all = nps_of(nps)
nps_trend = nps.groupby("period").apply(nps_of)
nps_by = nps.groupby(nps.touchpoint.fillna("(relationship)")).apply(nps_of)
for metric, cond in (("ces", 5), ("csat", 4)):
    sub = fb[fb.metric == metric]
    for key in (None, "period", "touchpoint"):
        g = sub if key is None else sub.groupby(sub[key].astype(str))
        g.score.agg(["mean", "var", "count"]), (g.score >= cond).mean() if key is None else None

orders["period"] = orders["ordered_at"].dt.to_period("M")
per = orders.groupby("period").agg(revenue=("amount", "sum"), orders=("amount", "size"),
                                    aov=("amount", "mean"), customers=("profile_id", "nunique"))
cell = orders.groupby(["period", "profile_id"]).amount.agg(["size", "sum"]).reset_index()
freq = cell.groupby("period")["size"].agg(["mean", "var"])
top = cell.sort_values("sum", ascending=False).groupby("period")["sum"].apply(
    lambda s: s.iloc[: int(np.ceil(0.2 * len(s)))].sum() / s.sum())
buyers = cell[["period", "profile_id"]]
nxt = buyers.assign(period=buyers.period + 1).merge(buyers, on=["period", "profile_id"],
                                                    how="left", indicator=True)
retention = nxt.groupby("period")["_merge"].apply(lambda s: (s == "both").mean())
cell = cell.sort_values(["profile_id", "period"])
cell["cum"] = cell.groupby("profile_id")["size"].cumsum()
repeat = (cell.cum >= 2).groupby(cell.period).mean()

ev = ev.sort_values(["profile_id", "occurred_at"])
gap = ev.groupby("profile_id").occurred_at.diff() > pd.Timedelta(minutes=30)
first = ev.profile_id.ne(ev.profile_id.shift())
ev["journey"] = (gap | first).cumsum()
ev["period"] = ev["occurred_at"].dt.to_period("M")
journeys = ev.groupby("journey").agg(period=("period", "first"), steps=("journey", "size"))
steps = journeys.groupby("period").steps.agg(["mean", "var", "count"])
ev["support"] = ev.touchpoint.isin(["support_contact", "chat"])
active = ev.groupby(["period", "profile_id"]).support.max()
support_rate = active.groupby(level=0).mean()
median = ev.groupby("period").duration_s.median()
by_tp = ev.groupby("touchpoint").duration_s.median()
compute = time.perf_counter() - t0
print(json.dumps({"load_seconds": load, "seconds": compute,
                  "peak_mb": peak_mb(),
                  "nps": float(nps_all["nps"]), "revenue": float(orders.amount.sum()),
                  "steps": float(journeys.steps.mean())}))
"""
)


def run(code: str, workspace: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, str(workspace)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare(people: int, seed: int, base: Path) -> tuple[Path, dict]:
    import cxloop
    from cxloop.generate import generate

    data, ws_dir = base / "data", base / "ws"
    timings: dict[str, float] = {}
    if not (ws_dir / "cxloop.toml").exists():
        t0 = time.perf_counter()
        generated = generate(data, people=people, seed=seed, file_format="parquet", dirty_rate=0)
        timings["generate_s"] = time.perf_counter() - t0
        with cxloop.Workspace.init(ws_dir, brand="Northwind", competitors=("Contoso",)) as ws:
            t0 = time.perf_counter()
            report = ws.ingest(sorted(generated.files.values()))
            timings["ingest_s"] = time.perf_counter() - t0
            timings["rows"] = sum(f.rows for f in report.files)
            t0 = time.perf_counter()
            ws.profiles.build()
            timings["profiles_s"] = time.perf_counter() - t0
        (base / "prepare.json").write_text(json.dumps(timings))
    return ws_dir, json.loads((base / "prepare.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument(
        "--memory-limit", default="", help="the workspace's [engine] memory_limit, e.g. 3GB"
    )
    args = parser.parse_args()
    base = Path(tempfile.gettempdir()) / f"cxloop-bench-scorecard-{args.people}-{args.seed}"
    base.mkdir(exist_ok=True)
    ws_dir, prep = prepare(args.people, args.seed, base)
    config = ws_dir / "cxloop.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        re.sub(r'(?m)^memory_limit = ".*"$', f'memory_limit = "{args.memory_limit}"', text),
        encoding="utf-8",
    )
    print(
        f"data: {args.people:,} people, {int(prep['rows']):,} rows; "
        + ", ".join(f"{k} {v:.1f}" for k, v in prep.items() if k.endswith("_s"))
    )
    print(f"memory limit: {args.memory_limit or 'DuckDB default (80% of RAM)'}")
    ours = [run(CXLOOP_RUN, ws_dir) for _ in range(args.repeats)]
    seconds = statistics.median(r["seconds"] for r in ours)
    peak = max(r["peak_mb"] for r in ours)
    print(
        f"cxloop scorecard (monthly trend + by touchpoint): median {seconds:.2f} s "
        f"over {args.repeats}, peak memory {peak:,.0f} MB; {ours[0]['periods']} periods, "
        f"{ours[0]['groups']} groups"
    )
    if args.no_pandas:
        return
    theirs = [run(PANDAS_RUN, ws_dir) for _ in range(args.repeats)]
    p_seconds = statistics.median(r["seconds"] for r in theirs)
    p_load = statistics.median(r["load_seconds"] for r in theirs)
    p_peak = max(r["peak_mb"] for r in theirs)
    print(
        f"pandas (same metric families, load excluded): median {p_seconds:.2f} s "
        f"(+ {p_load:.2f} s to load the tables), peak memory {p_peak:,.0f} MB"
    )
    print(
        f"ratio pandas / cxloop: {p_seconds / seconds:.2f}x (compute only), "
        f"{(p_seconds + p_load) / seconds:.2f}x (with loading)"
    )
    same = (
        abs(theirs[0]["nps"] - ours[0]["nps"]) < 1e-9
        and abs(theirs[0]["revenue"] - ours[0]["revenue"]) < 0.01 * max(1, ours[0]["revenue"]) / 1e6
    )
    print(
        f"same numbers (overall NPS, revenue, steps per journey): {same}; "
        f"steps {ours[0]['steps']:.6f} vs {theirs[0]['steps']:.6f}"
    )


if __name__ == "__main__":
    main()
