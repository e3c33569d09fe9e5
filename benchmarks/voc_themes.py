"""Themes benchmark: `discover_themes` on 1,000,000 short texts.

Target (voice-of-the-customer issue): the whole VoC, sentiment and themes, on 1,000,000 short
texts in under 3 minutes on 2 cores, so themes well under 60 s.

    .venv/bin/python benchmarks/voc_themes.py                     # 1,000,000 texts
    .venv/bin/python benchmarks/voc_themes.py --unique 200000     # 200,000 of them distinct

The texts are the generator's verbatims (feedback and mentions), tiled to `--texts`. Real and
generated corpora repeat themselves, and tiling keeps the generator's few thousand distinct
texts; `--unique N` makes N of the texts distinct by appending an order number to each, which
leaves the vocabulary as it was (a number seen once is below min_df) but makes every step
that runs per distinct text (vectorising, putting texts on the topics) run N times. Each
measurement runs in a fresh process so that peak memory (VmHWM) belongs to it alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BRANDS = ("Northwind", "Contoso", "Fabrikam")

RUN = """
import json, sys, time
from cxloop.analytics.voc.themes import discover_themes

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

texts = json.load(open(sys.argv[1]))
started = time.perf_counter()
model, per_text = discover_themes(texts, stop_words=sys.argv[2:])
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb(), "k": model.k_chosen,
                  "themes": [t.name for t in model.themes], "fitted_on": model.fitted_on,
                  "distinct": len(set(texts)), "with_theme": sum(1 for t in per_text if t)}))
"""


def corpus(people: int, seed: int, base: Path) -> list[str]:
    """The generator's verbatims: feedback texts and mention texts, in file order."""
    from cxloop.generate import generate

    data = base / "data"
    if not (data / "mentions.csv").exists():
        generate(data, people=people, seed=seed, dirty_rate=0)
    texts: list[str] = []
    for name in ("feedback.csv", "mentions.csv"):
        with (data / name).open(encoding="utf-8", newline="") as f:
            texts.extend(row["text"] for row in csv.DictReader(f) if row["text"])
    return texts


def tile(texts: list[str], n: int, unique: int) -> list[str]:
    """`texts` repeated to n; the first `unique` get an order number, so they are distinct."""
    out = [texts[i % len(texts)] for i in range(n)]
    for i in range(min(unique, n)):
        out[i] = f"{out[i]} Order {1_000_000 + i}."
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--unique", type=int, default=0, help="texts made distinct")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.gettempdir()) / f"cxloop-bench-voc-{args.people}-{args.seed}"
    base.mkdir(exist_ok=True)
    source = corpus(args.people, args.seed, base)
    texts = tile(source, args.texts, args.unique)
    path = base / f"texts-{args.texts}-{args.unique}.json"
    path.write_text(json.dumps(texts), encoding="utf-8")
    print(
        f"data: {len(texts):,} texts tiled from {len(source):,} generated verbatims "
        f"({args.people:,} people), {len(set(texts)):,} distinct"
    )
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run(
            [sys.executable, "-c", RUN, str(path), *BRANDS],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = statistics.median(r["seconds"] for r in runs)
    print(
        f"discover_themes: median {seconds:.2f} s over {args.repeats} "
        f"(min {min(r['seconds'] for r in runs):.2f}, max {max(r['seconds'] for r in runs):.2f}), "
        f"peak memory {max(r['peak_mb'] for r in runs):,.0f} MB"
    )
    first = runs[0]
    print(
        f"k = {first['k']} (fitted on {first['fitted_on']:,} distinct texts); "
        f"{first['with_theme']:,} of {len(texts):,} texts have a theme"
    )
    for name in first["themes"]:
        print(f"  {name}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total wall time {time.perf_counter() - started:.1f} s")
