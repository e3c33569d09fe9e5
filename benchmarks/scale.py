"""Scale benchmark: the whole pipeline at 1,000,000 and 5,000,000 people, step by step.

Issue 12 asks whether cxloop's analyses grow near-linearly with the number of customers on
one machine. For each size this script generates the people (`cxloop generate`, Parquet),
then runs the steps a user runs, each as its own `cxloop` command in a child process:

    generate -> init -> ingest -> profiles -> scorecard -> moments -> clv -> segments

and records each step's wall time and peak resident memory. Peak memory comes from
`os.wait4` on the child (`ru_maxrss` of that child and the processes it waited for), so a
step's figure belongs to that step alone; the driver itself stays small. After all sizes it
prints the growth ratio of each step between the smallest and the largest size (5.0 would
be exactly linear from 1 M to 5 M).

    .venv/bin/python benchmarks/scale.py                                 # 1 M and 5 M
    .venv/bin/python benchmarks/scale.py --people 20000 100000           # a quick look
    .venv/bin/python benchmarks/scale.py --people 1000000 --memory-limit 4GB --json out.json
    .venv/bin/python benchmarks/scale.py --people 1000000 --spark        # + Spark local

Every finished step is appended to the `--json` file as it ends (one JSON object a line),
so a long run that is stopped still leaves what it measured. `--spark` repeats the analysis
steps with `--engine spark` (Spark in local mode) when the installed cxloop has that engine;
otherwise it says so and measures DuckDB only. Disk: about 1.3 GB of Parquet and 4 GB of
workspace per million people; the script checks free space before it starts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
CXLOOP = str(BIN / "cxloop")
# Bytes of disk a million people need (Parquet input + workspace + spill), measured at 1 M
# with headroom; the run refuses to start without it rather than fill the disk half-way.
DISK_PER_MILLION = 8 * 1024**3
COMPETITORS = ("--competitor", "Contoso", "--competitor", "Fabrikam")
ANALYSES = ("scorecard", "moments", "clv", "segments")


@dataclass
class Step:
    """One measured step: what ran, how long, how much memory at its peak."""

    people: int
    engine: str
    step: str
    seconds: float
    peak_mb: float
    ok: bool
    cpu_seconds: float = 0.0  # user + system time of the step's processes
    note: str = ""
    load: float = 0.0  # the machine's 1-minute load average when the step ended


def run_step(argv: list[str], *, log: Path) -> tuple[float, float, int, float]:
    """Run one command in a child process: (wall seconds, peak RSS in MB, exit code, CPU
    seconds). CPU time is what to compare on a shared machine: wall time there mostly
    measures the other processes."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, usage.ru_maxrss / 1024, child.returncode, cpu


def engine_available(name: str) -> bool:
    """Whether the installed cxloop accepts `--engine NAME` (the Spark engine, issue 12)."""
    help_text = subprocess.run(
        [CXLOOP, "scorecard", "--help"], capture_output=True, text=True, check=False
    ).stdout
    if "--engine" not in help_text:
        return False
    if name == "spark":
        try:
            import pyspark  # noqa: F401
        except ImportError:
            return False
    return True


def measure_size(people: int, args: argparse.Namespace, record: list[Step]) -> None:
    """Generate `people`, load them and run every analysis, appending each step."""
    root = Path(args.workdir) / f"scale-{people}"
    data, ws = root / "data", root / "ws"
    log = root / "steps.log"
    if root.exists() and not args.keep:
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)

    def step(name: str, argv: list[str], engine: str = "duckdb") -> bool:
        seconds, peak, code, cpu = run_step(argv, log=log)
        result = Step(people, engine, name, round(seconds, 2), round(peak, 1), code == 0)
        result.cpu_seconds = round(cpu, 2)
        result.load = round(os.getloadavg()[0], 1)
        if code != 0:
            result.note = f"exit {code}; see {log}"
        record.append(result)
        print(
            f"{people:>10,} {engine:<7} {name:<12} {seconds:9.1f} s {cpu:9.1f} s {peak:9.0f} MB"
            f"   load {result.load:4.1f}" + ("" if code == 0 else f"  FAILED ({result.note})"),
            flush=True,
        )
        if args.json:
            with open(args.json, "a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(result)) + "\n")
        return code == 0

    files_ready = data.is_dir() and any(data.glob("*.parquet"))
    if not files_ready and people <= args.shard:
        gen = [CXLOOP, "generate", "--people", str(people), "--seed", str(args.seed)]
        if not step("generate", [*gen, "--out", str(data), "--format", "parquet"]):
            return
    elif not files_ready:
        # The generator holds its whole world in memory (about 11 GB per million people), so
        # larger sizes are shards of `--shard` people, each its own seed, ids made distinct.
        shards = -(-people // args.shard)
        for k in range(shards):
            size = min(args.shard, people - k * args.shard)
            gen = [CXLOOP, "generate", "--people", str(size), "--seed", str(args.seed + k)]
            out = str(data / f"shard-{k}")
            if not step(f"generate-{k}", [*gen, "--out", out, "--format", "parquet"]):
                return
        merge = [sys.executable, __file__, "--merge-shards", str(data), str(shards)]
        if not step("merge-shards", merge):
            return
        for k in range(shards):
            shutil.rmtree(data / f"shard-{k}", ignore_errors=True)
    if not step(
        "init",
        [CXLOOP, "init", str(ws), "--brand", "Northwind", *COMPETITORS],
    ):
        return
    if args.memory_limit:
        config = ws / "cxloop.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace('memory_limit = ""', f'memory_limit = "{args.memory_limit}"'),
            encoding="utf-8",
        )
    files = sorted(str(p) for p in data.glob("*.parquet"))
    if not step("ingest", [CXLOOP, "ingest", str(ws), *files]):
        return
    if not step("profiles", [CXLOOP, "profiles", str(ws), "--json"]):
        return
    for name in ANALYSES:
        step(name, [CXLOOP, name, str(ws), "--json"])
    if args.spark:
        if not engine_available("spark"):
            print("spark: this cxloop has no `--engine spark` (or pyspark is missing): skipped")
            return
        for name in ANALYSES:
            step(name, [CXLOOP, name, str(ws), "--json", "--engine", "spark"], engine="spark")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


# Columns that hold ids (and, in events' properties, an order id): prefixed per shard so that
# shards never share a customer, order, email or code. Phones are left as they are.
SHARD_IDS = {
    "customers": ("customer_id", "email"),
    "events": ("event_id", "customer_id", "anonymous_id"),
    "orders": ("order_id", "customer_id", "referral_code"),
    "feedback": ("response_id", "customer_id", "email", "order_id"),
    "mentions": ("mention_id", "customer_id", "author"),
    "referrals": (
        "referral_id", "referrer_id", "code", "referee_email", "referee_id", "converted_order_id",
    ),
}  # fmt: skip


def merge_shards(data: Path, shards: int) -> None:
    """One Parquet file per kind from `data/shard-K/`, ids prefixed `sK-` (see SHARD_IDS)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    for kind, columns in SHARD_IDS.items():
        parts = []
        for k in range(shards):
            path = data / f"shard-{k}" / f"{kind}.parquet"
            names = [d[0] for d in con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
            exprs = []
            for name in names:
                if name in columns:
                    exprs.append(
                        f"CASE WHEN nullif(trim({name}), '') IS NULL THEN {name} "
                        f"ELSE 's{k}-' || {name} END AS {name}"
                    )
                elif kind == "events" and name == "properties":
                    exprs.append(
                        f"""replace(properties, '"order_id": "', '"order_id": "s{k}-')"""
                        " AS properties"
                    )
                else:
                    exprs.append(name)
            parts.append(f"SELECT {', '.join(exprs)} FROM '{path}'")
        target = data / f"{kind}.parquet"
        con.execute(f"COPY ({' UNION ALL '.join(parts)}) TO '{target}' (FORMAT parquet)")
    shutil.copy(data / "shard-0" / "touchpoints.parquet", data / "touchpoints.parquet")


def growth(record: list[Step]) -> list[tuple[str, str, float, float, float]]:
    """Per step and engine: wall time, CPU time and memory ratios, smallest to largest size."""
    out = []
    sizes = sorted({s.people for s in record})
    if len(sizes) < 2:
        return out
    small, large = sizes[0], sizes[-1]
    by = {(s.people, s.engine, s.step): s for s in record if s.ok}
    for first in record:  # in the order the steps ran
        engine, name = first.engine, first.step
        if (
            first.people != small
            or (large, engine, name) not in by
            or (small, engine, name) not in by
        ):
            continue
        a, b = by[(small, engine, name)], by[(large, engine, name)]
        out.append(
            (
                engine,
                name,
                b.seconds / max(a.seconds, 1e-9),
                b.cpu_seconds / max(a.cpu_seconds, 1e-9),
                b.peak_mb / max(a.peak_mb, 1e-9),
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/cxloop-scale")
    parser.add_argument(
        "--memory-limit", default="4GB", help="[engine] memory_limit of the workspace"
    )
    parser.add_argument("--spark", action="store_true", help="also run the analyses on Spark")
    parser.add_argument("--keep", action="store_true", help="keep data and workspaces")
    parser.add_argument("--json", help="append each step as a JSON line to this file")
    parser.add_argument(
        "--shard", type=int, default=1_000_000, help="people per generated shard (memory)"
    )
    parser.add_argument("--merge-shards", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.merge_shards:
        merge_shards(Path(args.merge_shards[0]), int(args.merge_shards[1]))
        return

    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(args.workdir).free
    need = DISK_PER_MILLION * max(args.people) / 1_000_000
    if free < need:
        sys.exit(f"{args.workdir}: {free / 1024**3:.0f} GiB free, {need / 1024**3:.0f} needed")
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB, "
        f"Python {platform.python_version()}, memory_limit {args.memory_limit or 'default'}"
    )
    print(f"{'people':>10} {'engine':<7} {'step':<12} {'wall':>11} {'CPU':>11} {'peak RSS':>12}")
    record: list[Step] = []
    for people in sorted(args.people):
        measure_size(people, args, record)
    ratios = growth(record)
    if ratios:
        sizes = sorted({s.people for s in record})
        print(f"\ngrowth {sizes[0]:,} -> {sizes[-1]:,} (x{sizes[-1] / sizes[0]:g} people)")
        for engine, name, t, c, m in ratios:
            print(
                f"  {engine:<7} {name:<12} wall x{t:5.2f}   CPU x{c:5.2f}   peak memory x{m:5.2f}"
            )


if __name__ == "__main__":
    main()
