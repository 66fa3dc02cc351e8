"""Reasoning models: a model entry's ``reasoning`` as each provider's request parameters.

``reasoning: {effort: low | medium | high, budget_tokens: N}`` turns thinking on (either key may
be left out: effort ``medium`` and its budget below by default); ``reasoning: off`` turns it off
where the provider allows it. Two styles of request, by where the model is reached:

- ``litellm`` (API models through litellm): ``reasoning_effort`` (litellm maps it to OpenAI's
  ``reasoning_effort``, Anthropic's extended-thinking budget and Gemini's thinking budget; ``off``
  is ``reasoning_effort: none``, which disables Anthropic and Gemini thinking and is GPT-5.1's
  "none"; OpenAI's o-series cannot be turned off and reject it); ``budget_tokens`` also as
  ``thinking: {type: enabled, budget_tokens}`` for Anthropic and Gemini models (OpenAI takes none).
- ``chat_template`` (vLLM, and any OpenAI-compatible server given by ``api_base``):
  ``chat_template_kwargs: {enable_thinking: true | false}`` (Qwen3's switch; DeepSeek-R1 always
  thinks), and the server's reasoning parser (``vllm serve --reasoning-parser``) puts the thinking in
  ``reasoning_content``; without one it arrives as ``<think>…</think>`` in the content.

With thinking on, the completion allowance is the budget plus the answer's own tokens (the method's
``max_tokens``: a reasoning model spends the answer allowance of a plain one, 8 tokens, on
thinking and never answers), and ``temperature`` is left to the provider (OpenAI's reasoning models
and Anthropic's thinking accept only their default). Everything is recorded in the request, so the
store keys of a model with and without reasoning differ. The answer is read from the final message
only (culturelens.elicit.answer_text); the thinking stays in the stored payload.
"""

from __future__ import annotations

from collections.abc import Mapping

EFFORTS = ("low", "medium", "high")
#: the thinking budget an effort stands for where the provider counts in tokens (Anthropic's and
#: litellm's low/medium/high steps are 1,024 / 2,048 / 4,096; these leave room for a full answer)
EFFORT_BUDGET = {"low": 1024, "medium": 4096, "high": 16384}
#: litellm model prefixes whose thinking takes a token budget (`thinking`)
BUDGET_PROVIDERS = ("anthropic/", "gemini/", "vertex_ai/", "bedrock/")


def setting(spec: Mapping):
    """None (not a reasoning model), ``"off"``, or ``{effort, budget_tokens}`` with defaults filled."""
    value = spec.get("reasoning")
    if value is None:
        return None
    if value is False or value == "off":
        return "off"
    value = dict(value)
    effort = value.get("effort", "medium")
    return {"effort": effort, "budget_tokens": int(value.get("budget_tokens") or EFFORT_BUDGET[effort])}


def is_on(spec: Mapping) -> bool:
    return isinstance(setting(spec), dict)


def style(spec: Mapping) -> str:
    """``litellm`` or ``chat_template`` (module docstring)."""
    if spec.get("provider") == "vllm" or spec.get("api_base") or spec.get("client") == "http":
        return "chat_template"
    return "litellm"


def apply(body: dict, spec: Mapping) -> dict:
    """The chat-completion body with the entry's reasoning parameters (unchanged without any)."""
    value = setting(spec)
    if value is None:
        return body
    body = dict(body)
    if style(spec) == "chat_template":
        kwargs = dict(body.get("chat_template_kwargs") or {})
        kwargs["enable_thinking"] = value != "off"
        body["chat_template_kwargs"] = kwargs
    elif value == "off":
        body["reasoning_effort"] = "none"
    else:
        body["reasoning_effort"] = value["effort"]
        if str(spec.get("model", "")).startswith(BUDGET_PROVIDERS):
            body["thinking"] = {"type": "enabled", "budget_tokens": value["budget_tokens"]}
    if value != "off":
        body["max_tokens"] = int(body.get("max_tokens") or 0) + value["budget_tokens"]
        if style(spec) == "litellm":
            body.pop("temperature", None)
    return body
