"""Segments + personas benchmark (issue 7): target under 60 s for 1,000,000 people.

    .venv/bin/python benchmarks/segments.py                      # 1,000,000 people
    .venv/bin/python benchmarks/segments.py --people 20000 --seed 7
    .venv/bin/python benchmarks/segments.py --workspace PATH     # any prepared workspace

Uses the workspace cached by benchmarks/scorecard.py for the same people and seed when it
exists (generated, loaded and profiled once); otherwise builds it. The measurement runs in a
fresh process; peak memory is that process's own high-water mark (VmHWM). Text signals
(`voc_texts`: sentiment and advocacy intent, built once per data version and shared with
`cxloop voc` and the scorecard) are timed apart, before the analyses.

To time another analysis in the same run, add a step to STEPS: a name, the import and the
call on `ws`; the total of all steps is compared with the target.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scorecard import PEAK, prepare  # shares the cached workspace

TARGET_S = 60.0

# (name, import statement, expression on `ws`): each timed in order, in one process.
STEPS: list[tuple[str, str, str]] = [
    (
        "segments",
        "from cxloop.analytics.segments import build_segments",
        "build_segments(ws)",
    ),
    (
        "personas",
        "from cxloop.analytics.personas import PersonasSettings, build_personas",
        "build_personas(ws, PersonasSettings.from_config(ws, refit=True))",
    ),
]

RUN = (
    PEAK
    + """
import json, sys, time
import cxloop
from cxloop.analytics.voc.signals import ensure_signals
steps = json.loads(sys.argv[2])
for _, imports, _ in steps:
    exec(imports)
timings, results = {}, {}
with cxloop.Workspace.open(sys.argv[1]) as ws:
    t0 = time.perf_counter()
    ws.profiles.ensure_current()
    timings["profiles_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ensure_signals(ws)
    timings["signals_s"] = time.perf_counter() - t0
    for name, _, call in steps:
        t0 = time.perf_counter()
        results[name] = eval(call)
        timings[name + "_s"] = time.perf_counter() - t0
seg = results.get("segments") or {}
print(json.dumps({**timings, "peak_mb": peak_mb(), "profiles": seg.get("profiles"),
                  "segments": {s["segment"]: s["profiles"] for s in seg.get("segments", [])},
                  "loyads": (seg.get("loyads") or {}).get("profiles"),
                  "periods": len(seg.get("periods", [])),
                  "clv_fitted": (seg.get("clv") or {}).get("fitted")}))
"""
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workspace", type=Path, help="time this workspace instead")
    args = parser.parse_args()
    if args.workspace:
        ws_dir = args.workspace
        print(f"workspace: {ws_dir}")
    else:
        base = Path(tempfile.gettempdir()) / f"cxloop-bench-scorecard-{args.people}-{args.seed}"
        base.mkdir(exist_ok=True)
        ws_dir, prep = prepare(args.people, args.seed, base)
        print(f"data: {args.people:,} people, {int(prep['rows']):,} rows")
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(ws_dir), json.dumps(STEPS)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    steps = " + ".join(f"{name} {r[name + '_s']:.1f} s" for name, _, _ in STEPS)
    total = sum(r[name + "_s"] for name, _, _ in STEPS)
    print(
        f"profiles check {r['profiles_s']:.1f} s; text signals (once per data version) "
        f"{r['signals_s']:.1f} s"
    )
    print(
        f"{steps} = {total:.1f} s (target < {TARGET_S:.0f} s); peak memory {r['peak_mb']:,.0f} MB"
    )
    if r["profiles"] is not None:
        print(
            f"{r['profiles']:,} profiles: {r['segments']}; loyads {r['loyads']:,}; "
            f"{r['periods']} periods; P(alive) model fitted: {r['clv_fitted']}"
        )


if __name__ == "__main__":
    main()
