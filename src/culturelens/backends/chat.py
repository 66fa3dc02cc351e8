"""The chat-completion request every real-model backend sends, per elicitation method."""

from __future__ import annotations

import json
from collections.abc import Mapping

DEFAULTS = {
    "logprobs": {"top_logprobs": 20, "max_tokens": 1, "temperature": 0.0},
    "sample": {"n": 20, "temperature": 1.0, "max_tokens": 8},
    "verbalized": {"max_tokens": 200, "temperature": 0.0},
}


def elicitation_params(elicitation: Mapping) -> dict:
    """The method's defaults overridden by the config (recorded in every request)."""
    method = elicitation["method"]
    return {**DEFAULTS[method], **{k: v for k, v in elicitation.items() if k != "method"}, "method": method}


def chat_request(model: str, prompt: Mapping, elicitation: Mapping, extra: Mapping | None = None) -> dict:
    """OpenAI chat-completion body for one prompt row."""
    params = elicitation_params(elicitation)
    method = params.pop("method")
    column = "messages_verbalized" if method == "verbalized" else "messages"
    body = {"model": model, "messages": json.loads(prompt[column]),
            "max_tokens": params.pop("max_tokens"), "temperature": params.pop("temperature")}
    if method == "logprobs":
        body.update(logprobs=True, top_logprobs=params.pop("top_logprobs"))
    elif method == "sample":
        body["n"] = params.pop("n")
    else:
        body["response_format"] = {"type": "json_object"}
    body.update(params)          # seed, top_p, … passed through as given
    body.update(extra or {})
    return body


def estimate_tokens(body: Mapping) -> int:
    """Rough prompt + completion tokens (4 characters a token) for rate limiting before sending."""
    chars = sum(len(m.get("content") or "") for m in body["messages"])
    return chars // 4 + 4 * len(body["messages"]) + body.get("max_tokens", 16) * body.get("n", 1)
