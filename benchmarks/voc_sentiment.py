"""Sentiment benchmark: clean and score N short texts, then the same through the workspace cache.

Target (voice-of-the-customer issue): sentiment and themes for 1,000,000 short texts in under
3 minutes on this machine (2 cores); this measures the sentiment half.

    .venv/bin/python benchmarks/voc_sentiment.py                         # 1,000,000 texts
    .venv/bin/python benchmarks/voc_sentiment.py --distinct-share 1 --repeats 1

Texts come from the generator's phrase banks (`cxloop.generate.text.compose`): 70% reviews
and survey verbatims, 30% social posts naming Northwind or Contoso. Composed texts repeat a
lot (a few tens of thousands of distinct ones per million), as template answers and short
verbatims do; `--distinct-share` makes that share of the texts unique (an order reference
is appended) to measure the worst case, where every text must be cleaned and scored.

Cleaning and scoring are timed separately (medians over `--repeats`), then `score_texts`
runs twice on a fresh workspace: cold (hash, clean, score, store) and warm (all cached).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

import cxloop
from cxloop.analytics.voc.sentiment import VaderBackend, score_cleaned, score_texts
from cxloop.analytics.voc.text import clean_texts
from cxloop.generate.text import SENTIMENTS, THEMES, compose


def make_texts(n: int, seed: int, distinct_share: float) -> list[str]:
    rng = np.random.default_rng(seed)
    theme = rng.integers(0, len(THEMES), n)
    sentiment = rng.integers(0, len(SENTIMENTS), n)
    social = rng.random(n) < 0.3
    texts = np.empty(n, dtype=object)
    texts[~social] = compose(rng, theme[~social], sentiment[~social]).to_pylist()
    texts[social] = compose(
        rng,
        theme[social],
        sentiment[social],
        social_brand=rng.integers(0, 2, int(social.sum())),
        brands=("Northwind", "Contoso"),
    ).to_pylist()
    unique = np.flatnonzero(rng.random(n) < distinct_share)
    for i in unique:
        texts[i] = f"{texts[i]} Order #{100000 + i}."
    return texts.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--distinct-share", type=float, default=0.0, help="share of texts made unique (0-1)"
    )
    parser.add_argument("--workers", type=int, default=None, help="VADER worker processes")
    parser.add_argument("--no-cache", action="store_true", help="skip the workspace runs")
    args = parser.parse_args()

    t0 = time.perf_counter()
    texts = make_texts(args.texts, args.seed, args.distinct_share)
    print(
        f"data: {len(texts):,} texts, {len(set(texts)):,} distinct, mean length "
        f"{statistics.fmean(map(len, texts)):.0f} characters; composed in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    backend = VaderBackend(workers=args.workers)
    print(f"backend: {backend.name} {backend.version}, {backend.workers} worker process(es)")

    clean_s: list[float] = []
    score_s: list[float] = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        cleaned = clean_texts(texts)
        t1 = time.perf_counter()
        table = score_cleaned(cleaned, backend)
        t2 = time.perf_counter()
        clean_s.append(t1 - t0)
        score_s.append(t2 - t1)
    scorable = {c.text for c in cleaned if c.scorable}
    statuses = Counter(table.column("status").to_pylist())
    labels = Counter(table.column("label").to_pylist())
    clean_m, score_m = statistics.median(clean_s), statistics.median(score_s)
    total = clean_m + score_m
    print(f"distinct texts scored: {len(scorable):,}")
    print(f"status: {dict(statuses)}; labels: {dict(labels)}")
    print(
        f"clean {clean_m:.2f} s + score {score_m:.2f} s = {total:.2f} s "
        f"(median of {args.repeats}); {len(texts) / total:,.0f} texts/s"
    )
    if args.no_cache:
        return
    items = [("feedback", str(i), t) for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp, cxloop.Workspace.init(Path(tmp) / "ws") as ws:
        t0 = time.perf_counter()
        score_texts(ws.engine, items, backend)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        score_texts(ws.engine, items, backend)
        warm = time.perf_counter() - t0
    print(
        f"workspace cache (score_texts): cold {cold:.2f} s ({len(texts) / cold:,.0f} texts/s), "
        f"warm {warm:.2f} s ({len(texts) / warm:,.0f} texts/s, nothing rescored)"
    )


if __name__ == "__main__":
    main()
