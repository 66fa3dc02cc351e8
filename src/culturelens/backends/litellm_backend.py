"""API models (OpenAI, Anthropic, Gemini, Mistral, Together, …) and OpenAI-compatible endpoints
through litellm.

Keys come only from the environment, and a key is only ever sent to the host configured for it:
- `api_key_env` set: that variable's value is the key, sent to `api_base` if given, else to the
  provider's own host;
- no `api_key_env`, no `api_base`: litellm takes the provider's usual variable (OPENAI_API_KEY,
  ANTHROPIC_API_KEY, …) and sends it to the provider's own host;
- no `api_key_env`, `api_base` set: the placeholder "none" is sent (local servers ignore it; the
  SDK insists on a key), never the provider's variable, which is meant for the provider's host. A
  server that wants a key gets it through `api_key_env`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from unittest import mock

from ..errors import InputError
from . import Fatal, Retryable, require_key_env
from . import reasoning
from .chat import chat_request, elicitation_params, estimate_tokens
from .http import retry_after_seconds

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: use the price map litellm ships


PLACEHOLDER_KEY = "none"
LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def _litellm():
    """litellm, quiet: its loggers log a line per request at INFO, which would fill the job's log
    (and the console, which shows a failed job's log)."""
    import litellm

    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return litellm


def provider_key_variables(model: str) -> list[str]:
    """The environment variables litellm reads the key of `model` from (e.g. OPENAI_API_KEY), set
    or not: litellm.validate_environment names only the missing ones, so it is asked with an
    empty environment (restored at once)."""
    litellm = _litellm()
    with mock.patch.dict(os.environ, clear=True):
        return list(litellm.validate_environment(model=model).get("missing_keys") or [])


class LiteLLMBackend:
    def __init__(self, name: str, spec: Mapping, **_):
        self.name = name
        self.spec = dict(spec)
        self.model = spec["model"]
        self.elicitation = elicitation_params(spec["elicitation"])
        self.api_base = spec.get("api_base")
        key_env = spec.get("api_key_env")
        self.api_key = os.environ.get(key_env) if key_env else None
        self.identity = {"provider": "litellm", "model": self.model, "revision": spec.get("revision")}
        self.use_batch = bool(spec.get("batch"))
        self.batch_poll_s = float(spec.get("batch_poll_s", 30.0))
        self.litellm = _litellm()

    def check(self, file: str = "config/config.yaml") -> list[str]:
        """Before any request: the key is in the environment and the provider can do the method.
        Returns the environment variables the outcome depends on (config.check_models caches it)."""
        where = f"catalog.models.{self.name}"
        key_env = self.spec.get("api_key_env")
        require_key_env(self.name, self.spec, file)
        variables = [key_env] if key_env else []
        if not self.api_base and not key_env:
            env = self.litellm.validate_environment(model=self.model)
            if not env.get("keys_in_environment", True):
                missing = ", ".join(env.get("missing_keys") or [])
                raise InputError(file, f"{where}.model", f"the API key variable(s) {missing} to be set for "
                                 f"'{self.model}' (keys come only from the environment)")
            variables = provider_key_variables(self.model)
        if self.elicitation["method"] == "logprobs":
            _, provider, *_ = self.litellm.get_llm_provider(self.model, api_base=self.api_base)
            if "logprobs" not in self._supported():
                raise InputError(file, f"{where}.elicitation.method",
                                 f"a method the provider supports: {provider} returns no log-probabilities "
                                 f"(use sample or verbalized)", "logprobs")
        return variables

    def _supported(self) -> set[str]:
        if not hasattr(self, "_params"):
            model, provider, *_ = self.litellm.get_llm_provider(self.model, api_base=self.api_base)
            self._params = set(self.litellm.get_supported_openai_params(model=model, custom_llm_provider=provider) or [])
        return self._params

    def request(self, prompt: Mapping) -> dict:
        body = reasoning.apply(chat_request(self.model, prompt, self.elicitation), self.spec)
        if reasoning.style(self.spec) == "litellm":
            # switches of vLLM's chat template: an API takes a trailing assistant turn as it is
            for key in ("continue_final_message", "add_generation_prompt", "structured_outputs"):
                body.pop(key, None)
        if "response_format" in body and "response_format" not in self._supported():
            del body["response_format"]  # JSON mode where the provider has it; else the instruction alone
        return body

    def estimate_tokens(self, request: dict) -> int:
        return estimate_tokens(request)

    def credentials(self) -> dict:
        """`api_base` and `api_key` for litellm calls, by the rule in the module docstring."""
        extra = {"api_base": self.api_base} if self.api_base else {}
        if self.api_key:
            extra["api_key"] = self.api_key
        elif self.api_base:
            extra["api_key"] = PLACEHOLDER_KEY
        return extra

    async def send(self, request: dict, timeout: float) -> dict:
        litellm = self.litellm
        body = {k: v for k, v in request.items() if k != "model"}
        try:
            response = await litellm.acompletion(model=self.model, timeout=timeout, num_retries=0,
                                                 max_retries=0, **body, **self.credentials())
        except (litellm.RateLimitError,) as err:
            raise Retryable("rate_limit", _message(err), _retry_after(err)) from None
        except litellm.Timeout as err:
            raise Retryable("timeout", _message(err)) from None
        except (litellm.InternalServerError, litellm.ServiceUnavailableError, litellm.BadGatewayError) as err:
            raise _server_side(err) from None
        except (litellm.AuthenticationError, litellm.PermissionDeniedError) as err:
            raise Fatal("auth", _message(err)) from None
        except (litellm.BadRequestError, litellm.NotFoundError, litellm.UnprocessableEntityError,
                litellm.ContentPolicyViolationError, litellm.ContextWindowExceededError) as err:
            raise Fatal("bad_request", _message(err)) from None
        except litellm.APIConnectionError as err:
            raise Retryable("connection", _message(err)) from None
        except litellm.APIError as err:
            if getattr(err, "status_code", 500) >= 500:
                raise _server_side(err) from None
            raise Fatal("bad_request", _message(err)) from None
        payload = response.model_dump()
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        return {"payload": payload, "usage": payload.get("usage"), "cost_usd": float(cost or 0.0)}

    async def aclose(self) -> None:
        return None


def _server_side(err: Exception) -> Retryable:
    """A 5xx as litellm reports it. litellm also reports a refused or dropped connection and an
    unreadable body as InternalServerError (status 500): the exception chain tells them apart."""
    kind, cause = _cause(err)
    message = _message(err)
    if cause is not None:
        message = f"{message} ({type(cause).__name__}: {cause})"[:500]
    return Retryable(kind, message, _retry_after(err) if kind == "server_error" else None)


def _cause(err: Exception) -> tuple[str, BaseException | None]:
    """(kind, the deepest exception of the chain of causes that shows it) for a litellm exception:
    `timeout` or `connection` when no HTTP answer arrived, `truncated` when the body was cut off,
    `malformed` when it was not JSON (the kinds the http client names),
    else (`server_error`, None)."""
    import aiohttp
    import httpx
    import openai

    chain, seen = [], set()
    cause = err.__cause__ or err.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for kind, types in (("timeout", (TimeoutError, httpx.TimeoutException, openai.APITimeoutError)),
                        ("truncated", (aiohttp.ClientPayloadError,)),
                        ("connection", (ConnectionError, httpx.TransportError, openai.APIConnectionError)),
                        ("malformed", (json.JSONDecodeError,))):
        shown = [c for c in chain if isinstance(c, types)]
        if shown:
            return kind, shown[-1]
    return "server_error", None


def _message(err: Exception) -> str:
    """`<Type>: <provider's message>`, without the type names litellm repeats in front of it
    ("litellm.AuthenticationError: AuthenticationError: OpenAIException - …")."""
    text = re.sub(r"^litellm\.\w+: (\w+: )?", "", str(getattr(err, "message", None) or err))
    return f"{type(err).__name__}: {text}"[:500]


def _retry_after(err: Exception) -> float | None:
    for source in (getattr(err, "litellm_response_headers", None), getattr(getattr(err, "response", None), "headers", None)):
        if source is not None:
            try:
                value = source.get("retry-after") or source.get("Retry-After")
            except AttributeError:
                continue
            if value is not None:
                return retry_after_seconds(value)
    return None
