"""Fast path for OpenAI-compatible servers (the vLLM rule, local servers): bare aiohttp.

The usual Python clients spend far more CPU per request than a local vLLM server needs to answer a
one-token request (see benchmarks/); this client sends the same JSON over one pooled aiohttp
session and parses the reply with the standard library.

The key is the value of the variable `api_key_env` names (config.check_models refuses the model
if it is unset), sent only to `api_base`; without `api_key_env` no Authorization header is sent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import aiohttp

from . import Fatal, Retryable
from . import reasoning
from .chat import chat_request, elicitation_params, estimate_tokens

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524}


def retry_after_seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


class OpenAICompatibleBackend:
    def __init__(self, name: str, spec: Mapping, *, api_base: str | None = None, liveness=None, **_):
        self.name = name
        self.spec = dict(spec)
        self.model = spec["model"]
        self.elicitation = elicitation_params(spec["elicitation"])
        self.api_base = (api_base or spec.get("api_base") or "").rstrip("/")
        if not self.api_base:
            raise ValueError(f"model '{name}': an OpenAI-compatible endpoint needs api_base")
        key_env = spec.get("api_key_env")
        self._headers = {"Content-Type": "application/json"}
        if key_env and os.environ.get(key_env):
            self._headers["Authorization"] = f"Bearer {os.environ[key_env]}"
        self.identity = {"provider": spec["provider"], "model": self.model, "revision": spec.get("revision")}
        self._session: aiohttp.ClientSession | None = None
        self.liveness = liveness  # e.g. VLLMServer.check_alive: a dead server fails requests at once
        self.max_connections = int(spec.get("limits", {}).get("max_concurrency", 64))

    def request(self, prompt: Mapping) -> dict:
        return reasoning.apply(chat_request(self.model, prompt, self.elicitation), self.spec)

    def estimate_tokens(self, request: dict) -> int:
        return estimate_tokens(request)

    async def send(self, request: dict, timeout: float) -> dict:
        try:
            return await self._send(request, timeout)
        except Retryable as err:
            if self.liveness is not None and err.kind in ("connection", "timeout", "truncated"):
                try:
                    self.liveness()
                except Exception as dead:  # noqa: BLE001 — the server is gone: no point retrying
                    raise Fatal("server_died", str(dead).splitlines()[0]) from None
            raise

    async def _send(self, request: dict, timeout: float) -> dict:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=300))
        url = f"{self.api_base}/chat/completions"
        try:
            async with self._session.post(url, data=json.dumps(request),
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                body = await resp.read()
                status = resp.status
                retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
        except TimeoutError:
            raise Retryable("timeout", f"no answer within {timeout:g} s") from None
        except aiohttp.ClientPayloadError as err:
            raise Retryable("truncated", f"incomplete response body: {err}") from None
        except aiohttp.ClientError as err:
            raise Retryable("connection", f"{type(err).__name__}: {err}") from None
        if status != 200:
            message = _error_message(body, status)
            if status in RETRY_STATUS or status >= 500:
                kind = "rate_limit" if status == 429 else "timeout" if status == 408 else "server_error"
                raise Retryable(kind, message, retry_after)
            raise Fatal("auth" if status in (401, 403) else "bad_request", message)
        try:
            payload = json.loads(body)
        except ValueError:
            raise Retryable("malformed", f"response is not JSON: {body[:80]!r}") from None
        if not isinstance(payload, dict) or payload.get("error") or not payload.get("choices"):
            raise Retryable("malformed", f"HTTP 200 without choices: {body[:200]!r}")  # some proxies do this
        return {"payload": payload, "usage": payload.get("usage"), "cost_usd": 0.0}

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _error_message(body: bytes, status: int) -> str:
    try:
        err = json.loads(body)["error"]
        return f"HTTP {status}: {err.get('message', err)}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"HTTP {status}: {body[:200].decode(errors='replace')}"
