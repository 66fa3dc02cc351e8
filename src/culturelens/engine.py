"""The request engine: runs one model over a prompt table through the response store.

- Store lookup before sending: identical requests (across studies, shards, reruns) are sent once.
- asyncio workers, at most `max_concurrency` requests in flight, token buckets for requests and
  tokens per minute, retries with capped exponential backoff and jitter on 429 / 5xx / timeouts /
  connection errors (a Retry-After pauses the whole model), a cap on attempts per request and on
  the job's total time.
- Every response is written to the store the moment it arrives; failures are recorded with the
  provider's message and their kind, and reported, never dropped.
- A refused key (kind `auth`) stops the model: no request is sent after the first one (the others
  would all be refused too). The requests not sent are reported as failed `auth` but not stored:
  nothing was asked, and the next run (with the key fixed) sends them.
- Requests are sent in the order of their text so prompts sharing a persona prefix run together
  (prefix caching on vLLM).
- Backends that answer locally, for free and deterministically (the reference respondents: their
  class says `stored = False`) bypass the store (`run_local`): every run answers them again with the
  same requests, keys and records, errors recorded as for a sent request, but without the event
  loop and rate limits; nothing is looked up or written (a stored answer would cost more to keep
  and read than to recompute: ~1.4 KB a record). Their rows in the responses table are as a
  stored run's first answers (`cached` False, same status, payload, error); RunStats counts them as
  `answered locally`, not as sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from .backends import Fatal, Retryable
from .limits import Limits, RateLimiter, backoff_delay
from .store import ResponseStore, key_function

log = logging.getLogger(__name__)

# failure kinds a later run may fix: the inference job fails so that the next run retries them
RETRYABLE_KINDS = ("rate_limit", "server_error", "timeout", "connection", "truncated", "malformed",
                   "deadline", "batch_pending")
# failure kinds every other request of the model would meet too: the first one stops the sending
STOP_KINDS = ("auth",)
NOT_SENT = "not sent after an authentication failure"

RESPONSE_COLUMNS = ["prompt_id", "condition", "country", "key", "status", "cached", "error", "error_kind",
                    "attempts", "latency_s", "cost_usd", "payload"]


@dataclass
class RunStats:
    model: str
    prompt_rows: int = 0
    unique_requests: int = 0
    sent: int = 0
    cached: int = 0
    local: int = 0          # answered by a backend that is not stored (free, deterministic, in-process)
    ok: int = 0
    abstained: int = 0
    failed: Counter = field(default_factory=Counter)   # kind → count
    not_sent: int = 0       # failed without being sent: the model was stopped (STOP_KINDS)
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0   # of the completion tokens, those spent thinking (reasoning models)
    cost_usd: float = 0.0
    seconds: float = 0.0

    def line(self) -> str:
        """The final per-model line."""
        failures = ", ".join(f"{n} {k}" for k, n in sorted(self.failed.items())) or "none"
        return (f"{self.model}: {self.unique_requests} distinct requests for {self.prompt_rows} prompt rows; "
                f"sent {self.sent} ({self.attempts} attempts), {self.cached} from the store"
                f"{f', answered locally {self.local}' if self.local else ''}; "
                f"ok {self.ok}, abstained {self.abstained}, failed {sum(self.failed.values())} ({failures}"
                f"{f'; {self.not_sent} of them {NOT_SENT}' if self.not_sent else ''}); "
                f"tokens {self.prompt_tokens} in / {self.completion_tokens} out"
                f"{f' ({self.reasoning_tokens} of them reasoning)' if self.reasoning_tokens else ''}; "
                f"cost ${self.cost_usd:.4f}; "
                f"{self.seconds:.1f} s")


def reasoning_tokens(usage) -> int:
    """The completion tokens a reasoning model spent thinking, as providers report them (OpenAI and
    litellm: ``completion_tokens_details.reasoning_tokens``; some servers: ``reasoning_tokens``).
    They are part of ``completion_tokens`` and of the cost."""
    usage = usage or {}
    details = usage.get("completion_tokens_details") or {}
    return int((details.get("reasoning_tokens") if isinstance(details, dict) else None)
               or usage.get("reasoning_tokens") or 0)


class Progress:
    """A progress bar per inference job: done / cached / failed, rate, ETA, cost so far."""

    def __init__(self, model: str, total: int, cached: int, enabled: bool):
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=cached, desc=model, unit="req", file=sys.__stderr__,
                            mininterval=0.5, dynamic_ncols=True, smoothing=0.05)
        self.cached, self.failed, self.cost = cached, 0, 0.0

    def update(self, failed: bool, cost: float) -> None:
        self.failed += failed
        self.cost += cost
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"cached {self.cached} failed {self.failed} ${self.cost:.4f}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def plan(prompts: pd.DataFrame, backend) -> tuple[list[str], dict[str, dict]]:
    """Per prompt row its store key, and the distinct requests by key (a backend may name the
    `request_columns` its requests are made of: only those are read)."""
    keys, requests = [], {}
    key_of = key_function(backend.identity)
    columns = list(getattr(backend, "request_columns", None) or prompts.columns)
    for values in zip(*(prompts[c].tolist() for c in columns)):
        request = backend.request(dict(zip(columns, values)))
        key = key_of(request)
        keys.append(key)
        requests.setdefault(key, request)
    return keys, requests


def missing(prompts: pd.DataFrame, backend, store: ResponseStore) -> int:
    """How many distinct requests of the table the store cannot answer yet."""
    _, requests = plan(prompts, backend)
    return sum(key not in store for key in requests)


@dataclass
class Stop:
    """Set by the model's first failure of a STOP_KINDS kind: nothing is sent after it."""
    kind: str | None = None
    message: str = ""

    def note(self, err: Fatal) -> None:
        if err.kind in STOP_KINDS and self.kind is None:
            self.kind, self.message = err.kind, str(err)


async def _send_one(key: str, request: dict, backend, limits: Limits, limiter: RateLimiter,
                    deadline: float, stop: Stop | None = None) -> dict:
    """All attempts at one request; returns the store record (status ok, abstained or failed)."""
    stop = stop or Stop()
    estimate = backend.estimate_tokens(request)
    errors: list[str] = []
    attempt = 0
    started = time.perf_counter()
    while True:
        attempt += 1
        if time.monotonic() > deadline:
            return _failure(key, request, backend, "deadline", "the job's max_total_s ran out", attempt - 1, errors, started)
        if stop.kind is None:
            await limiter.acquire(estimate)
        if stop.kind is not None:   # also when it was set while this one waited for the rate limiter
            return _not_sent(key, request, backend, stop, attempt - 1, errors, started)
        try:
            result = await backend.send(request, limits.timeout_s)
        except Fatal as err:
            stop.note(err)
            return _failure(key, request, backend, err.kind, str(err), attempt, errors, started)
        except Retryable as err:
            errors.append(f"{err.kind}: {err}")
            if err.kind == "rate_limit" and err.retry_after:
                limiter.pause(err.retry_after)
            delay = backoff_delay(attempt, limits, err.retry_after)
            if attempt >= limits.max_attempts or time.monotonic() + delay > deadline:
                return _failure(key, request, backend, err.kind, str(err), attempt, errors, started)
            await asyncio.sleep(delay)
            continue
        except Exception as err:  # noqa: BLE001 — unclassified client error: recorded, the job goes on
            return _failure(key, request, backend, "client_error", f"{type(err).__name__}: {err}", attempt,
                            errors, started)
        usage = result.get("usage") or {}
        limiter.settle(estimate, usage.get("total_tokens"))
        return {"key": key, "model": backend.name, "identity": backend.identity, "request": request,
                "status": result.get("status", "ok"), "payload": result.get("payload"),
                "error": result.get("error"), "error_kind": None, "attempts": attempt,
                "attempt_errors": errors, "usage": usage, "cost_usd": float(result.get("cost_usd") or 0.0),
                "latency_s": time.perf_counter() - started}


def _answer_locally(key: str, request: dict, backend) -> dict:
    """One request to a backend that answers in this process (`stored = False`): the record
    `_send_one` makes, errors recorded the same way, without its event-loop and rate-limit work."""
    started = time.perf_counter()
    try:
        result = backend.answer(request, key)
    except Fatal as err:
        return _failure(key, request, backend, err.kind, str(err), 1, [], started)
    except Exception as err:  # noqa: BLE001 — as _send_one: recorded, the job goes on
        return _failure(key, request, backend, "client_error", f"{type(err).__name__}: {err}", 1, [], started)
    return {"key": key, "model": backend.name, "identity": backend.identity, "request": request,
            "status": result.get("status", "ok"), "payload": result.get("payload"), "error": result.get("error"),
            "error_kind": None, "attempts": 1, "attempt_errors": [], "usage": result.get("usage") or {},
            "cost_usd": float(result.get("cost_usd") or 0.0), "latency_s": time.perf_counter() - started}


def _failure(key, request, backend, kind, message, attempts, errors, started) -> dict:
    return {"key": key, "model": backend.name, "identity": backend.identity, "request": request,
            "status": "failed", "payload": None, "error": message, "error_kind": kind, "attempts": attempts,
            "attempt_errors": errors, "usage": {}, "cost_usd": 0.0, "latency_s": time.perf_counter() - started}


def _not_sent(key, request, backend, stop: Stop, attempts, errors, started) -> dict:
    """A request the model was stopped before (a refused key): failed with the stop's kind, never stored."""
    record = _failure(key, request, backend, stop.kind, f"{NOT_SENT}: {stop.message}", attempts, errors, started)
    return {**record, "not_sent": True}


async def run_async(prompts: pd.DataFrame, backend, store: ResponseStore | None, limits: Limits | None = None,
                    progress: bool = False) -> tuple[pd.DataFrame, RunStats]:
    """Answer every prompt row (see module docstring); returns (responses table, stats).
    ``store`` may be None only for a backend that is not stored (``stored = False``)."""
    if not getattr(backend, "stored", True):
        return run_local(prompts, backend)
    if store is None:
        raise ValueError(f"{backend.name}: a stored backend needs a response store")
    limits = limits or Limits()
    t0 = time.perf_counter()
    keys, requests = plan(prompts, backend)
    stats = RunStats(backend.name, prompt_rows=len(prompts), unique_requests=len(requests))
    todo = sorted((k for k in requests if k not in store), key=lambda k: json.dumps(requests[k].get("messages")))
    stats.cached = len(requests) - len(todo)
    bar = Progress(backend.name, len(requests), stats.cached, progress)
    limiter = RateLimiter(limits)
    deadline = time.monotonic() + limits.max_total_s
    stop = Stop()
    queue: asyncio.Queue = asyncio.Queue()
    for key in todo:
        queue.put_nowait(key)
    fresh: dict[str, dict] = {}

    async def worker() -> None:
        while True:
            try:
                key = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            record = await _send_one(key, requests[key], backend, limits, limiter, deadline, stop)
            if not record.get("not_sent"):
                store.put(record)
            fresh[key] = record
            bar.update(record["status"] == "failed", record["cost_usd"])

    try:
        if getattr(backend, "use_batch", False) and todo:
            from .batch import run_batches

            waiting = await run_batches(backend, store, {k: requests[k] for k in todo}, deadline,
                                        backend.batch_poll_s)
            for key in todo:
                record = store.get(key)
                if record is None and key in waiting:
                    record = _failure(key, requests[key], backend, "batch_pending",
                                      "the batch has not finished yet: rerun to collect it", 0, [], t0)
                elif record is None:
                    record = _failure(key, requests[key], backend, "batch_error",
                                      "no successful result in the batch output (see the store)", 1, [], t0)
                fresh[key] = record
                bar.update(record["status"] == "failed", record["cost_usd"])
        else:
            await asyncio.gather(*(worker() for _ in range(max(1, min(limits.max_concurrency, len(todo))))))
    finally:
        bar.close()
        await backend.aclose()
    return _result(prompts, keys, requests, fresh, store, stats, t0)


def run_local(prompts: pd.DataFrame, backend) -> tuple[pd.DataFrame, RunStats]:
    """`run` for a backend that answers in this process (`stored = False`): every distinct request
    answered once, one after another, through `backend.answer`; no event loop, rate limits or store."""
    t0 = time.perf_counter()
    keys, requests = plan(prompts, backend)
    stats = RunStats(backend.name, prompt_rows=len(prompts), unique_requests=len(requests))
    fresh = {key: _answer_locally(key, request, backend) for key, request in requests.items()}
    return _result(prompts, keys, requests, fresh, None, stats, t0)


def _result(prompts, keys, requests, fresh, store, stats: RunStats, t0: float) -> tuple[pd.DataFrame, RunStats]:
    """The responses table (one row per prompt row) and the run's counts."""
    stored = store is not None
    for record in fresh.values():
        stats.not_sent += bool(record.get("not_sent"))
        answered = record["status"] != "failed" or record["attempts"] > 0
        if not stored:
            stats.local += answered
            continue
        stats.sent += answered
        stats.attempts += record["attempts"]
        usage = record.get("usage") or {}
        stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        stats.completion_tokens += int(usage.get("completion_tokens") or 0)
        stats.reasoning_tokens += reasoning_tokens(usage)
        stats.cost_usd += record["cost_usd"]
    records = {key: fresh.get(key) or (store.get(key) if stored else None) or {"status": "failed",
                                                                                "error": "not answered"}
               for key in requests}
    payloads = {key: json.dumps(r.get("payload"), ensure_ascii=False) for key, r in records.items()}
    rows = [records[key] for key in keys]   # prompt rows sharing a request share its record
    table = pd.DataFrame({
        "prompt_id": prompts["prompt_id"].tolist(), "condition": prompts["condition"].tolist(),
        "country": prompts["country"].tolist(), "key": keys, "status": [r["status"] for r in rows],
        "cached": [key not in fresh for key in keys], "error": [r.get("error") for r in rows],
        "error_kind": [r.get("error_kind") for r in rows], "attempts": [r.get("attempts", 0) for r in rows],
        "latency_s": [r.get("latency_s") for r in rows],
        "cost_usd": [r.get("cost_usd", 0.0) if key in fresh else 0.0 for key, r in zip(keys, rows)],
        "payload": [payloads[key] for key in keys]}, columns=RESPONSE_COLUMNS)
    for key, record in records.items():
        status = record["status"]
        if status == "failed":
            stats.failed[(fresh.get(key) or {}).get("error_kind") or "unknown"] += 1
        elif status == "abstained":
            stats.abstained += 1
        else:
            stats.ok += 1
    stats.seconds = time.perf_counter() - t0
    return table, stats


def run(prompts: pd.DataFrame, backend, store: ResponseStore | None, limits: Limits | None = None,
        progress: bool = False) -> tuple[pd.DataFrame, RunStats]:
    if not getattr(backend, "stored", True):
        return run_local(prompts, backend)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_async(prompts, backend, store, limits, progress))
    # called from a thread that runs an event loop already (a job inside Snakemake): a loop of its own
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run_async(prompts, backend, store, limits, progress)).result()
