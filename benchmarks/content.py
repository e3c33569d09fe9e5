"""Content lift and experience architecture benchmark (issue 13).

    .venv/bin/python benchmarks/content.py                     # 200,000 people
    .venv/bin/python benchmarks/content.py --people 50000 --repeats 3

Builds (once, cached in the temp folder) a workspace from the generator: the contract files,
the content views and onboarding survey, the asset catalogue in the programs' store and the
example `architecture.toml`; profiles built. Then, each in a fresh process, times
`build_content` (reach, engagement, adjusted lift per asset and moment, NPS outcome) and
`build_architecture` (the inventory with its pivotal moments, and the value framework), and
reports the median of `--repeats` runs and the process's peak memory (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = """
import json, sys, time
import cxloop
from cxloop.content import build_content
from cxloop.experience import build_architecture
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
with cxloop.Workspace.open(sys.argv[1]) as ws:
    ws.profiles.ensure_current()
    t0 = time.perf_counter()
    content = build_content(ws)
    t1 = time.perf_counter()
    arch = build_architecture(ws)
    t2 = time.perf_counter()
units = sum(m["units"] for m in content["moments"])
print(json.dumps({"content_s": t1 - t0, "architecture_s": t2 - t1, "peak_mb": peak_mb(),
                  "units": units, "views": sum(a["engagement"]["views"] for a in content["assets"]),
                  "customers": arch["value_framework"]["customers"]}))
"""


def prepare(people: int, seed: int, base: Path) -> tuple[Path, dict[str, float]]:
    import cxloop
    from cxloop.content.sample import load_sample_content
    from cxloop.experience.example import write_example
    from cxloop.generate import generate

    ws_dir = base / "ws"
    if not (base / "prepare.json").exists():
        t0 = time.perf_counter()
        data = generate(base / "data", people=people, seed=seed, file_format="parquet",
                        dirty_rate=0)  # fmt: skip
        timings = {"generate_s": time.perf_counter() - t0}
        with cxloop.Workspace.init(ws_dir, brand="Northwind") as ws:
            t0 = time.perf_counter()
            report = ws.ingest(sorted(data.files.values()))
            load_sample_content(ws, data.content)
            timings["ingest_s"] = time.perf_counter() - t0
            timings["rows"] = report.loaded
            t0 = time.perf_counter()
            ws.profiles.build()
            timings["profiles_s"] = time.perf_counter() - t0
        write_example(ws_dir)
        (base / "prepare.json").write_text(json.dumps(timings))
    return ws_dir, json.loads((base / "prepare.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.gettempdir()) / f"cxloop-bench-content-{args.people}-{args.seed}"
    base.mkdir(exist_ok=True)
    ws_dir, prep = prepare(args.people, args.seed, base)
    print(
        f"data: {args.people:,} people, {int(prep['rows']):,} rows; "
        + ", ".join(f"{k} {v:.1f}" for k, v in prep.items() if k.endswith("_s"))
    )
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run(
            [sys.executable, "-c", RUN, str(ws_dir)], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    for key in ("content_s", "architecture_s"):
        values = sorted(r[key] for r in runs)
        print(f"{key}: median {statistics.median(values):.2f} s (runs: "
              + ", ".join(f"{v:.2f}" for v in values) + ")")  # fmt: skip
    r = runs[-1]
    print(
        f"{r['units']:,} outcome units, {r['views']:,} content views, {r['customers']:,} "
        f"customers in the value framework; peak memory {max(x['peak_mb'] for x in runs):,.0f} MB"
    )


if __name__ == "__main__":
    main()
