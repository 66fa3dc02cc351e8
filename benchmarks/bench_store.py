"""The response store at 1,000,000 records: time to open (index) it, lookups/s, puts/s, memory.

A segment file with --n (1,000,000) small final records is written directly in the store's JSONL
format (one JSON object per line in <root>/<model>/<host>-<pid>-<random>.jsonl), then
`ResponseStore(root, model)` opens it twice: the first open scans and indexes every line (and
writes the segment's index sidecar), the second reads the sidecar (what every later open of a
closed segment does). Then --n lookups (half hits, half misses, shuffled) are timed as
`key in store` and as `store.get(key)`. Puts/s are measured on a fresh store (--puts records
through `store.put`, which writes and flushes every record).

Records in real runs are larger (the request and the answer: ~1.7 KB of JSON for a one-token
logprob answer), so the open time and memory for realistic records are also measured on
--realistic records and scaled to --n (labelled so).

    .venv/bin/python benchmarks/bench_store.py [--n 1000000]

Everything lives in a temporary directory removed at the end. Nothing is asserted: the goal
(≥ 200,000 lookups/s, opening in ≤ 2 s) is printed as PASS / MISS.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402
from _bench import messages  # noqa: E402

from culturelens.store import ResponseStore, request_key  # noqa: E402
from openai_server import FakeOpenAIServer  # noqa: E402

GOAL = 200_000
OPEN_GOAL_S = 2.0
IDENTITY = {"provider": "litellm", "model": "openai/fake-model", "revision": None}


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def key_of(i: int, kind: str = "hit") -> str:
    return hashlib.sha256(f"{kind}{i}".encode()).hexdigest()


def write_small(path: Path, keys: list[str]) -> None:
    """Small final records in the store's format (what put() writes, minus request and answer: key and
    status first, so that an open indexes a line from its prefix without parsing it)."""
    now = time.time()
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(f'{{"key":"{k}","status":"ok","stored_at":{now},"model":"bench","payload":{{"A":-0.105}},'
                      f'"error":null,"error_kind":null,"attempts":1,"usage":{{}},"cost_usd":0.0}}\n' for k in keys)


def realistic_records(n: int) -> list[dict]:
    """Records as the engine writes them for one-token logprob answers of tests/openai_server.py."""
    server = FakeOpenAIServer()
    out = []
    for i in range(n):
        request = {"model": "openai/fake-model", "messages": messages("store", i), "max_tokens": 1,
                   "temperature": 0.0, "logprobs": True, "top_logprobs": 5}
        payload = server._complete(dict(request))
        out.append({"key": request_key(IDENTITY, request), "model": "bench", "identity": IDENTITY,
                    "request": request, "status": "ok", "payload": payload, "error": None, "error_kind": None,
                    "attempts": 1, "attempt_errors": [], "usage": payload["usage"], "cost_usd": 0.0,
                    "latency_s": 0.05, "stored_at": time.time()})
    return out


def open_store(root: Path) -> tuple[ResponseStore, float, float]:
    gc.collect()
    m0, t0, c0 = rss_mb(), time.perf_counter(), time.process_time()
    store = ResponseStore(root, "bench")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  (open: {wall:.2f} s wall, {cpu:.2f} s CPU)")
    return store, wall, rss_mb() - m0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="records in the store and lookups timed")
    ap.add_argument("--puts", type=int, default=100_000, help="records written through store.put")
    ap.add_argument("--realistic", type=int, default=20_000, help="realistic records for the scaled estimate")
    args = ap.parse_args(argv)
    n = args.n
    print(f"bench_store: {n:,} records, {n:,} lookups (half hits, half misses)")
    print(f"  {_bench.machine()}")
    print()
    tmp = Path(tempfile.mkdtemp(prefix="culturelens-bench-store-"))
    try:
        # ---------------------------------------------------------------- fill and open
        keys = [key_of(i) for i in range(n)]
        (tmp / "small" / "bench").mkdir(parents=True)
        segment = tmp / "small" / "bench" / "bench-0-00000000.jsonl"
        t0 = time.perf_counter()
        write_small(segment, keys)
        t_write = time.perf_counter() - t0
        size_mb = segment.stat().st_size / 1e6
        print(f"segment written directly: {size_mb:,.0f} MB in {t_write:.2f} s")
        store, t_scan, mem = open_store(tmp / "small")
        assert store.segments_scanned == 1
        print(f"first open (scan + index every line, write the sidecar) of {len(store):,} small records: "
              f"{t_scan:.2f} s ({len(store) / t_scan:,.0f} records/s), +{mem:,.0f} MB resident")
        del store
        gc.collect()
        store, t_open, mem = open_store(tmp / "small")
        assert store.sidecars_used == 1
        side_mb = sum(p.stat().st_size for p in (tmp / "small" / "bench").glob("*.idx")) / 1e6
        print(f"open (from the index sidecar, {side_mb:,.0f} MB) of {len(store):,} small records: {t_open:.2f} s "
              f"({len(store) / t_open:,.0f} records/s), +{mem:,.0f} MB resident")

        # ---------------------------------------------------------------- lookups
        rng = random.Random(1)
        probe = rng.sample(keys, n // 2) + [key_of(i, "miss") for i in range(n - n // 2)]
        rng.shuffle(probe)
        del keys
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        hits = 0
        for k in probe:
            if k in store:
                hits += 1
        t_in, c_in = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        got = 0
        for k in probe:
            if store.get(k) is not None:
                got += 1
        t_get, c_get = time.perf_counter() - t0, time.process_time() - c0
        assert hits == got == n // 2, (hits, got)
        rate_in, rate_get = n / c_in, n / c_get
        print(f"`key in store`:  {n:,} lookups in {t_in:.3f} s wall, {c_in:.3f} s CPU = {n / t_in:12,.0f} lookups/s wall, "
              f"{rate_in:12,.0f} /s CPU ({hits:,} hits)")
        print(f"`store.get(key)`: {n:,} lookups in {t_get:.3f} s wall, {c_get:.3f} s CPU = {n / t_get:12,.0f} lookups/s wall, "
              f"{rate_get:12,.0f} /s CPU")
        print("  (the cores are shared: CPU time of this process is the steadier figure; the goal is judged on it)")
        sample = [{"model": "openai/fake-model", "messages": messages("k", i), "max_tokens": 1,
                   "temperature": 0.0, "logprobs": True, "top_logprobs": 5} for i in range(20_000)]
        t0 = time.perf_counter()
        for r in sample:
            request_key(IDENTITY, r)
        t_key = (time.perf_counter() - t0) / len(sample)
        print(f"(for context, not a lookup: computing a key, request_key() of a one-token request: "
              f"{1e6 * t_key:.1f} µs = {1 / t_key:,.0f} keys/s)")
        del store, probe
        gc.collect()

        # ---------------------------------------------------------------- puts
        recs = [{"key": key_of(i, "put"), "model": "bench", "status": "ok", "payload": {"A": -0.105},
                 "attempts": 1, "usage": {}, "cost_usd": 0.0} for i in range(args.puts)]
        with ResponseStore(tmp / "puts", "bench") as fresh:
            t0 = time.perf_counter()
            for r in recs:
                fresh.put(r)
            t_put = time.perf_counter() - t0
        real = realistic_records(min(args.realistic, args.puts))
        with ResponseStore(tmp / "puts-real", "bench") as fresh:
            t0 = time.perf_counter()
            for r in real:
                fresh.put(r)
            t_put_real = time.perf_counter() - t0
        print(f"store.put: {args.puts / t_put:,.0f} small records/s; {len(real) / t_put_real:,.0f} realistic "
              f"records/s ({1e6 * t_put_real / len(real):.1f} µs each; write + flush per record)")
        del recs
        gc.collect()

        # ---------------------------------------------------------------- realistic records, scaled
        real_size = (tmp / "puts-real" / "bench").stat()
        seg = next((tmp / "puts-real" / "bench").glob("*.jsonl"))
        per_line = seg.stat().st_size / len(real)
        del real, real_size
        gc.collect()
        rstore, t_ropen, rmem = open_store(tmp / "puts-real")   # closed by its writer: from the sidecar
        k = len(rstore)
        print(f"realistic records ({per_line:,.0f} bytes of JSON each): open {k:,} in {t_ropen:.2f} s, "
              f"+{rmem:,.0f} MB resident → scaled to {n:,}: ~{t_ropen * n / k:,.0f} s to open, "
              f"~{rmem * n / k / 1024:,.1f} GB resident, {per_line * n / 1e9:,.1f} GB on disk")
        del rstore
        print()
        print(f"Goal (measured, not asserted): {_bench.verdict(min(rate_in, rate_get) >= GOAL)}  "
              f"≥ {GOAL:,} lookups/s in a store of {n:,} records: {rate_in:,.0f} (`in`), "
              f"{rate_get:,.0f} (`get`) lookups/s = {min(rate_in, rate_get) / GOAL:.1f}× the goal")
        print(f"Goal (measured, not asserted): {_bench.verdict(t_open <= OPEN_GOAL_S)}  open a store of {n:,} "
              f"records in ≤ {OPEN_GOAL_S:g} s: {t_open:.2f} s (first open, without a sidecar: {t_scan:.2f} s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
