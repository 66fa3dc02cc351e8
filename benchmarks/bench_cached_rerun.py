"""A fully cached rerun makes no request: the engine answers a prompt table from the response store.

Against tests/openai_server.py in a separate process (50 ms per answer): a table of --n (2,000)
distinct one-token logprob prompts is run once through the engine (fast path, a fresh store in a
temporary directory), then the store is reopened as a new run would (reading and indexing its
segment) and the same table is run again, through the fast path and through litellm (both
backends have the same model identity, so they share the store's records). The server's own
request counter (GET /_fake/stats) shows what each run sent.

    .venv/bin/python benchmarks/bench_cached_rerun.py [--n 2000]

Nothing is asserted: the outcome is printed as PASS / MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402
from _bench import Server, engine_spec, prompt_table  # noqa: E402

from culturelens import backends, engine  # noqa: E402
from culturelens.limits import Limits  # noqa: E402
from culturelens.store import ResponseStore  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="prompts in the table")
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--latency", type=float, default=0.05)
    args = ap.parse_args(argv)
    import litellm  # imported before timing: its import (seconds) is not the engine's

    litellm.suppress_debug_info = True
    print(f"bench_cached_rerun: {args.n:,} distinct prompts, server latency {args.latency * 1000:g} ms, "
          f"{args.concurrency} in flight")
    print(f"  {_bench.machine()}")
    print()
    table = prompt_table(args.n, f"rerun-{time.time_ns()}")
    limits = Limits(max_concurrency=args.concurrency, timeout_s=60)
    rows, payloads = [], {}
    with Server(args.latency) as server, tempfile.TemporaryDirectory(prefix="culturelens-bench-") as tmp:
        for label, client, reopen in (("first run (empty store)", "http", False),
                                      ("rerun, fast path", "http", True),
                                      ("rerun, litellm", "litellm", True)):
            backend = backends.make("bench", engine_spec(server.url, client, args.concurrency))
            before = server.requests()
            t0 = time.perf_counter()
            store = ResponseStore(tmp, "bench")
            t_open = time.perf_counter() - t0
            responses, stats = asyncio.run(engine.run_async(table, backend, store, limits))
            store.close()
            wall = time.perf_counter() - t0
            sent = server.requests() - before
            payloads[label] = responses["payload"].tolist()
            rows.append({"run": label, "client": client, "open_s": t_open, "wall_s": wall, "sent": sent,
                         "stats_sent": stats.sent, "cached": stats.cached, "ok": stats.ok})
    first = rows[0]
    for r in rows:
        r["vs_first"] = first["wall_s"] / r["wall_s"]
    print(_bench.table(rows, [("run", "run", ""), ("client", "client", ""), ("open_s", "store open s", ".3f"),
                              ("wall_s", "wall s (open + run)", ".3f"), ("vs_first", "× faster", ",.0f"),
                              ("sent", "requests the server got", "d"), ("cached", "from the store", "d"),
                              ("ok", "ok", "d")]))
    same = all(payloads[r["run"]] == payloads[first["run"]] for r in rows)
    print(f"  the reruns' answers are identical to the first run's: {same}")
    print()
    reruns = rows[1:]
    ok = all(r["sent"] == 0 and r["cached"] == args.n for r in reruns) and same and first["sent"] == args.n
    print(f"{_bench.verdict(ok)}  a fully cached rerun makes no request: first run sent {first['sent']:,}, "
          + ", ".join(f"{r['run']} sent {r['sent']} in {r['wall_s']:.2f} s ({r['vs_first']:,.0f}× faster "
                      f"than the first run's {first['wall_s']:.2f} s)" for r in reruns))


if __name__ == "__main__":
    main()
