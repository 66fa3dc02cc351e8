"""A local OpenAI-compatible HTTP server for tests and benchmarks (aiohttp.web, 127.0.0.1 only).

It speaks enough of the OpenAI protocol that the real `openai` SDK (`AsyncOpenAI(base_url=server.url)`)
and `litellm.acompletion(model="openai/<name>", api_base=server.url, api_key=...)` work against it
unchanged, and it produces on demand the faults a real provider will not (see `FakeOpenAIServer.inject`).

Endpoints
- `GET /health` → 200 `{"status": "ok"}` (no auth).
- `GET /v1/models`, `GET /v1/models/{id}`: one model per name seen in a request, plus "fake-model".
- `POST /v1/chat/completions`: answers survey questions (and, in JSON mode, item translation requests
  of culturelens.translate: each text tagged "[<lang>] ", see `_translation`). Option labels are the capital letters at line
  starts of the last user message (`A. text`, `A) text`, `(A) text`), in order of appearance; a prompt
  without any gets the labels A-D. The answer distribution over them comes from
  `ServerConfig.distribution` (else a deterministic skewed one derived from a CRC-32 of the prompt).
  `stream: true` → 400. See `FakeOpenAIServer._complete` for the answer format (logprobs, n, seed,
  response_format, usage, finish_reason).
- Files + Batches API (`/v1/files`, `/v1/files/{id}`, `/v1/files/{id}/content`, `/v1/batches`,
  `/v1/batches/{id}`, `/v1/batches/{id}/cancel`) as OpenAI, with state kept in the server object.
- Test-only control endpoints (no auth), for a server in another process: `POST /_fake/inject`
  (JSON with the arguments of `inject`), `POST /_fake/reset`, `GET /_fake/stats` →
  `{"requests": n, "batch_requests": m, "matching": k, "faults_injected": {kind: n}, "ok_distinct",
  "ok_total", "duplicates"}` (`?match=text` counts prompts containing it).
- Fault mix (`ServerConfig.fault_rate`, `fault_mix`, `fault_seed`): a seeded share of chat-completion
  requests answered with a random fault, for reliability suites (tests/test_reliability.py);
  `faults_injected` and `ok_answers` count what happened.

Errors have OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`; every response carries an
`x-request-id` header.

Run in the foreground: `python tests/openai_server.py --port 8000 --latency 0.05` (see `--help`).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import functools
import hashlib
import itertools
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from aiohttp import web

try:  # optional; the stdlib C encoder is fast enough for the > 2,000 requests/s target
    import orjson

    def _dumps(obj: Any) -> str:
        return orjson.dumps(obj).decode()

except ImportError:  # pragma: no cover - depends on the environment
    _dumps = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)

__all__ = ["ServerConfig", "FakeOpenAIServer", "start_server_process", "stop_server_process", "FAULTS",
           "request_key"]

FAULTS = ("429", "500", "503", "400", "401", "hang", "malformed", "truncated", "disconnect")
DEFAULT_MODEL = "fake-model"
DEFAULT_LABELS = ("A", "B", "C", "D")
# Share of the first-token probability mass: options (split over tokenizer variants), one
# non-label token, and the rest unlisted, so the listed probabilities never sum to 1.
LABEL_MASS = 0.97
OTHER_TOKEN, OTHER_MASS = "The", 0.02
VARIANTS = (("", 0.85), (" ", 0.15))  # "A" and " A"
MAX_TOP_LOGPROBS = 20

_LABEL_RE = re.compile(r"^[ \t]*(?:\(([A-Z])\)|([A-Z])[.)])(?=\s|$)", re.M)


@dataclass
class ServerConfig:
    latency_s: float = 0.0  # added before answering each /v1 request
    latency_jitter_s: float = 0.0  # plus uniform(0, jitter)
    # callable(prompt_text, labels) -> probs, or {substring of the prompt: probs} (first match wins),
    # or None: a deterministic skewed distribution derived from a hash of the prompt.
    distribution: Callable[[str, list[str]], list[float]] | dict[str, list[float]] | None = None
    logprobs_supported: bool = True  # False: ignore logprobs params, answer `logprobs: null`
    api_key: str | None = None  # if set, /v1 requests need "Authorization: Bearer <api_key>"
    batch_polls_until_done: int = 2  # GET /v1/batches/{id} polls that report in_progress first
    record_requests: bool = True  # keep request bodies in `requests` (off for very long benchmarks)
    # Fault mix: this share of chat-completion requests (those no queued `inject` fault takes) is
    # answered with one of `fault_mix`, drawn per (fault_seed, request body, how often that body
    # was seen): the same seed faults the same attempts whatever order concurrent requests arrive in.
    fault_rate: float = 0.0
    fault_mix: tuple[str, ...] = ("429", "500", "503", "hang", "disconnect", "malformed", "truncated")
    fault_seed: int = 0
    fault_retry_after: float | None = 0.1  # the Retry-After header of a mixed-in 429 (None: no header)
    fault_hang_s: float = 5.0  # a mixed-in hang: silent this long, then the connection is closed
    # A reasoning model's shape (None: a plain model): "openai" (o-series / GPT-5: thinking hidden,
    # counted in usage.completion_tokens_details.reasoning_tokens, logprobs refused with a 400),
    # "reasoning_content" (vLLM with a reasoning parser, DeepSeek: the thinking in
    # message.reasoning_content) or "think" (Qwen3 without a parser: "<think>…</think>" then the
    # answer in the content). Each choice thinks `reasoning_tokens` tokens first; an allowance
    # (max_tokens / max_completion_tokens) that ends before the answer cuts it off: finish_reason
    # "length", no answer ("think": an unclosed <think>).
    reasoning: str | None = None
    reasoning_tokens: int = 40


class _ConfigError(Exception):
    """The test configuration (distribution) does not fit a request: answered with HTTP 500."""


def _error(status: int, message: str, type_: str, code: str | None = None, param: str | None = None,
           headers: dict | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": type_, "param": param, "code": code}},
                             status=status, headers=headers, dumps=_dumps)


def _bad_request(message: str, param: str | None = None, code: str | None = "invalid_value") -> web.Response:
    return _error(400, message, "invalid_request_error", code, param)


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = "invalid_value"):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


@functools.lru_cache(maxsize=8192)
def _labels(user_text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for m in _LABEL_RE.finditer(user_text):
        seen.setdefault(m.group(1) or m.group(2))
    return tuple(seen) or DEFAULT_LABELS


_TRANSLATE = re.compile(r"^You translate survey items\b.*? into [^(]*\((?P<lang>[a-z]{2,3})\)", re.S)
_TAG = re.compile(r"^\[[a-z]{2,3}\] ")


def _translation(system: str, user: str) -> str | None:
    """A translation request (culturelens.translate's system message, the item as JSON): the item
    back as JSON, each text tagged "[<lang>] " (into English: the tag removed, i.e. a perfect round
    trip). None for any other request."""
    match = _TRANSLATE.match(system)
    if not match:
        return None
    try:
        item = json.loads(user)
    except ValueError:
        return None
    lang = match.group("lang")

    def one(text: str) -> str:
        return _TAG.sub("", text) if lang == "en" else f"[{lang}] {text}"

    return json.dumps({"question": one(item.get("question", "")), "options": [one(o) for o in item.get("options", [])]},
                      ensure_ascii=False)


def request_key(body: dict) -> str:
    """sha256 of a chat-completion request body (canonical JSON): one key per distinct request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                          .encode("utf-8", "surrogatepass")).hexdigest()


def _prompt_hash(prompt: str) -> int:
    return zlib.crc32(prompt.encode("utf-8", "surrogatepass"))


@functools.lru_cache(maxsize=8192)
def _default_probs(prompt_hash: int, n: int) -> tuple[float, ...]:
    rng = random.Random(prompt_hash * 7919 + n)
    weights = [rng.random() ** 3 + 0.01 for _ in range(n)]
    total = sum(weights)
    return tuple(w / total for w in weights)


@functools.lru_cache(maxsize=8192)
def _token_table(labels: tuple[str, ...], probs: tuple[float, ...]) -> tuple[dict, tuple[dict, ...]]:
    """({label: its chosen-token entry}, first-token alternatives sorted by logprob, as JSON dicts)."""
    alts: list[tuple[float, str]] = []
    for lab, p in zip(labels, probs):
        if p > 0:
            for prefix, share in VARIANTS:
                alts.append((p * LABEL_MASS * share, prefix + lab))
    alts.append((OTHER_MASS, OTHER_TOKEN))
    alts.sort(key=lambda t: -t[0])
    entries = tuple({"token": tok, "logprob": math.log(p), "bytes": list(tok.encode())} for p, tok in alts)
    chosen = {e["token"]: e for e in entries if e["token"] in labels}
    return chosen, entries


class FakeOpenAIServer:
    """The server; `start()` runs it in a background thread with its own event loop.

    Attributes for assertions: `requests` (every chat-completion request body received, in order,
    including those answered with an injected fault or an error), `faults_injected` (fault kind →
    requests answered with it, queued or mixed in), `ok_answers` (request key, see `request_key`, →
    answers delivered with HTTP 200 to a client still listening), `authorizations` (the
    Authorization header of each of them, None if absent), `batch_requests` (the body of every
    line of every batch submitted), `batches` / `files` (the Batch API state, by id), `errors`
    (configuration errors the server answered with HTTP 500).
    """

    def __init__(self, config: ServerConfig | None = None):
        self.config = config or ServerConfig()
        unknown = set(self.config.fault_mix) - set(FAULTS)
        if unknown or not 0 <= self.config.fault_rate <= 1 or (self.config.fault_rate and not self.config.fault_mix):
            raise ValueError(f"fault_rate must be in [0, 1] with a non-empty fault_mix of {FAULTS}; got "
                             f"{self.config.fault_rate}, {self.config.fault_mix}")
        self.requests: list[dict] = []
        self.authorizations: list[str | None] = []
        self.batch_requests: list[dict] = []
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self.errors: list[str] = []
        self.models: dict[str, None] = {DEFAULT_MODEL: None}
        self._prompts: list[str] = []
        self._n_requests = 0
        self._faults: list[list] = []  # [fault, remaining, match, retry_after, hang_s]
        self.faults_injected: Counter = Counter()
        self.ok_answers: Counter = Counter()
        self._seen: Counter = Counter()  # request key → requests received (drives the fault mix)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._run_tag = os.urandom(3).hex()
        self._rand = random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def base(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/v1"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        r = app.router
        r.add_get("/health", self._health)
        r.add_post("/v1/chat/completions", self._chat)
        r.add_get("/v1/models", self._models)
        r.add_get("/v1/models/{id}", self._model)
        r.add_post("/v1/files", self._file_create)
        r.add_get("/v1/files", self._file_list)
        r.add_get("/v1/files/{id}", self._file_get)
        r.add_delete("/v1/files/{id}", self._file_delete)
        r.add_get("/v1/files/{id}/content", self._file_content)
        r.add_post("/v1/batches", self._batch_create)
        r.add_get("/v1/batches", self._batch_list)
        r.add_get("/v1/batches/{id}", self._batch_get)
        r.add_post("/v1/batches/{id}/cancel", self._batch_cancel)
        r.add_post("/_fake/inject", self._admin_inject)
        r.add_post("/_fake/reset", self._admin_reset)
        r.add_get("/_fake/stats", self._admin_stats)
        r.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def _startup(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=0.25)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> FakeOpenAIServer:
        if self._thread is not None:
            raise RuntimeError("server already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._cleanup())
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread.join(5)
            self._thread = self._loop = None
            raise RuntimeError("fake OpenAI server failed to start") from failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test controls
    def inject(self, fault: str, times: int = 1, *, match: str | None = None, retry_after: float | None = None,
               hang_s: float = 30.0) -> None:
        """Answer the next `times` chat-completion requests (whose prompt contains `match`, if given) with `fault`.

        Faults queue in order; a request takes the first queued fault that matches it, and is recorded in
        `requests` / `count()` like any other. Latency (ServerConfig.latency_s) still applies first.

        What the clients see — openai 2.x `AsyncOpenAI(max_retries=0)` | `litellm.acompletion(num_retries=0)`:

        - "429": HTTP 429 `{"error": {"type": "requests", "code": "rate_limit_exceeded"}}`, plus a
          `Retry-After: <retry_after>` header (seconds, `%g`, may be fractional) when `retry_after` is given.
          openai: `openai.RateLimitError`, header at `exc.response.headers["retry-after"]` (with retries on the
          SDK sleeps that long, if ≤ 60 s). litellm: `litellm.RateLimitError`; its `exc.response` is a synthetic
          httpx.Response WITHOUT the headers — the header is at `exc.litellm_response_headers["retry-after"]`.
        - "500": openai `InternalServerError` | litellm `InternalServerError` (type "server_error").
        - "503": openai `InternalServerError` (status_code 503) | litellm `ServiceUnavailableError`.
          `retry_after` adds the Retry-After header to 500 and 503 too.
        - "400": openai `BadRequestError` | litellm `BadRequestError` (invalid_request_error; never retried).
        - "401": openai `AuthenticationError` | litellm `AuthenticationError` (code "invalid_api_key").
        - "hang": sleeps `hang_s` seconds, then answers normally; a shorter client timeout gives openai
          `APITimeoutError` | litellm `Timeout`. The sleeping handler is cancelled when the server stops.
        - "malformed": HTTP 200, `Content-Type: application/json`, body `<html>…502 Bad Gateway…</html>`.
          openai raises a bare `json.JSONDecodeError` (a ValueError, NOT an `openai.APIError`, and not
          retried by the SDK) | litellm `InternalServerError` ("Expecting value: line 1 column 1").
        - "truncated": HTTP 200 whose Content-Length exceeds the part of the JSON body sent, then the
          connection is closed: openai `APIConnectionError` (httpx.RemoteProtocolError underneath) |
          litellm `InternalServerError` ("Connection error.").
        - "disconnect": the connection is closed without any response: same as "truncated".
        With max_retries > 0 the openai SDK retries 429, 5xx, timeouts and connection errors (each retry is a
        new request here and takes the next queued fault, if any).
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append([fault, int(times), match, retry_after, float(hang_s)])

    def count(self, match: str | None = None) -> int:
        """Number of chat-completion requests received (whose prompt contains `match`; needs record_requests)."""
        with self._lock:
            if match is None:
                return self._n_requests
            return sum(1 for p in self._prompts if match in p)

    def duplicates(self) -> int:
        """Request keys answered OK more than once: what a client paid twice for."""
        with self._lock:
            return sum(1 for n in self.ok_answers.values() if n > 1)

    def reset(self) -> None:
        """Forget queued faults and recorded requests (the Batch API state is kept)."""
        with self._lock:
            self._faults.clear()
            self.faults_injected.clear()
            self.ok_answers.clear()
            self._seen.clear()
            self.requests.clear()
            self.authorizations.clear()
            self._prompts.clear()
            self.batch_requests.clear()
            self.errors.clear()
            self._n_requests = 0

    def pending_faults(self) -> list[tuple[str, int, str | None]]:
        with self._lock:
            return [(f[0], f[1], f[2]) for f in self._faults]

    def _take_fault(self, prompt: str) -> list | None:
        with self._lock:
            for i, f in enumerate(self._faults):
                if f[2] is None or f[2] in prompt:
                    f[1] -= 1
                    if f[1] <= 0:
                        del self._faults[i]
                    return f
        return None

    def _mixed_fault(self, key: str, seen: int) -> list | None:
        """The fault-mix draw for the `seen`-th arrival of request `key` (ServerConfig.fault_rate):
        a fault in `_faults`' shape or None. Seeded by (fault_seed, key, seen) only, so it does not
        depend on the order in which concurrent requests arrive."""
        cfg = self.config
        if cfg.fault_rate <= 0:
            return None
        rng = random.Random(f"{cfg.fault_seed}:{key}:{seen}")
        if rng.random() >= cfg.fault_rate:
            return None
        kind = rng.choice(cfg.fault_mix)
        return [kind, 0, None, cfg.fault_retry_after if kind == "429" else None, cfg.fault_hang_s, "mixed"]

    def _next_id(self) -> str:
        return f"{self._run_tag}{next(self._ids):021x}"

    # ------------------------------------------------------------------ answers
    def _probs(self, prompt: str, labels: tuple[str, ...]) -> tuple[float, ...]:
        dist = self.config.distribution
        raw: Any = None
        if callable(dist):
            raw = dist(prompt, list(labels))
        elif isinstance(dist, dict):
            for key, value in dist.items():
                if key in prompt:
                    raw = value
                    break
        if raw is None:
            return _default_probs(_prompt_hash(prompt), len(labels))
        probs = [float(p) for p in raw]
        if len(probs) != len(labels):
            raise _ConfigError(f"the configured distribution has {len(probs)} probabilities but the prompt "
                               f"shows {len(labels)} options {list(labels)}")
        if any(not math.isfinite(p) or p < 0 for p in probs) or sum(probs) <= 0:
            raise _ConfigError(f"the configured distribution {probs} is not a distribution")
        total = sum(probs)
        return tuple(p / total for p in probs)

    def _complete(self, body: dict, prompt: str | None = None) -> dict:
        """The chat completion for a request body (raises _BadRequest / _ConfigError).

        - Each of the `n` choices draws a label with `random.Random(base + index)`, base = `seed` if given
          else CRC-32 of the prompt (so deterministic either way); temperature 0 → the argmax label. Other
          temperatures do not reshape the distribution.
        - logprobs (when requested and supported): `content[0]` = the chosen token with its logprob (the
          same value as its entry in `top_logprobs`, i.e. ln(p·0.97·0.85)); `top_logprobs` = the first
          `top_logprobs` of: each label as "A" (85 % of its share) and " A" (15 %), the token "The" (2 %),
          sorted by logprob; 1 % is never listed, so coverage < 1. Zero-probability labels are not listed.
        - response_format json_object / json_schema: content = `{"A": 0.1234, ...}`, 1 token per 4 chars;
          with max_tokens smaller than that the content is cut and finish_reason is "length".
        - otherwise content = the label, 1 completion token per choice; finish_reason "length" when
          max_tokens (or max_completion_tokens) ≤ 1, else "stop".
        """
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("you must provide a model parameter", "model", None)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise _BadRequest("'messages' must be a non-empty array of message objects", "messages")
        if body.get("stream"):
            raise _BadRequest("streaming not supported by the test server", "stream", "unsupported_value")
        n = body.get("n", 1)
        n = 1 if n is None else n
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
            raise _BadRequest(f"Invalid 'n': expected an integer between 1 and 128, got {n!r}", "n")
        if self.config.reasoning == "openai" and body.get("logprobs"):
            raise _BadRequest("Unsupported parameter: 'logprobs' is not supported with this model.", "logprobs",
                              "unsupported_parameter")
        want_lp = bool(body.get("logprobs")) and self.config.logprobs_supported
        top_k = body.get("top_logprobs")
        if self.config.logprobs_supported and top_k is not None:
            if not isinstance(top_k, int) or isinstance(top_k, bool) or not 0 <= top_k <= MAX_TOP_LOGPROBS:
                raise _BadRequest(f"Invalid 'top_logprobs': expected an integer between 0 and "
                                  f"{MAX_TOP_LOGPROBS}, got {top_k!r}", "top_logprobs")
            if not body.get("logprobs"):
                raise _BadRequest("Invalid value for 'top_logprobs': 'logprobs' must be true when "
                                  "'top_logprobs' is set", "top_logprobs")
        max_tokens = body.get("max_completion_tokens")
        if max_tokens is None:
            max_tokens = body.get("max_tokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)
                                       or max_tokens < 1):
            raise _BadRequest(f"Invalid 'max_tokens': expected an integer >= 1, got {max_tokens!r}", "max_tokens")
        rf = body.get("response_format")
        rf_type = rf.get("type") if isinstance(rf, dict) else None
        if rf is not None and rf_type not in ("text", "json_object", "json_schema"):
            raise _BadRequest(f"Invalid 'response_format': {rf!r}", "response_format")

        texts = [_content_text(m.get("content")) for m in messages]
        if prompt is None:
            prompt = "\n".join(texts)
        last_user = next((t for m, t in zip(reversed(messages), reversed(texts)) if m.get("role") == "user"),
                         texts[-1])
        labels = _labels(last_user)
        probs = self._probs(prompt, labels)
        prompt_tokens = sum(len(t.split()) for t in texts)

        choices = []
        translated = _translation(texts[0] if texts else "", last_user)
        if rf_type in ("json_object", "json_schema"):
            content = translated or json.dumps({lab: round(p, 4) for lab, p in zip(labels, probs)})
            per_choice = max(1, math.ceil(len(content) / 4))
            finish = "stop"
            if max_tokens is not None and max_tokens < per_choice:
                content, per_choice, finish = content[: max_tokens * 4], max_tokens, "length"
            lp = None
            if want_lp:
                tok = {"token": content[:1], "logprob": 0.0, "bytes": list(content[:1].encode()),
                       "top_logprobs": [{"token": content[:1], "logprob": 0.0, "bytes": list(content[:1].encode())}]
                       if top_k else []}
                lp = {"content": [tok], "refusal": None}
            for i in range(n):
                choices.append({"index": i, "message": {"role": "assistant", "content": content, "refusal": None,
                                                        "annotations": []},
                                "logprobs": lp, "finish_reason": finish})
            completion_tokens = per_choice * n
        else:
            temperature = body.get("temperature")
            if temperature == 0:
                best = max(range(len(labels)), key=probs.__getitem__)
                drawn = [best] * n
            else:
                seed = body.get("seed")
                base = seed if isinstance(seed, int) and not isinstance(seed, bool) else _prompt_hash(prompt)
                cum = list(itertools.accumulate(probs))
                last = len(labels) - 1
                drawn = []
                for i in range(n):
                    k = bisect.bisect_right(cum, random.Random(base + i).random() * cum[-1])
                    k = min(k, last)
                    while probs[k] <= 0:  # float edge at the top of the range
                        k -= 1
                    drawn.append(k)
            finish = "length" if max_tokens is not None and max_tokens <= 1 else "stop"
            if want_lp:
                chosen, entries = _token_table(labels, probs)
                top = list(entries[:top_k]) if top_k else []
            for i, k in enumerate(drawn):
                lab = labels[k]
                lp = None
                if want_lp:
                    c = chosen[lab]
                    lp = {"content": [{"token": lab, "logprob": c["logprob"], "bytes": c["bytes"],
                                       "top_logprobs": top}], "refusal": None}
                choices.append({"index": i, "message": {"role": "assistant", "content": lab, "refusal": None,
                                                        "annotations": []},
                                "logprobs": lp, "finish_reason": finish})
            completion_tokens = n
        thought = 0
        if self.config.reasoning is not None:
            completion_tokens, thought = self._reason(choices, max_tokens, completion_tokens // max(n, 1))
        if model not in self.models:
            self.models[model] = None
        return {
            "id": "chatcmpl-" + self._next_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "service_tier": "default",
            "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      **({"completion_tokens_details": {"reasoning_tokens": thought * n}}
                         if self.config.reasoning else {})},
        }

    def _reason(self, choices: list[dict], allowance: int | None, answer_tokens: int) -> tuple[int, int]:
        """Each choice as a reasoning model of `ServerConfig.reasoning`'s shape answers it; returns
        (the completion tokens, thinking included; the thinking tokens of one choice)."""
        shape, think = self.config.reasoning, self.config.reasoning_tokens
        cut = allowance is not None and allowance < think + answer_tokens
        thought = min(think, allowance) if allowance is not None else think
        thinking = " ".join(["hmm"] * thought)
        for choice in choices:
            message, answer = choice["message"], choice["message"]["content"]
            choice["logprobs"] = None
            if cut:
                choice["finish_reason"] = "length"
            if shape == "openai":
                message["content"] = "" if cut else answer
            elif shape == "reasoning_content":
                message["reasoning_content"] = thinking
                message["content"] = None if cut else answer
            else:
                message["content"] = f"<think>{thinking}" + ("" if cut else f"</think>\n\n{answer}")
        per_choice = allowance if cut else think + answer_tokens
        return per_choice * len(choices), thought

    # ------------------------------------------------------------------ HTTP plumbing
    def _authorised(self, request: web.Request) -> bool:
        key = self.config.api_key
        return key is None or request.headers.get("Authorization") == "Bearer " + key

    def _unauthorised(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "")
        shown = given[7:][:3] + "****" if given.startswith("Bearer ") and given[7:] else "(none)"
        return _error(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                      "https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key")

    async def _latency(self) -> None:
        cfg = self.config
        delay = cfg.latency_s
        if cfg.latency_jitter_s > 0:
            delay += self._rand.uniform(0, cfg.latency_jitter_s)
        if delay > 0:
            await asyncio.sleep(delay)

    def _headers(self) -> dict:
        return {"x-request-id": "req_" + self._next_id()}

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _not_found(self, request: web.Request) -> web.Response:
        return _error(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error", None)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return _bad_request("We could not parse the JSON body of your request.", None, None)
        messages = body.get("messages")
        prompt = ("\n".join(_content_text(m.get("content")) for m in messages if isinstance(m, dict))
                  if isinstance(messages, list) else "")
        key = request_key(body)
        with self._lock:
            self._n_requests += 1
            self._seen[key] += 1
            seen = self._seen[key]
            if self.config.record_requests:
                self.requests.append(body)
                self.authorizations.append(request.headers.get("Authorization"))
                self._prompts.append(prompt)
        if not self._authorised(request):
            return self._unauthorised(request)
        if self.config.latency_s or self.config.latency_jitter_s:
            await self._latency()
        fault = self._take_fault(prompt) if self._faults else None
        if fault is None:
            fault = self._mixed_fault(key, seen)
        if fault is not None:
            with self._lock:
                self.faults_injected[fault[0]] += 1
            resp = await self._fault(request, fault)
            if resp is not None:
                return resp
        try:
            answer = self._complete(body, prompt)
        except _BadRequest as exc:
            return _bad_request(exc.message, exc.param, exc.code)
        except _ConfigError as exc:
            self.errors.append(str(exc))
            return _error(500, f"test server configuration error: {exc}", "server_error", "fake_server_config")
        transport = request.transport
        if transport is not None and not transport.is_closing():  # the client still listens: delivered
            with self._lock:
                self.ok_answers[key] += 1
        return web.json_response(answer, dumps=_dumps, headers=self._headers())

    async def _fault(self, request: web.Request, fault: list) -> web.StreamResponse | None:
        kind, _, _, retry_after, hang_s = fault[:5]
        mixed = len(fault) > 5
        headers = self._headers()
        if retry_after is not None and kind in ("429", "500", "503"):
            headers["Retry-After"] = f"{retry_after:g}"
        if kind == "429":
            return _error(429, "Rate limit reached for requests (injected by the test server). "
                          "Please try again later.", "requests", "rate_limit_exceeded", headers=headers)
        if kind == "500":
            return _error(500, "The server had an error while processing your request. Sorry about that! "
                          "(injected)", "server_error", None, headers=headers)
        if kind == "503":
            return _error(503, "The engine is currently overloaded, please try again later. (injected)",
                          "server_error", "service_unavailable", headers=headers)
        if kind == "400":
            return _error(400, "Invalid request (injected by the test server).", "invalid_request_error",
                          "invalid_value", headers=self._headers())
        if kind == "401":
            return _error(401, "Incorrect API key provided (injected by the test server).",
                          "invalid_request_error", "invalid_api_key", headers=self._headers())
        if kind == "hang":
            await asyncio.sleep(hang_s)
            if not mixed:
                return None  # then answer normally
            kind = "disconnect"  # a mixed-in hang never answers: no late answer counts as delivered
        transport = request.transport
        if kind == "malformed":
            return web.Response(status=200, body=b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                                content_type="application/json", headers=self._headers())
        if transport is None:  # the client went away already
            return web.Response(status=499)
        if kind == "truncated":
            part = b'{"id": "chatcmpl-truncated", "object": "chat.completion", "choices": [{"index": 0, "mess'
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(part) + 200}\r\n"
                    f"x-request-id: req_{self._next_id()}\r\n\r\n").encode()
            transport.write(head + part)
        # "truncated" and "disconnect": close; aiohttp then fails to write the response below and drops it
        request.protocol.force_close()
        transport.close()
        return web.Response(status=200)

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._unauthorised(request)
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "culturelens-test"}
                for m in list(self.models)]
        return web.json_response({"object": "list", "data": data}, dumps=_dumps)

    async def _model(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._unauthorised(request)
        name = request.match_info["id"]
        if name not in self.models:
            return _error(404, f"The model '{name}' does not exist", "invalid_request_error", "model_not_found")
        return web.json_response({"id": name, "object": "model", "created": 1700000000,
                                  "owned_by": "culturelens-test"}, dumps=_dumps)

    # ------------------------------------------------------------------ files
    def _add_file(self, data: bytes, filename: str, purpose: str) -> dict:
        fid = "file-" + self._next_id()
        meta = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": filename, "purpose": purpose, "status": "processed", "status_details": None,
                "expires_at": None}
        self.files[fid] = {"meta": meta, "data": data}
        return meta

    async def _file_create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._unauthorised(request)
        await self._latency()
        try:
            form = await request.post()
        except Exception as exc:  # noqa: BLE001 - any multipart problem is the client's
            return _bad_request(f"could not parse the multipart body: {exc}", "file", None)
        upload, purpose = form.get("file"), form.get("purpose")
        if upload is None or not hasattr(upload, "file"):
            return _bad_request("Missing required parameter: 'file'.", "file", "missing_required_parameter")
        if not purpose:
            return _bad_request("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
        meta = self._add_file(upload.file.read(), upload.filename or "upload", str(purpose))
        return web.json_response(meta, dumps=_dumps)

    def _lookup_or_404(self, request: web.Request, table: dict, kind: str) -> dict | web.Response:
        """The stored object named by the URL's id, or the OpenAI-style 401 / 404 response."""
        if not self._authorised(request):
            return self._unauthorised(request)
        oid = request.match_info["id"]
        entry = table.get(oid)
        if entry is None:
            return _error(404, f"No such {kind} object: {oid}", "invalid_request_error", None, "id")
        return entry

    def _file_or_404(self, request: web.Request) -> dict | web.Response:
        return self._lookup_or_404(request, self.files, "File")

    async def _file_get(self, request: web.Request) -> web.Response:
        entry = self._file_or_404(request)
        return entry if isinstance(entry, web.Response) else web.json_response(entry["meta"], dumps=_dumps)

    async def _file_list(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._unauthorised(request)
        return web.json_response({"object": "list", "data": [f["meta"] for f in self.files.values()],
                                  "has_more": False}, dumps=_dumps)

    async def _file_delete(self, request: web.Request) -> web.Response:
        entry = self._file_or_404(request)
        if isinstance(entry, web.Response):
            return entry
        del self.files[entry["meta"]["id"]]
        return web.json_response({"id": entry["meta"]["id"], "object": "file", "deleted": True}, dumps=_dumps)

    async def _file_content(self, request: web.Request) -> web.Response:
        entry = self._file_or_404(request)
        if isinstance(entry, web.Response):
            return entry
        await self._latency()
        return web.Response(body=entry["data"], content_type="application/octet-stream")

    # ------------------------------------------------------------------ batches
    @staticmethod
    def _parse_batch_input(data: bytes, endpoint: str) -> tuple[list[dict], list[dict]]:
        lines, errors, ids = [], [], set()
        for no, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                errors.append({"code": "invalid_json_line", "message": "This line is not parseable as valid JSON.",
                               "param": None, "line": no})
                continue
            problem = None
            if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
                problem = ("missing_required_parameter", "Missing required parameter: 'custom_id'.")
            elif line["custom_id"] in ids:
                problem = ("duplicate_custom_id", f"The custom_id '{line['custom_id']}' is used more than once.")
            elif line.get("method") != "POST":
                problem = ("invalid_value", "Invalid value for 'method': expected 'POST'.")
            elif line.get("url") != endpoint:
                problem = ("mismatched_endpoint", f"The url '{line.get('url')}' does not match the batch "
                           f"endpoint '{endpoint}'.")
            elif not isinstance(line.get("body"), dict):
                problem = ("missing_required_parameter", "Missing required parameter: 'body'.")
            if problem:
                errors.append({"code": problem[0], "message": problem[1], "param": None, "line": no})
                continue
            ids.add(line["custom_id"])
            lines.append(line)
        if not lines and not errors:
            errors.append({"code": "empty_file", "message": "The batch input file is empty.", "param": None,
                           "line": None})
        return lines, errors

    async def _batch_create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._unauthorised(request)
        await self._latency()
        try:
            body = json.loads(await request.read())
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return _bad_request("We could not parse the JSON body of your request.", None, None)
        fid, endpoint, window = body.get("input_file_id"), body.get("endpoint"), body.get("completion_window")
        if endpoint != "/v1/chat/completions":
            return _bad_request(f"Invalid 'endpoint': the test server supports only '/v1/chat/completions', "
                                f"got {endpoint!r}", "endpoint")
        if window != "24h":
            return _bad_request(f"Invalid 'completion_window': expected '24h', got {window!r}", "completion_window")
        if fid not in self.files:
            return _bad_request(f"No such File object: {fid}", "input_file_id", "invalid_file")
        lines, errors = self._parse_batch_input(self.files[fid]["data"], endpoint)
        with self._lock:
            self.batch_requests.extend(line["body"] for line in lines)
        bid = "batch_" + self._next_id()
        now = int(time.time())
        obj = {"id": bid, "object": "batch", "endpoint": endpoint,
               "errors": {"object": "list", "data": errors} if errors else None,
               "input_file_id": fid, "completion_window": window,
               "status": "failed" if errors else "validating", "output_file_id": None, "error_file_id": None,
               "created_at": now, "in_progress_at": None, "expires_at": now + 86400, "finalizing_at": None,
               "completed_at": None, "failed_at": now if errors else None, "expired_at": None,
               "cancelling_at": None, "cancelled_at": None,
               "request_counts": {"total": 0 if errors else len(lines), "completed": 0, "failed": 0},
               "metadata": body.get("metadata"), "usage": None,
               "model": next((ln["body"].get("model") for ln in lines), None)}
        self.batches[bid] = {"object": obj, "lines": lines, "polls": 0}
        return web.json_response(obj, dumps=_dumps)

    def _finish_batch(self, state: dict) -> None:
        obj, out, err = state["object"], [], []
        for line in state["lines"]:
            rid = "req_" + self._next_id()
            try:
                resp = {"status_code": 200, "request_id": rid, "body": self._complete(line["body"])}
            except _BadRequest as exc:
                resp = {"status_code": 400, "request_id": rid, "body": {"error": {
                    "message": exc.message, "type": "invalid_request_error", "param": exc.param, "code": exc.code}}}
            except _ConfigError as exc:
                self.errors.append(str(exc))
                resp = {"status_code": 500, "request_id": rid, "body": {"error": {
                    "message": f"test server configuration error: {exc}", "type": "server_error",
                    "param": None, "code": "fake_server_config"}}}
            record = {"id": "batch_req_" + self._next_id(), "custom_id": line["custom_id"], "response": resp,
                      "error": None}
            (out if resp["status_code"] == 200 else err).append(_dumps(record))
        now = int(time.time())
        if out:
            obj["output_file_id"] = self._add_file(("\n".join(out) + "\n").encode(), f"{obj['id']}_output.jsonl",
                                                   "batch_output")["id"]
        if err:
            obj["error_file_id"] = self._add_file(("\n".join(err) + "\n").encode(), f"{obj['id']}_error.jsonl",
                                                  "batch_output")["id"]
        obj["request_counts"] = {"total": len(state["lines"]), "completed": len(out), "failed": len(err)}
        usage = [json.loads(r)["response"]["body"]["usage"] for r in out]
        tokens_in = sum(u["prompt_tokens"] for u in usage)
        tokens_out = sum(u["completion_tokens"] for u in usage)
        obj["usage"] = {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out,
                        "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
        obj.update(status="completed", finalizing_at=now, completed_at=now)

    def _batch_or_404(self, request: web.Request) -> dict | web.Response:
        return self._lookup_or_404(request, self.batches, "Batch")

    async def _batch_get(self, request: web.Request) -> web.Response:
        state = self._batch_or_404(request)
        if isinstance(state, web.Response):
            return state
        await self._latency()
        obj = state["object"]
        if obj["status"] in ("validating", "in_progress"):
            state["polls"] += 1
            if state["polls"] > self.config.batch_polls_until_done:
                self._finish_batch(state)
            else:
                obj["status"] = "in_progress"
                obj["in_progress_at"] = obj["in_progress_at"] or int(time.time())
        elif obj["status"] == "cancelling":
            obj.update(status="cancelled", cancelled_at=int(time.time()))
        return web.json_response(obj, dumps=_dumps)

    async def _batch_list(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._unauthorised(request)
        data = [s["object"] for s in reversed(list(self.batches.values()))]
        return web.json_response({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None, "has_more": False}, dumps=_dumps)

    async def _batch_cancel(self, request: web.Request) -> web.Response:
        state = self._batch_or_404(request)
        if isinstance(state, web.Response):
            return state
        obj = state["object"]
        if obj["status"] not in ("validating", "in_progress"):
            return _error(409, f"Cannot cancel a batch with status '{obj['status']}'.", "invalid_request_error",
                          None)
        obj.update(status="cancelling", cancelling_at=int(time.time()))
        return web.json_response(obj, dumps=_dumps)

    # ------------------------------------------------------------------ control endpoints
    async def _admin_inject(self, request: web.Request) -> web.Response:
        try:
            args = json.loads(await request.read())
            self.inject(args.pop("fault"), **args)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return _bad_request(f"bad inject arguments: {exc}")
        return web.json_response({"queued": self.pending_faults()}, dumps=_dumps)

    async def _admin_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def _admin_stats(self, request: web.Request) -> web.Response:
        match = request.query.get("match")
        with self._lock:
            ok = dict(self.ok_answers)
            faults = dict(self.faults_injected)
        return web.json_response({"requests": self.count(), "batch_requests": len(self.batch_requests),
                                  "matching": self.count(match) if match is not None else None,
                                  "errors": list(self.errors), "faults_injected": faults,
                                  "ok_distinct": len(ok), "ok_total": sum(ok.values()),
                                  "duplicates": sum(1 for n in ok.values() if n > 1)}, dumps=_dumps)


# ---------------------------------------------------------------------- separate process
def _http_ok(url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - 127.0.0.1 only
            return resp.status == 200
    except OSError:
        return False


def start_server_process(config_kwargs: dict | None = None, port: int = 0, *,
                         timeout: float = 20.0) -> tuple[str, subprocess.Popen]:
    """Run the server in a separate Python process; returns (base URL ending in /v1, process) once /health answers.

    `config_kwargs` are ServerConfig fields as plain JSON values (a dict `distribution` works, a callable
    does not). The child exits when its stdin closes, so it cannot outlive the test process even if that
    one is killed; stop it with `stop_server_process(proc)` (or `proc.terminate(); proc.wait()`).
    """
    kwargs = dict(config_kwargs or {})
    unknown = set(kwargs) - {f.name for f in fields(ServerConfig)}
    if unknown:
        raise TypeError(f"unknown ServerConfig fields: {sorted(unknown)}")
    if callable(kwargs.get("distribution")):
        raise TypeError("a callable distribution cannot be sent to another process; use a dict")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--port", str(port), "--config-json",
           json.dumps(kwargs), "--exit-on-stdin-eof", "--print-port"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    try:
        line = proc.stdout.readline()  # the child prints its port as soon as it listens
        if not line.strip().isdigit():
            raise RuntimeError(f"fake OpenAI server process did not start (exit code {proc.poll()}, said {line!r})")
        base = f"http://127.0.0.1:{int(line)}"
        while not _http_ok(base + "/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fake OpenAI server process at {base} did not answer /health")
            time.sleep(0.02)
    except BaseException:
        stop_server_process(proc)
        raise
    return base + "/v1", proc


def stop_server_process(proc: subprocess.Popen, timeout: float = 5.0) -> int | None:
    """Stop a process from start_server_process (SIGTERM, then SIGKILL) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    return proc.returncode


async def _serve(server: FakeOpenAIServer, host: str, port: int, print_port: bool, exit_on_eof: bool) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await server._startup(host, port)
    if print_port:
        print(server.port, flush=True)
    else:
        shown = dict(asdict(server.config), api_key="***" if server.config.api_key else None)
        print(f"fake OpenAI server on http://{host}:{server.port}/v1 ({shown})",
              file=sys.stderr, flush=True)
    if exit_on_eof:  # the parent holds the other end of our stdin: EOF means it has gone
        def on_stdin() -> None:
            try:
                data = os.read(0, 65536)
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(0)
                done.set()

        loop.add_reader(0, on_stdin)
    await done.wait()
    await server._cleanup()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Local OpenAI-compatible fake server for culturelens tests.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    ap.add_argument("--latency", type=float, help="seconds added before each answer")
    ap.add_argument("--jitter", type=float, help="plus uniform(0, jitter) seconds")
    ap.add_argument("--no-logprobs", action="store_true", help="behave as a provider without logprobs")
    ap.add_argument("--api-key", help="require 'Authorization: Bearer <key>'")
    ap.add_argument("--batch-polls", type=int, help="batch polls reporting in_progress before completed")
    ap.add_argument("--no-record", action="store_true", help="do not keep request bodies (long benchmarks)")
    ap.add_argument("--fault-rate", type=float, help="share of requests answered with a fault from the mix")
    ap.add_argument("--fault-seed", type=int, help="seed of the fault mix")
    ap.add_argument("--config-json", default="{}", help="ServerConfig fields as a JSON object")
    ap.add_argument("--print-port", action="store_true", help="print the listening port on stdout")
    ap.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes (parent died)")
    args = ap.parse_args(argv)
    cfg = json.loads(args.config_json)
    for flag, name in (("latency", "latency_s"), ("jitter", "latency_jitter_s"), ("api_key", "api_key"),
                       ("batch_polls", "batch_polls_until_done"), ("fault_rate", "fault_rate"),
                       ("fault_seed", "fault_seed")):
        if getattr(args, flag) is not None:
            cfg[name] = getattr(args, flag)
    if args.no_logprobs:
        cfg["logprobs_supported"] = False
    if args.no_record:
        cfg["record_requests"] = False
    server = FakeOpenAIServer(ServerConfig(**cfg))
    asyncio.run(_serve(server, args.host, args.port, args.print_port, args.exit_on_stdin_eof))


if __name__ == "__main__":
    main()
