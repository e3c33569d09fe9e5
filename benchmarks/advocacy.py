"""Advocacy scoring benchmark (issue 10): target under 60 s for 1,000,000 profiles.

    .venv/bin/python benchmarks/advocacy.py                       # 1,000,000 profiles
    .venv/bin/python benchmarks/advocacy.py --profiles 100000
    .venv/bin/python benchmarks/advocacy.py --workspace PATH      # any prepared workspace

What is timed: `compute_scores` (the advocacy score with its parts for every profile with an
act, and the potential advocates: every promoter without one, with their value), then the
leaderboard and the potential list, each read from those tables. Without `--workspace` the
warehouse is built directly in SQL (profiles and their links, as identity resolution leaves
them): per profile on average 1.5 survey answers (NPS among them), 3 orders, 0.3 public
reviews, 0.5 mentions of which a fifth recommend, 0.03 referrals. Building it is not timed;
profiles are marked current so the timing is the scoring alone, in a fresh process.
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

TARGET_S = 60.0

BUILD = [
    """CREATE OR REPLACE TABLE profiles AS
    SELECT 'P' || lpad(CAST(i AS VARCHAR), 16, '0') AS profile_id, 1 AS record_count,
           ['shop'] AS sources, NULL::VARCHAR AS email, NULL::VARCHAR AS phone,
           NULL::VARCHAR AS first_name, NULL::VARCHAR AS last_name, 'US' AS country,
           NULL::VARCHAR AS segment, (i % 2 = 0) AS consent_marketing,
           TIMESTAMP '2024-01-01' AS created_at, 0 AS anonymous_ids, true AS known
    FROM range($n) t(i)""",
    """INSERT INTO feedback (response_id, customer_id, source, submitted_at, metric, score,
                             text, public)
    SELECT 'R' || i, 'C' || (i % $n), 'shop',
           TIMESTAMP '2024-07-01' + to_seconds(CAST(hash(i) % 63072000 AS BIGINT)),
           CASE WHEN i % 5 = 0 THEN 'rating' ELSE 'nps' END,
           CASE WHEN i % 5 = 0 THEN 1 + hash(i * 7) % 5 ELSE hash(i * 3) % 11 END,
           CASE WHEN i % 5 = 0 THEN 'Lovely shoes, would buy again' END,
           i % 5 = 0
    FROM range(CAST($n * 1.5 AS BIGINT)) t(i)""",
    """INSERT INTO orders (order_id, customer_id, source, ordered_at, amount, status)
    SELECT 'O' || i, 'C' || (i % $n), 'shop',
           TIMESTAMP '2024-07-01' + to_seconds(CAST(hash(i) % 63072000 AS BIGINT)),
           CAST(10 + hash(i * 5) % 20000 / 100.0 AS DECIMAL(18, 4)),
           CASE WHEN i % 40 = 0 THEN 'returned' ELSE 'completed' END
    FROM range($n * 3) t(i)""",
    """INSERT INTO mentions (mention_id, posted_at, platform, author, customer_id, brand, kind,
                             text, reach)
    SELECT 'M' || i, TIMESTAMP '2025-01-01', 'x', '@a' || i, 'C' || (i * 2 % $n), 'Northwind',
           CASE WHEN i % 3 = 0 THEN 'share' ELSE 'post' END,
           CASE WHEN i % 5 = 0 THEN 'I recommend Northwind' ELSE 'Northwind shoes' END,
           hash(i) % 5000
    FROM range(CAST($n * 0.5 AS BIGINT)) t(i)""",
    """INSERT INTO referrals (referral_id, referrer_id, source, code, created_at,
                              converted_order_id)
    SELECT 'RF' || i, 'C' || (hash(i) % $n), 'shop', 'NW-' || (hash(i) % $n),
           TIMESTAMP '2025-01-01', CASE WHEN i % 3 = 0 THEN 'O' || (i * 11) END
    FROM range(CAST($n * 0.03 AS BIGINT)) t(i)""",
    """CREATE OR REPLACE TABLE profile_links AS
    SELECT 'feedback' AS kind, 'shop' AS source, response_id AS id,
           'P' || lpad(substr(customer_id, 2), 16, '0') AS profile_id FROM feedback
    UNION ALL SELECT 'orders', 'shop', order_id, 'P' || lpad(substr(customer_id, 2), 16, '0')
    FROM orders
    UNION ALL SELECT 'mentions', 'default', mention_id,
           'P' || lpad(substr(customer_id, 2), 16, '0') FROM mentions
    UNION ALL SELECT 'referrer', 'shop', referral_id,
           'P' || lpad(substr(referrer_id, 2), 16, '0') FROM referrals""",
]

RUN = """
import json, sys, time
import cxloop
from cxloop.programs.advocacy.scores import compute_scores, potential_advocates, top_advocates
with cxloop.Workspace.open(sys.argv[1]) as ws:
    settings = ws.config.advocacy
    t0 = time.perf_counter()
    advocates = compute_scores(ws, settings)
    top = top_advocates(ws, settings, 20)
    potential = potential_advocates(ws, 20)
    elapsed = time.perf_counter() - t0
    promoters = ws.engine.scalar("SELECT count(*) FROM adv_promoters")
    profiles = ws.engine.scalar("SELECT count(*) FROM profiles")
print(json.dumps({"seconds": elapsed, "advocates": advocates, "potential": promoters,
                  "profiles": profiles, "top_score": top[0]["score"] if top else None}))
"""


def build(profiles: int, base: Path) -> Path:
    """A workspace whose warehouse holds `profiles` synthetic profiles (cached per size)."""
    import cxloop
    from cxloop.identity.profiles import PROFILES_SCHEMA

    ws_dir = base / f"advocacy-{profiles}"
    if (ws_dir / "cxloop.toml").exists():
        return ws_dir
    t0 = time.perf_counter()
    with cxloop.Workspace.init(ws_dir, brand="Northwind") as ws:
        for sql in BUILD:
            ws.engine.execute(sql, {"n": profiles} if "$n" in sql else None)
        version = ws.data_version
        for key, value in (("profiles_data_version", str(version)),
                           ("profiles_schema", str(PROFILES_SCHEMA))):  # fmt: skip
            ws.engine.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])
    print(f"built {profiles:,} profiles in {time.perf_counter() - t0:.1f} s")
    return ws_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workspace", type=Path, help="time this workspace instead")
    args = parser.parse_args()
    base = Path(tempfile.gettempdir()) / "cxloop-bench-advocacy"
    base.mkdir(exist_ok=True)
    ws_dir = args.workspace or build(args.profiles, base)
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, "-c", RUN, str(ws_dir)], capture_output=True,
                             text=True, check=False)  # fmt: skip
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = [r["seconds"] for r in runs]
    r = runs[-1]
    print(
        f"{r['profiles']:,} profiles: {r['advocates']:,} advocates scored, "
        f"{r['potential']:,} potential advocates; median {statistics.median(seconds):.1f} s "
        f"(runs {', '.join(f'{s:.1f}' for s in seconds)}; target < {TARGET_S:.0f} s)"
    )


if __name__ == "__main__":
    main()
