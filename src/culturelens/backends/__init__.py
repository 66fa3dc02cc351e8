"""Model backends: one small interface, one class per provider.

A backend turns a prompt row into a JSON request (what the store hashes) and sends a request,
returning an OpenAI-style chat completion dict. It raises `Retryable` or `Fatal` for failures;
caching, concurrency, rate limits, retries and bookkeeping belong to `culturelens.engine`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from ..errors import InputError


class Retryable(Exception):
    """A failure worth retrying (429, 5xx, timeout, dropped connection, unreadable body)."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.kind, self.retry_after = kind, retry_after


class Fatal(Exception):
    """A failure that retrying will not fix (bad request, authentication, content policy)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Backend(Protocol):
    name: str
    identity: dict        # everything that defines the model's answers (provider, id, parameters, data)
    elicitation: dict     # method and its parameters
    # optional, default False: True when an answer does not depend on the template paraphrase or the
    # option order (imported answers); it is then asked of one prompt row per cell
    # (culturelens.prompts.first_variant) and enters every table and statistic once
    one_answer_per_cell: bool

    def request(self, prompt: Mapping) -> dict:
        """The JSON request for one prompt row: everything the answer may depend on."""

    async def send(self, request: dict, timeout: float) -> dict:
        """Send one request; return {payload, usage, cost_usd} or raise Retryable / Fatal."""

    def estimate_tokens(self, request: dict) -> int:
        """Tokens the request will use (for the tokens-per-minute bucket)."""

    async def aclose(self) -> None:
        ...


def require_key_env(name: str, spec: Mapping, file: str) -> None:
    """A model whose `api_key_env` names an unset variable is refused before any job: its requests
    would go out without the key and all fail."""
    key_env = spec.get("api_key_env")
    if key_env and not os.environ.get(key_env):
        raise InputError(file, f"catalog.models.{name}.api_key_env",
                         f"the environment variable {key_env} to be set (the model's key comes only from it)")


def key_hint(name: str, spec: Mapping) -> str:
    """What to do when the provider refuses the model's key: set the variable it is read from."""
    where = f"catalog.models.{name}"
    if spec.get("api_key_env"):
        return f"set {spec['api_key_env']} (named by {where}.api_key_env) to a valid key"
    if spec.get("api_base"):
        return f"name the variable holding the key for {spec['api_base']} in {where}.api_key_env"
    if spec["provider"] == "litellm":
        from .litellm_backend import provider_key_variables

        names = provider_key_variables(spec["model"])
        if names:
            return f"set {' or '.join(names)} to a valid key"
    return f"name the variable holding a valid key in {where}.api_key_env"


def make(name: str, spec: Mapping, **context) -> Backend:
    """Build the backend a model entry of the config asks for."""
    provider = spec["provider"]
    if provider == "reference":
        from .reference import ReferenceRespondent

        return ReferenceRespondent(name, spec, **context)
    if provider == "imported":
        from .imported import ImportedAnswers

        return ImportedAnswers(name, spec, **context)
    if provider == "litellm" and spec.get("client", "litellm") == "litellm":
        from .litellm_backend import LiteLLMBackend

        return LiteLLMBackend(name, spec, **context)
    if provider in ("litellm", "vllm"):
        from .http import OpenAICompatibleBackend

        return OpenAICompatibleBackend(name, spec, **context)
    raise ValueError(f"model '{name}': unknown provider '{provider}'")
