"""Where the request engine's own CPU goes, per request, without any network: the engine's work
(planning, store lookups and writes, rate limiter, results table, progress bar) and each of its
steps timed alone, on real one-token logprob answers of tests/openai_server.py.

The engine runs against in-process backends whose `send` returns a real answer at once (no I/O):
`null-http` parses the server's JSON body as the fast path does, `null-litellm` returns the
`model_dump()` of a real litellm ModelResponse as LiteLLMBackend does. The difference between the
engine on such a backend and a bare `asyncio.Semaphore` + `gather` loop over the same `send` is
what the engine adds to any client (compare with the client CPU per request of bench_clients.py).

    .venv/bin/python benchmarks/engine_overhead.py [--n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402
from _bench import Server, engine_spec, messages, prompt_table  # noqa: E402

from culturelens import backends, engine  # noqa: E402
from culturelens.backends.http import OpenAICompatibleBackend  # noqa: E402
from culturelens.limits import Limits, RateLimiter  # noqa: E402
from culturelens.store import ResponseStore, request_key  # noqa: E402

PARAMS = {"max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": 5}


def cpu_us(fn, n: int, repeat: int = 3) -> float:
    """Best of `repeat` CPU times of fn() (which does n units of work), in µs per unit."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return 1e6 * best / n


@contextlib.contextmanager
def quiet_stderr():
    """The engine's tqdm bar writes to sys.__stderr__: send fd 2 to /dev/null meanwhile."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class NullHttp(OpenAICompatibleBackend):
    """The fast path's request and parsing, without aiohttp."""

    def __init__(self, spec: dict, body: bytes):
        super().__init__("bench", spec)
        self.body = body

    async def send(self, request: dict, timeout: float) -> dict:
        json.dumps(request)                       # what the fast path sends
        payload = json.loads(self.body)
        return {"payload": payload, "usage": payload.get("usage"), "cost_usd": 0.0}


class NullLiteLLM(NullHttp):
    """LiteLLMBackend's own work after litellm.acompletion returned: model_dump() of the response."""

    def __init__(self, spec: dict, body: bytes, response):
        super().__init__(spec, body)
        self.response = response

    async def send(self, request: dict, timeout: float) -> dict:
        {k: v for k, v in request.items() if k != "model"}
        payload = self.response.model_dump()
        cost = (getattr(self.response, "_hidden_params", None) or {}).get("response_cost")
        return {"payload": payload, "usage": payload.get("usage"), "cost_usd": float(cost or 0.0)}


def real_answers(server: Server) -> tuple[bytes, object]:
    body = json.dumps({"model": "fake-model", "messages": messages("probe", 0), **PARAMS}).encode()
    req = urllib.request.Request(server.url + "/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - 127.0.0.1 only
        raw = resp.read()
    import litellm

    litellm.suppress_debug_info = True
    response = asyncio.run(litellm.acompletion(model="openai/fake-model", messages=messages("probe", 1),
                                               api_base=server.url, api_key="x", num_retries=0, **PARAMS))
    return raw, response


def engine_cpu(table, make_backend, concurrency: int, progress: bool = False) -> float:
    """CPU µs per request of one engine.run_async over `table` into a fresh store (best of 3)."""
    def once():
        with tempfile.TemporaryDirectory(prefix="culturelens-bench-") as tmp, ResponseStore(tmp, "bench") as store:
            ctx = quiet_stderr() if progress else contextlib.nullcontext()
            with ctx:
                _, stats = asyncio.run(engine.run_async(table, make_backend(), store,
                                                        Limits(max_concurrency=concurrency), progress=progress))
            assert stats.ok == len(table), stats.line()
    return cpu_us(once, len(table))


def bare_cpu(table, make_backend, concurrency: int) -> float:
    """CPU µs per request of Semaphore + gather over the same backend.send (requests built beforehand)."""
    backend = make_backend()
    requests = [backend.request(r) for r in table.to_dict("records")]

    async def main():
        sem = asyncio.Semaphore(concurrency)

        async def one(req):
            async with sem:
                return await backend.send(req, 60)

        await asyncio.gather(*(one(r) for r in requests))
    return cpu_us(lambda: asyncio.run(main()), len(table))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=128)
    args = ap.parse_args(argv)
    n = args.n
    print(f"engine_overhead: {n:,} distinct one-token logprob requests, no network, CPU µs per request "
          f"(best of 3)")
    print(f"  {_bench.machine()}")
    with Server(0.0) as server:
        body, response = real_answers(server)
        url = server.url
    spec = engine_spec(url, "http", args.concurrency)
    table = prompt_table(n, "ovh")
    http = lambda: NullHttp(spec, body)  # noqa: E731
    lite = lambda: NullLiteLLM(spec, body, response)  # noqa: E731
    backend = http()
    records = table.to_dict("records")
    requests = [backend.request(r) for r in records]
    keys = [request_key(backend.identity, r) for r in requests]
    by_key = dict(zip(keys, requests))
    payload = json.loads(body)
    gc.collect()
    heap = len(gc.get_objects())
    print(f"  answer: {len(body)} bytes of JSON; request: {len(json.dumps(requests[0]))} bytes")
    print()

    rows = []

    def row(what: str, us: float, note: str = "") -> None:
        rows.append({"what": what, "us": us, "note": note})

    # ------------------------------------------------------------------ whole runs
    e_http = engine_cpu(table, http, args.concurrency)
    b_http = bare_cpu(table, http, args.concurrency)
    e_lite = engine_cpu(table, lite, args.concurrency)
    b_lite = bare_cpu(table, lite, args.concurrency)
    e_prog = engine_cpu(table, http, args.concurrency, progress=True)
    row("engine.run_async, null-http backend", e_http, "everything but the transport")
    row("Semaphore + gather, null-http backend", b_http, "same send, no engine")
    row("  = engine's own work (http)", e_http - b_http)
    row("engine.run_async, null-litellm backend", e_lite)
    row("Semaphore + gather, null-litellm backend", b_lite)
    row("  = engine's own work (litellm)", e_lite - b_lite)
    row("engine.run_async, null-http, progress=True", e_prog, "tqdm bar, as workflow/scripts/query_model.py")
    row("  = progress bar", e_prog - e_http)
    gc.disable()
    try:
        e_nogc, b_nogc = engine_cpu(table, http, args.concurrency), bare_cpu(table, http, args.concurrency)
    finally:
        gc.enable()
    row("engine.run_async, null-http, gc disabled", e_nogc)
    row("Semaphore + gather, null-http, gc disabled", b_nogc)
    row("  = cyclic GC in the engine run", e_http - e_nogc, f"{heap:,} objects tracked (libraries imported)")

    # ------------------------------------------------------------------ steps alone
    row("plan(): table.to_dict('records')", cpu_us(lambda: table.to_dict("records"), n))
    row("plan(): backend.request (chat_request, json.loads)", cpu_us(lambda: [backend.request(r) for r in records], n))
    row("plan(): request_key (json.dumps sort_keys + sha256)",
        cpu_us(lambda: [request_key(backend.identity, r) for r in requests], n))
    row("plan() total", cpu_us(lambda: engine.plan(table, backend), n))
    with tempfile.TemporaryDirectory(prefix="culturelens-bench-") as tmp, ResponseStore(tmp, "bench") as store:
        row("order: `k not in store` + sort by json.dumps(messages)",
            cpu_us(lambda: sorted((k for k in by_key if k not in store),
                                  key=lambda k: json.dumps(by_key[k].get("messages"))), n))
    limiter = RateLimiter(Limits(max_concurrency=args.concurrency))

    async def limit_loop():
        for r in requests:
            est = backend.estimate_tokens(r)
            await limiter.acquire(est)
            limiter.settle(est, 40)
    row("RateLimiter.acquire + estimate_tokens (no limits set)", cpu_us(lambda: asyncio.run(limit_loop()), n))
    row("fast path: json.dumps(request)", cpu_us(lambda: [json.dumps(r) for r in requests], n))
    row("fast path: json.loads(answer)", cpu_us(lambda: [json.loads(body) for _ in range(n)], n))
    row("litellm backend: response.model_dump()", cpu_us(lambda: [response.model_dump() for _ in range(n)], n))

    def record(k, r):
        return {"key": k, "model": "bench", "identity": backend.identity, "request": r, "status": "ok",
                "payload": payload, "error": None, "error_kind": None, "attempts": 1, "attempt_errors": [],
                "usage": payload["usage"], "cost_usd": 0.0, "latency_s": 0.05}
    recs = [record(k, r) for k, r in zip(keys, requests)]
    print(f"  store record: {len(json.dumps(recs[0], ensure_ascii=False, separators=(',', ':')))} bytes of JSON")
    row("store.put: json.dumps(record)",
        cpu_us(lambda: [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in recs], n))

    def puts():
        with tempfile.TemporaryDirectory(prefix="culturelens-bench-") as tmp, ResponseStore(tmp, "bench") as st:
            for r in recs:
                st.put(dict(r))
    row("store.put total (dumps + write + flush per record + index)", cpu_us(puts, n))
    row("results: json.dumps(payload) per row", cpu_us(lambda: [json.dumps(payload, ensure_ascii=False)
                                                                for _ in range(n)], n))

    # ------------------------------------------------------------------ print
    width = max(len(r["what"]) for r in rows)
    print(f"{'step':<{width}}  {'CPU µs/req':>10}")
    print(f"{'-' * width}  {'-' * 10}")
    for r in rows:
        print(f"{r['what']:<{width}}  {r['us']:10.1f}" + (f"   {r['note']}" if r["note"] else ""))


if __name__ == "__main__":
    main()
