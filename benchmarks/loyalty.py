"""Loyalty ledger benchmark (issue 9): ledger writes per second with concurrent clients.

    .venv/bin/python benchmarks/loyalty.py                        # both stores, 3 repeats
    .venv/bin/python benchmarks/loyalty.py --stores sqlite --seconds 5 --repeats 1

Targets: >= 2,000 writes/s on PostgreSQL and >= 500 writes/s on the embedded store with 16
concurrent clients, and no error other than the expected refusals (a redemption larger than
the balance: HTTP 409). Each client is a thread calling the library (`Ledger`) directly, each
transaction on its own pooled connection: this measures the ledger and its database, not
HTTP. The workload: `--members` members with a starting balance, each request picks one at
random; 60% earn 10-100 points, 40% redeem 10-80 points; every write carries a fresh
idempotency key. A short warm-up runs first. After each repeat `verify()` must find nothing.

PostgreSQL: a fresh database `cxloop_bench_<hex>` on the server named by `--postgres` (a
libpq connection string to a maintenance database), dropped afterwards. The embedded store is
a new SQLite file (WAL, synchronous=FULL) in a temporary folder.

CPU per request: the client's (this process, `time.process_time`) and, on PostgreSQL, the
server's: the user + system time `/proc` shows for the backends serving the benchmark's
database during the measured phase (the WAL writer and checkpointer, shared by every
database, are not counted). Both are robust to other load on the machine, unlike the rate.

Printed: one JSON line per repeat, then the medians as JSON (also written to `--out`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from cxloop.programs.errors import InsufficientPoints
from cxloop.programs.loyalty import Ledger
from cxloop.programs.store import ProgramStore

TARGETS = {"postgresql": 2_000, "sqlite": 500}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU seconds used by the PostgreSQL backends serving one database, read from /proc.

    The server runs on this machine (the benchmark's premise); a backend's utime + stime
    are fields 14 and 15 of /proc/PID/stat. Backends that appear during the phase count
    from their start, backends that ended during it are missed (the pool keeps its
    connections, so none should).
    """

    def __init__(self, store: ProgramStore) -> None:
        url = make_url(store.engine.url)
        self._conninfo = psycopg.conninfo.make_conninfo(
            host=url.host or "127.0.0.1",
            port=str(url.port or 5432),
            user=url.username or "postgres",
            dbname=url.database,
        )
        self._before = self._sample()

    def _sample(self) -> dict[int, float]:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            pids = [
                row[0]
                for row in conn.execute(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ]
        times = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            times[pid] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        return times

    def seconds(self) -> float:
        after = self._sample()
        return sum(t - self._before.get(pid, 0.0) for pid, t in after.items())


@contextmanager
def open_store(kind: str, admin: str, pool_size: int) -> Iterator[ProgramStore]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cxloop-bench-loyalty-") as folder:
            store = ProgramStore.open(Path(folder), pool_size=pool_size)
            try:
                yield store
            finally:
                store.close()
        return
    name = f"cxloop_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        info = psycopg.conninfo.conninfo_to_dict(admin)
        url = (
            f"postgresql://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:"
            f"{info.get('port', '5432')}/{name}"
        )
        try:
            store = ProgramStore.open(Path(tempfile.gettempdir()), url, pool_size=pool_size)
            try:
                yield store
            finally:
                store.close()
        finally:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def seed(ledger: Ledger, members: int, balance: int) -> list[str]:
    ids = []
    for i in range(members):
        member = ledger.enrol(f"profile-{i}", actor="bench").member_id
        ledger.earn(
            member,
            balance,
            reason="opening balance",
            source_type=None,
            source_id=None,
            actor="bench",
            idempotency_key=f"seed-{i}",
        )
        ids.append(member)
    return ids


class Clock:
    """Releases every client at once and tells them when to stop."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties)
        self.deadline = 0.0

    def release(self, seconds: float) -> float:
        self.deadline = time.perf_counter() + seconds
        self.barrier.wait()
        return time.perf_counter()

    def wait(self) -> float:
        self.barrier.wait()
        return self.deadline


def client(ledger: Ledger, members: list[str], tag: str, clock: Clock, out: list) -> None:
    rng = random.Random(tag)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    deadline = clock.wait()
    n = 0
    while time.perf_counter() < deadline:
        member = rng.choice(members)
        key = f"{tag}-{n}"
        n += 1
        began = time.perf_counter()
        try:
            if rng.random() < 0.6:
                ledger.earn(
                    member,
                    rng.randint(10, 100),
                    reason="order completed",
                    source_type="order",
                    source_id=key,
                    actor="bench",
                    idempotency_key=key,
                )
                outcomes["earn"] += 1
            else:
                ledger.redeem(
                    member,
                    rng.randint(10, 80),
                    reason="reward",
                    actor="bench",
                    idempotency_key=key,
                )
                outcomes["redeem"] += 1
        except InsufficientPoints:
            outcomes["refused_409"] += 1
        except Exception as exc:  # counted and shown: the target is zero
            outcomes[f"error:{type(exc).__name__}"] += 1
        latencies.append(time.perf_counter() - began)
    out.append((latencies, outcomes))


def run_once(kind: str, args: argparse.Namespace, repeat: int) -> dict:
    with open_store(kind, args.postgres, pool_size=args.clients) as store:
        ledger = Ledger(store)
        if getattr(ledger, "batcher", None) is not None:
            ledger.batcher.max_running = args.running_batches or ledger.batcher.max_running
            ledger.batcher.min_beside = args.min_beside or ledger.batcher.min_beside
        members = seed(ledger, args.members, args.balance)
        for phase, seconds in (("warmup", args.warmup), ("measure", args.seconds)):
            results: list = []
            clock = Clock(args.clients + 1)
            threads = [
                threading.Thread(
                    target=client, args=(ledger, members, f"{phase}-{repeat}-{c}", clock, results)
                )
                for c in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            server = ServerCpu(store) if kind == "postgresql" else None
            batcher = getattr(ledger, "batcher", None)  # absent before batching
            batched = (batcher.batches, batcher.requests) if batcher else (0, 0)
            cpu_before = time.process_time()
            began = clock.release(seconds)  # every client starts at once
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - began
            client_cpu = time.process_time() - cpu_before
            server_cpu = server.seconds() if server is not None else None
            if batcher:
                batched = (batcher.batches - batched[0], batcher.requests - batched[1])
        latencies = sorted(x for lat, _ in results for x in lat)
        outcomes: Counter[str] = Counter()
        for _, counts in results:
            outcomes.update(counts)
        committed = outcomes["earn"] + outcomes["redeem"]
        verify_began = time.perf_counter()
        report = ledger.verify()
        verify_s = time.perf_counter() - verify_began
    errors = {k: v for k, v in outcomes.items() if k.startswith("error:")}
    return {
        "store": kind,
        "repeat": repeat,
        "clients": args.clients,
        "seconds": round(elapsed, 2),
        "writes_per_s": round(committed / elapsed),
        "requests_per_s": round(len(latencies) / elapsed),
        "client_cpu_ms_per_request": round(1000 * client_cpu / max(1, len(latencies)), 2),
        "server_cpu_ms_per_request": (
            None if server_cpu is None else round(1000 * server_cpu / max(1, len(latencies)), 2)
        ),
        "mean_batch": round(batched[1] / batched[0], 1) if batched[0] else None,
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "max_ms": round(1000 * latencies[-1], 2),
        "earns": outcomes["earn"],
        "redeems": outcomes["redeem"],
        "refused_409": outcomes["refused_409"],
        "errors": errors,
        "verify_ok": report.ok,
        "verify_s": round(verify_s, 2),
        "entries": report.entries,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--balance", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--postgres", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    )
    parser.add_argument(
        "--running-batches",
        type=int,
        default=None,
        help="batches of postings running at once (default: the ledger's)",
    )
    parser.add_argument(
        "--min-beside",
        type=int,
        default=None,
        help="requests queued before a batch starts beside a running one (default: the ledger's)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    runs = []
    for kind in args.stores:
        for repeat in range(args.repeats):
            run = run_once(kind, args, repeat)
            runs.append(run)
            print(json.dumps(run), flush=True)
    summary = {}
    ok = True
    for kind in args.stores:
        mine = [r for r in runs if r["store"] == kind]
        rate = statistics.median(r["writes_per_s"] for r in mine)
        clean = all(not r["errors"] and r["verify_ok"] for r in mine)
        summary[kind] = {
            "writes_per_s": rate,
            "writes_per_s_range": [
                min(r["writes_per_s"] for r in mine),
                max(r["writes_per_s"] for r in mine),
            ],
            "requests_per_s": statistics.median(r["requests_per_s"] for r in mine),
            "client_cpu_ms_per_request": statistics.median(
                r["client_cpu_ms_per_request"] for r in mine
            ),
            "server_cpu_ms_per_request": (
                statistics.median(r["server_cpu_ms_per_request"] for r in mine)
                if kind == "postgresql"
                else None
            ),
            "p50_ms": statistics.median(r["p50_ms"] for r in mine),
            "p99_ms": statistics.median(r["p99_ms"] for r in mine),
            "refused_409_share": round(
                sum(r["refused_409"] for r in mine)
                / max(1, sum(r["earns"] + r["redeems"] + r["refused_409"] for r in mine)),
                3,
            ),
            "errors": sum(sum(r["errors"].values()) for r in mine),
            "verify_ok": all(r["verify_ok"] for r in mine),
            "target_writes_per_s": TARGETS[kind],
            "target_met": rate >= TARGETS[kind] and clean,
        }
        ok = ok and summary[kind]["target_met"]
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
