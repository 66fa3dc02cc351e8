"""Batch mode (the OpenAI Batch API at half price, through litellm): submit, poll, collect.

Resumable: the batch id and the keys it carries are written to `<store>/<model>/batches/<id>.json`
the moment the provider accepts the batch, so a rerun after the submitting process died polls and
collects that batch instead of paying for its requests again. Every result line goes to the store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from .store import ResponseStore

log = logging.getLogger(__name__)

DONE = {"completed", "failed", "expired", "cancelled"}
MAX_REQUESTS = 50_000      # OpenAI's limit per batch (and 200 MB per input file)
MAX_BYTES = 190 * 2**20
MAX_COLLECT_ERRORS = 3     # a batch that cannot be retrieved this often is abandoned: its requests are sent again


def _provider_kwargs(backend) -> dict:
    # the key only goes where the model's config says (see backends/litellm_backend.py)
    return {"custom_llm_provider": "openai", **backend.credentials()}


def _body(request: dict) -> dict:
    """The request as the provider's batch line wants it (model without litellm's provider prefix)."""
    model = request["model"].split("/", 1)[1] if request["model"].startswith("openai/") else request["model"]
    return {**request, "model": model}


class BatchRunner:
    def __init__(self, backend, store: ResponseStore, poll_s: float = 30.0):
        self.backend, self.store, self.poll_s = backend, store, poll_s
        self.dir = store.dir / "batches"
        self.dir.mkdir(exist_ok=True)

    def pending(self) -> dict[str, dict]:
        """Batches submitted earlier and not yet collected: id → record."""
        out = {}
        for path in sorted(self.dir.glob("*.json")):
            record = json.loads(path.read_text())
            if not record.get("collected"):
                out[record["batch_id"]] = record
        return out

    def _save(self, record: dict) -> None:
        path = self.dir / f"{record['batch_id']}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(path)  # atomic: a crash leaves the old or the new record, never half of one

    async def submit(self, requests: dict[str, dict]) -> dict:
        litellm = self.backend.litellm
        lines = "".join(json.dumps({"custom_id": key, "method": "POST", "url": "/v1/chat/completions",
                                    "body": _body(req)}) + "\n" for key, req in requests.items())
        kwargs = _provider_kwargs(self.backend)
        file = await litellm.acreate_file(file=("culturelens.jsonl", lines.encode()), purpose="batch", **kwargs)
        batch = await litellm.acreate_batch(completion_window="24h", endpoint="/v1/chat/completions",
                                            input_file_id=file.id, metadata={"client": "culturelens"}, **kwargs)
        record = {"batch_id": batch.id, "input_file_id": file.id, "keys": list(requests),
                  "requests": requests, "submitted_at": time.time(), "collected": False}
        self._save(record)
        log.info("%s: submitted batch %s with %d requests", self.backend.name, batch.id, len(requests))
        return record

    async def collect(self, record: dict, deadline: float) -> dict:
        """Poll until the batch is done (or the deadline), then write every result to the store."""
        litellm = self.backend.litellm
        kwargs = _provider_kwargs(self.backend)
        while True:
            batch = await litellm.aretrieve_batch(batch_id=record["batch_id"], **kwargs)
            if batch.status in DONE or time.monotonic() > deadline:
                break
            await asyncio.sleep(self.poll_s)
        counts = {"ok": 0, "failed": 0}
        if batch.status not in DONE:
            log.warning("batch %s still %s at the deadline; rerun to collect it", batch.id, batch.status)
            return counts  # stays pending: the next run polls it again
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await litellm.afile_content(file_id=file_id, **kwargs)
            for line in content.content.decode().splitlines():
                if line.strip():
                    counts[self._store_line(json.loads(line), record)] += 1
        record.update(collected=True, status=batch.status, counts=counts, collected_at=time.time())
        self._save(record)
        return counts

    def _store_line(self, line: dict, record: dict) -> str:
        key = line["custom_id"]
        response = line.get("response") or {}
        ok = response.get("status_code") == 200 and not line.get("error")
        body = response.get("body") if ok else None
        error = None if ok else json.dumps(line.get("error") or response.get("body"))[:500]
        usage = (body or {}).get("usage") or {}
        cost = 0.0
        if usage:
            from .preview import price

            full, _ = price(self.backend.model, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
            cost = full / 2 if full == full else 0.0  # the Batch API bills half; NaN: not in the price map
        self.store.put({"key": key, "model": self.backend.name, "identity": self.backend.identity,
                        "request": record["requests"].get(key), "status": "ok" if ok else "failed",
                        "payload": body, "error": error, "error_kind": None if ok else "batch_error",
                        "attempts": 1, "attempt_errors": [], "usage": usage, "cost_usd": cost, "latency_s": None, "batch_id": record["batch_id"]})
        return "ok" if ok else "failed"


def chunks(requests: dict[str, dict]) -> list[dict[str, dict]]:
    """Split requests into batches within the provider's request and size limits."""
    out, current, size = [], {}, 0
    for key, req in requests.items():
        line = len(json.dumps(req)) + 200
        if current and (len(current) >= MAX_REQUESTS or size + line > MAX_BYTES):
            out.append(current)
            current, size = {}, 0
        current[key] = req
        size += line
    return out + ([current] if current else [])


async def run_batches(backend, store: ResponseStore, todo: dict[str, dict], deadline: float,
                      poll_s: float = 30.0) -> set[str]:
    """Collect earlier batches, submit what is neither stored nor pending, collect it.
    Returns the keys still waiting in batches the provider has not finished."""
    runner = BatchRunner(backend, store, poll_s)
    pending = runner.pending()
    in_flight = {k for rec in pending.values() for k in rec["keys"]}
    fresh = {k: r for k, r in todo.items() if k not in in_flight and k not in store}
    for part in chunks(fresh):
        record = await runner.submit(part)
        pending[record["batch_id"]] = record
    waiting: set[str] = set()
    for record in pending.values():
        try:
            await runner.collect(record, deadline)
        except Exception as err:  # noqa: BLE001 — deleted batch, expired file, changed key …
            record["collect_errors"] = record.get("collect_errors", 0) + 1
            record["last_error"] = f"{type(err).__name__}: {err}"[:500]
            if record["collect_errors"] >= MAX_COLLECT_ERRORS:
                record.update(collected=True, status="abandoned")  # its requests are sent again next run
            runner._save(record)
            log.warning("batch %s: %s", record["batch_id"], record["last_error"])
        if not record.get("collected") or record.get("status") == "abandoned":
            waiting.update(record["keys"])  # unanswered: retried (resubmitted once abandoned) next run
    return waiting
