"""Probabilistic identity matching: time and accuracy as the number of records grows.

For each size, customer records with planted duplicates (`cxloop.generate.duplicates`) are
loaded into a fresh workspace; then profiles are built three ways and timed:

- rules alone (`[identity] probabilistic = false`);
- rules + model, training included (the first build with matching on);
- rules + model with the saved model (every later build).

Precision and recall are on record pairs: the model's accepted pairs, and the profiles.

    .venv/bin/python benchmarks/identity_matching.py                      # 20 k and 100 k people
    .venv/bin/python benchmarks/identity_matching.py --people 10000 --repeats 1
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

import cxloop
from cxloop.generate.duplicates import generate_duplicates


def pairs_of(rows: list[tuple[str, str]]) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = {}
    for record, group in rows:
        groups.setdefault(group, []).append(record)
    return {
        (a, b) if a < b else (b, a)
        for members in groups.values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    }


def precision_recall(found: set, truth: set) -> str:
    hits = len(found & truth)
    return f"P={hits / max(len(found), 1):.3f} R={hits / max(len(truth), 1):.3f}"


def measure(people: int, repeats: int, root: Path) -> None:
    data = generate_duplicates(people, seed=1)
    truth = data.true_pairs()
    pq.write_table(data.customers, root / "customers.parquet")
    ws = cxloop.Workspace.init(root / f"ws-{people}")
    ws.ingest([root / "customers.parquet"])
    identity = ws.config.identity

    def build(probabilistic: bool, retrain: bool) -> float:
        ws.config = dataclasses.replace(
            ws.config, identity=dataclasses.replace(identity, probabilistic=probabilistic)
        )
        started = time.perf_counter()
        ws.profiles.build(retrain=retrain)
        return time.perf_counter() - started

    rules = statistics.median(build(False, False) for _ in range(repeats))
    profile_rows = "SELECT source || ':' || customer_id, profile_id FROM profile_records"
    rules_pr = precision_recall(pairs_of(ws.engine.fetchall(profile_rows)), truth)
    trained = statistics.median(build(True, True) for _ in range(repeats))
    saved = statistics.median(build(True, False) for _ in range(repeats))
    accepted = ws.engine.fetchall(
        "SELECT replace(substr(a, 3), chr(31), ':'), replace(substr(b, 3), chr(31), ':') "
        "FROM identity_matches WHERE status = 'match'"
    )
    model = {(a, b) if a < b else (b, a) for a, b in accepted}
    summary = ws.profiles.summary()
    both_pr = precision_recall(pairs_of(ws.engine.fetchall(profile_rows)), truth)
    print(
        f"{people:>9,} people {data.customers.num_rows:>9,} records {len(truth):>8,} true pairs | "
        f"rules {rules:6.1f} s ({rules_pr}) | + model, training {trained:6.1f} s, "
        f"saved model {saved:6.1f} s | model pairs {precision_recall(model, truth)} | "
        f"profiles {both_pr} | review {summary.review_pairs:,}",
        flush=True,
    )
    ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for people in args.people:
            measure(people, args.repeats, Path(tmp))


if __name__ == "__main__":
    main()
