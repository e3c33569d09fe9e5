"""Journeys + pivotal moments benchmark (issue 5): target under 60 s for 1,000,000 people.

    .venv/bin/python benchmarks/moments.py                      # 1,000,000 people
    .venv/bin/python benchmarks/moments.py --people 100000

Uses the workspace cached by benchmarks/scorecard.py for the same people and seed when it
exists (generated, loaded and profiled once); otherwise builds it. Each measurement runs in a
fresh process; peak memory is that process's own high-water mark (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scorecard import PEAK, prepare  # shares the cached workspace

RUN = (
    PEAK
    + """
import json, sys, time
import cxloop
from cxloop.analytics.journey import build_journey
from cxloop.analytics.moments import MomentsSettings, build_moments
with cxloop.Workspace.open(sys.argv[1]) as ws:
    if ws.profiles.stale or "order_id" not in ws.engine.columns_of("profile_events"):
        ws.profiles.build()
    t0 = time.perf_counter()
    journey = build_journey(ws)
    t1 = time.perf_counter()
    moments = build_moments(ws, MomentsSettings(outcome="nps"))
    t2 = time.perf_counter()
print(json.dumps({"journey_s": t1 - t0, "moments_s": t2 - t1, "peak_mb": peak_mb(),
                  "answers": moments["n"], "conditions": len(moments["moments"]),
                  "customers": journey["loop"]["customers"]}))
"""
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    import tempfile

    base = Path(tempfile.gettempdir()) / f"cxloop-bench-scorecard-{args.people}-{args.seed}"
    base.mkdir(exist_ok=True)
    ws_dir, prep = prepare(args.people, args.seed, base)
    print(f"data: {args.people:,} people, {int(prep['rows']):,} rows")
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(ws_dir)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    total = r["journey_s"] + r["moments_s"]
    print(
        f"journey {r['journey_s']:.1f} s + moments (NPS, {r['answers']:,} answers, "
        f"{r['conditions']} conditions) {r['moments_s']:.1f} s = {total:.1f} s "
        f"(target < 60 s); peak memory {r['peak_mb']:,.0f} MB; {r['customers']:,} customers"
    )


if __name__ == "__main__":
    main()
