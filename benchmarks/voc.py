"""Voice-of-the-customer benchmark: sentiment + themes for 1,000,000 short texts (target under
3 minutes on this machine, 2 cores, default backend).

    .venv/bin/python benchmarks/voc.py                               # 1,000,000 texts
    .venv/bin/python benchmarks/voc.py --distinct-share 0.2          # 200,000 distinct texts
    .venv/bin/python benchmarks/voc.py --workspace                   # `build_voc` on the cached
                                                                     # 1 M-person workspace

Texts come from the generator's phrase banks (see benchmarks/voc_sentiment.py); composed texts
repeat, as template answers and short verbatims do, and `--distinct-share` makes that share
unique (the worst case: every text cleaned, scored and projected on the themes). Each step runs
the real code: cleaning (text.py), VADER scoring of the distinct texts (sentiment.py), theme
discovery and assignment (themes.py). `--workspace` runs the whole `build_voc` (corpus query,
cached sentiment, intent, themes, every aggregate) twice in a fresh process: cold (empty caches)
and warm (data unchanged).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from voc_sentiment import make_texts

WORKSPACE_RUN = """
import json, sys, time
import cxloop
from cxloop.analytics.voc import build_voc
with cxloop.Workspace.open(sys.argv[1]) as ws:
    for t in ("voc_texts", "voc_text_themes", "voc_sentiment"):
        ws.engine.execute(f"DROP TABLE IF EXISTS {t}")
    t0 = time.perf_counter(); doc = build_voc(ws); t1 = time.perf_counter()
    build_voc(ws); t2 = time.perf_counter()
print(json.dumps({"cold_s": t1 - t0, "warm_s": t2 - t1, "texts": doc["texts"],
                  "themes": len(doc["themes"])}))
"""


def run_texts(n: int, seed: int, distinct_share: float) -> dict[str, float]:
    from cxloop.analytics.voc.sentiment import VaderBackend, score_cleaned
    from cxloop.analytics.voc.text import clean_texts
    from cxloop.analytics.voc.themes import discover_themes

    texts = make_texts(n, seed, distinct_share)
    t0 = time.perf_counter()
    cleaned = clean_texts(texts)
    t1 = time.perf_counter()
    score_cleaned(cleaned, VaderBackend())
    t2 = time.perf_counter()
    discover_themes([c.text for c in cleaned], stop_words=("Northwind", "Contoso"))
    t3 = time.perf_counter()
    return {"clean_s": t1 - t0, "sentiment_s": t2 - t1, "themes_s": t3 - t2, "total_s": t3 - t0,
            "distinct": len(set(texts))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--distinct-share", type=float, default=0.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workspace", action="store_true")
    parser.add_argument("--people", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.workspace:
        from scorecard import prepare

        base = Path(tempfile.gettempdir()) / f"cxloop-bench-scorecard-{args.people}-3"
        base.mkdir(exist_ok=True)
        ws_dir, _ = prepare(args.people, 3, base)
        out = subprocess.run([sys.executable, "-c", WORKSPACE_RUN, str(ws_dir)],
                             capture_output=True, text=True, check=False)  # fmt: skip
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"build_voc on {args.people:,} people ({r['texts']:,} texts, {r['themes']} themes):"
              f" cold {r['cold_s']:.1f} s, warm {r['warm_s']:.1f} s (target < 180 s)")  # fmt: skip
        return
    runs = [run_texts(args.texts, args.seed, args.distinct_share) for _ in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"{args.texts:,} texts ({med['distinct']:,.0f} distinct), median of {args.repeats}: "
        f"clean {med['clean_s']:.1f} s + sentiment {med['sentiment_s']:.1f} s + themes "
        f"{med['themes_s']:.1f} s = {med['total_s']:.1f} s (target < 180 s)"
    )


if __name__ == "__main__":
    main()
