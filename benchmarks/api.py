"""REST API benchmark (issue 8): ingest over HTTP and dashboard reads, on a real server.

    .venv/bin/python benchmarks/api.py                    # 100,000 people, 3 repeats
    .venv/bin/python benchmarks/api.py --people 20000 --repeats 1

Targets on this machine: batches of 1,000 events at >= 20,000 events/s; single-event ingest
p99 < 25 ms. The server runs as `cxloop serve` in its own process (as deployed); the client
uses threads and one HTTP connection per thread. Measured per repeat:

- throughput: `--clients` threads each post batches of 1,000 new events (JSON arrays);
  accepted per second, and stored per second (until the journal is loaded and the events
  are counted in the warehouse: the rate the service can sustain);
- latency: one client posts single events one after another (p50, p99);
- reads while ingesting: a reader fetches the scorecard (as the dashboard does) while the
  throughput clients post; its latency and the ingest rate beside it; again with every read
  asking for current figures (`Cache-Control: no-cache`: journal loaded, scorecard
  recomputed on the reader connection), the worst case for ingest.

The workspace (generated once, cached in the temp folder) is copied for each repeat so every
repeat starts from the same data. Medians of the repeats are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

import cxloop
from cxloop.generate import generate
from cxloop.service.keys import KeyStore
from cxloop.service.server import free_port

TARGET_EVENTS_PER_S = 20_000
TARGET_P99_MS = 25.0
BATCH = 1_000
FRESH = {"cache-control": "no-cache"}


def prepare(people: int, seed: int) -> Path:
    """A loaded, profiled workspace for `people`, built once and cached."""
    base = Path(tempfile.gettempdir()) / f"cxloop-bench-api-{people}-{seed}"
    ws_path = base / "ws"
    if (ws_path / "cxloop.toml").exists():
        return ws_path
    shutil.rmtree(base, ignore_errors=True)
    data = generate(base / "data", people=people, seed=seed, file_format="parquet")
    with cxloop.Workspace.init(ws_path, brand="Northwind", competitors=("Contoso",)) as ws:
        ws.ingest(sorted(data.files.values()))
        ws.profiles.build()
    shutil.rmtree(base / "data")
    return ws_path


def event(tag: str, i: int) -> dict[str, object]:
    return {
        "event_id": f"bench-{tag}-{i}",
        "anonymous_id": f"bench-visitor-{i % 5000}",
        "occurred_at": "2026-06-01T12:00:00Z",
        "touchpoint": "product_view",
        "channel": "web",
        "properties": {"sku": f"SKU-{i % 300}"},
    }


class Server:
    """`cxloop serve` on a copy of the workspace, in its own process."""

    def __init__(self, template: Path, scratch: Path) -> None:
        self.ws = scratch / "ws"
        shutil.copytree(template, self.ws)
        # Capacity is measured, not the per-key rate limit (6,000 requests a minute).
        config = self.ws / "cxloop.toml"
        config.write_text(
            config.read_text().replace(
                "rate_limit_per_minute = 6000", "rate_limit_per_minute = 10000000"
            )
        )
        store = KeyStore(self.ws)
        self.ingest_key = store.create("ingest").secret
        self.read_key = store.create("analyst").secret
        store.close()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cxloop", "serve", str(self.ws), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/v1/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=300
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def throughput(server: Server, clients: int, batches: int, tag: str) -> dict[str, float]:
    bodies = [
        json.dumps([event(f"{tag}-{b}", i) for i in range(BATCH)]).encode() for b in range(batches)
    ]

    def post(indices: list[int]) -> int:
        accepted = 0
        with server.client(server.ingest_key) as c:
            for b in indices:
                r = c.post(
                    "/v1/events", content=bodies[b], headers={"content-type": "application/json"}
                )
                accepted += r.json()["accepted"]
        return accepted

    shares = [list(range(k, batches, clients)) for k in range(clients)]
    with server.client(server.read_key) as c:
        before = c.get("/v1/meta", headers=FRESH).json()["counts"]["events"]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            accepted = sum(pool.map(post, shares))
        wall = time.perf_counter() - t0
        # Accepted is not the end: the journal must be loaded too, or a backlog grows.
        # `no-cache` loads it; the events are then counted in the warehouse.
        after = c.get("/v1/meta", headers=FRESH).json()["counts"]["events"]
        stored_wall = time.perf_counter() - t0
    assert accepted == batches * BATCH, accepted
    assert after - before == accepted, (before, after, accepted)
    return {
        "events": accepted,
        "seconds": wall,
        "events_per_s": accepted / wall,
        "stored_seconds": stored_wall,
        "stored_events_per_s": accepted / stored_wall,
    }


def latency(server: Server, n: int, tag: str) -> dict[str, float]:
    times = []
    with server.client(server.ingest_key) as c:
        for i in range(n):
            body = json.dumps(event(f"{tag}-one", i)).encode()
            t0 = time.perf_counter()
            r = c.post("/v1/events", content=body, headers={"content-type": "application/json"})
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
    times.sort()
    return {"n": n, "p50_ms": _q(times, 0.50), "p99_ms": _q(times, 0.99), "max_ms": times[-1]}


def reads_while_ingesting(
    server: Server, clients: int, batches: int, tag: str, *, fresh: bool = False
) -> dict:
    """A dashboard reader beside the ingest clients; `fresh`: every read asks for current
    figures (the journal loaded, the scorecard recomputed), the worst case for ingest."""
    stop = threading.Event()
    read_ms: list[float] = []
    headers = FRESH if fresh else {}

    def reader() -> None:
        with server.client(server.read_key) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                assert c.get("/v1/scorecard", headers=headers).status_code == 200
                read_ms.append((time.perf_counter() - t0) * 1000)

    with server.client(server.read_key) as c:  # the dashboard's first view, computed once
        c.get("/v1/scorecard")
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        ingest = throughput(server, clients, batches, tag)
    finally:
        stop.set()
        thread.join()
    read_ms.sort()
    return {
        "ingest_events_per_s": ingest["events_per_s"],
        "ingest_stored_events_per_s": ingest["stored_events_per_s"],
        "reads": len(read_ms),
        "read_p50_ms": _q(read_ms, 0.5),
        "read_p99_ms": _q(read_ms, 0.99),
    }


def _q(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--singles", type=int, default=500)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    template = prepare(args.people, args.seed)
    runs = []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as scratch:
            server = Server(template, Path(scratch))
            try:
                run = {
                    "throughput": throughput(server, args.clients, args.batches, f"t{r}"),
                    "throughput_1_client": throughput(server, 1, args.batches // 2, f"s{r}"),
                    "latency": latency(server, args.singles, f"l{r}"),
                    "reads_while_ingesting": reads_while_ingesting(
                        server, args.clients, args.batches, f"r{r}"
                    ),
                    "fresh_reads_while_ingesting": reads_while_ingesting(
                        server, args.clients, args.batches, f"f{r}", fresh=True
                    ),
                }
            finally:
                server.stop()
        runs.append(run)
        print(json.dumps(run), flush=True)
    summary = {
        "people": args.people,
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "events_per_s_median": statistics.median(x["throughput"]["events_per_s"] for x in runs),
        "stored_events_per_s_median": statistics.median(
            x["throughput"]["stored_events_per_s"] for x in runs
        ),
        "events_per_s_1_client_median": statistics.median(
            x["throughput_1_client"]["events_per_s"] for x in runs
        ),
        "single_p50_ms_median": statistics.median(x["latency"]["p50_ms"] for x in runs),
        "single_p99_ms_median": statistics.median(x["latency"]["p99_ms"] for x in runs),
        "read_p50_ms_while_ingesting_median": statistics.median(
            x["reads_while_ingesting"]["read_p50_ms"] for x in runs
        ),
        "ingest_events_per_s_while_reading_median": statistics.median(
            x["reads_while_ingesting"]["ingest_events_per_s"] for x in runs
        ),
        "fresh_read_p50_ms_while_ingesting_median": statistics.median(
            x["fresh_reads_while_ingesting"]["read_p50_ms"] for x in runs
        ),
        "stored_events_per_s_while_fresh_reads_median": statistics.median(
            x["fresh_reads_while_ingesting"]["ingest_stored_events_per_s"] for x in runs
        ),
    }
    summary["throughput_target_met"] = summary["stored_events_per_s_median"] >= TARGET_EVENTS_PER_S
    summary["latency_target_met"] = summary["single_p99_ms_median"] < TARGET_P99_MS
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
