"""Runs one model over a prompt table through the response store.

Store lookup before sending (identical requests are answered once, across studies, shards and
reruns); every response is written the moment it arrives; failures are recorded with their
message and reported, never dropped.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter

import pandas as pd

from .backends import Backend
from .store import ResponseStore, request_key

log = logging.getLogger(__name__)

RESPONSE_COLUMNS = ["prompt_id", "condition", "country", "key", "status", "cached", "error",
                    "latency_s", "cost_usd", "payload"]


def run(prompts: pd.DataFrame, backend: Backend, store: ResponseStore) -> tuple[pd.DataFrame, Counter]:
    """Answer every prompt row; returns (responses table, counts by outcome)."""
    rows, counts = [], Counter()
    answered: dict[str, dict] = {}
    for prompt in prompts.to_dict("records"):
        request = backend.request(prompt)
        key = request_key(backend.identity, request)
        record = answered.get(key) or store.get(key)
        cached = record is not None
        if record is None:
            started = time.perf_counter()
            try:
                result = backend.answer(request)
            except Exception as err:  # noqa: BLE001 — recorded, counted and reported, not swallowed
                result = {"status": "failed", "payload": None, "error": f"{type(err).__name__}: {err}"}
            record = {"key": key, "model": backend.name, "identity": backend.identity, "request": request,
                      "latency_s": time.perf_counter() - started, **result}
            store.put(record)
        answered[key] = record
        counts["cached" if cached else "sent"] += 1
        counts[record["status"]] += 1
        rows.append({
            "prompt_id": prompt["prompt_id"], "condition": prompt["condition"], "country": prompt["country"],
            "key": key, "status": record["status"], "cached": cached, "error": record.get("error"),
            "latency_s": record.get("latency_s"), "cost_usd": record.get("cost_usd", 0.0),
            "payload": json.dumps(record.get("payload"), ensure_ascii=False),
        })
    return pd.DataFrame(rows, columns=RESPONSE_COLUMNS), counts
