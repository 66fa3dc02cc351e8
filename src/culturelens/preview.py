"""Cost-and-size preview before spending: per model, the prompts not yet in the store, their
tokens and the estimated cost (litellm's price map). Sends nothing."""

from __future__ import annotations

import math
import os

import pandas as pd

from .backends import reasoning
from .engine import plan
from .store import ResponseStore

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

COLUMNS = ["model", "provider", "prompt_rows", "distinct_requests", "in_store", "to_send",
           "prompt_tokens", "max_completion_tokens", "reasoning_budget_tokens", "est_cost_usd", "price_note"]


def count_tokens(model: str, messages: list[dict]) -> int:
    import litellm

    try:
        return int(litellm.token_counter(model=model, messages=messages))
    except Exception:  # noqa: BLE001 — unknown tokenizer: fall back to 4 characters a token
        return sum(len(m.get("content") or "") for m in messages) // 4 + 4 * len(messages)


def price(model: str, prompt_tokens: int, completion_tokens: int) -> tuple[float, str]:
    import litellm

    try:
        cost_in, cost_out = litellm.cost_per_token(model=model, prompt_tokens=prompt_tokens,
                                                   completion_tokens=completion_tokens)
        return float(cost_in + cost_out), ""
    except Exception:  # noqa: BLE001 — not in the price map (local and self-hosted models)
        return math.nan, "no price in litellm's map"


def preview_model(name: str, spec: dict, prompts: pd.DataFrame, backend, store: ResponseStore) -> dict:
    _, requests = plan(prompts, backend)
    todo = [r for k, r in requests.items() if k not in store]
    row = {"model": name, "provider": spec["provider"], "prompt_rows": len(prompts),
           "distinct_requests": len(requests), "in_store": len(requests) - len(todo), "to_send": len(todo),
           "prompt_tokens": 0, "max_completion_tokens": 0, "reasoning_budget_tokens": 0, "est_cost_usd": 0.0,
           "price_note": ""}
    if spec["provider"] == "reference" or not todo:
        return row
    model = spec["model"]
    row["prompt_tokens"] = sum(count_tokens(model, r["messages"]) for r in todo)
    # a reasoning model's allowance includes its thinking budget: the estimate prices it all, as
    # providers bill reasoning tokens as completion tokens
    row["max_completion_tokens"] = sum(int(r.get("max_tokens", 1)) * int(r.get("n", 1)) for r in todo)
    thinking = reasoning.setting(spec)
    if isinstance(thinking, dict):
        row["reasoning_budget_tokens"] = thinking["budget_tokens"] * sum(int(r.get("n", 1)) for r in todo)
    if spec["provider"] == "vllm" or spec.get("api_base"):
        row["price_note"] = "self-hosted: no per-token price"
        return row
    cost, note = price(model, row["prompt_tokens"], row["max_completion_tokens"])
    if spec.get("batch") and not math.isnan(cost):
        cost, note = cost / 2, "batch API: half price"
    row["est_cost_usd"], row["price_note"] = cost, note
    return row
