"""Content-addressed, append-only response store.

Every response a model ever gave (or every failure it returned) is one JSON line in a segment
file `<root>/<model>/<host>-<pid>-<random>.jsonl`. Each writer process appends to its own segment,
so concurrent jobs (also on a shared cluster file system) never write to the same file, and a
crash loses at most the line being written (a torn last line is skipped on reading).

The key of a record is the sha256 of (model identity, full request, sample index): a rerun, a
resumed run or another study asking the identical request finds it and does not send it again.
Only final records (`ok`, `abstained`) satisfy a lookup; `failed` ones are kept as history and
retried by the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

FINAL = frozenset({"ok", "abstained"})


def request_key(model_identity: dict, request: dict, sample_index: int = 0) -> str:
    """The content address of one request to one model."""
    blob = json.dumps([model_identity, request, sample_index], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseStore:
    """Responses of one model, indexed by key; appends go to this process's own segment."""

    def __init__(self, root: Path | str, model: str):
        self.dir = Path(root) / model
        self.dir.mkdir(parents=True, exist_ok=True)
        self._final: dict[str, dict] = {}
        self._failed: dict[str, int] = {}
        self.torn_lines = 0
        self._segment = None
        for record in self._scan():
            self._index(record)

    def _scan(self) -> Iterator[dict]:
        for path in sorted(self.dir.glob("*.jsonl")):
            with path.open("rb") as fh:
                for line in fh:
                    try:
                        yield json.loads(line)
                    except ValueError:  # torn write from a crashed process
                        self.torn_lines += 1

    def _index(self, record: dict) -> None:
        if record["status"] in FINAL:
            self._final.setdefault(record["key"], record)
        else:
            self._failed[record["key"]] = self._failed.get(record["key"], 0) + 1

    def __len__(self) -> int:
        return len(self._final)

    def __contains__(self, key: str) -> bool:
        return key in self._final

    def get(self, key: str) -> dict | None:
        """The final record for `key`, or None if it was never answered."""
        return self._final.get(key)

    def failures(self, key: str) -> int:
        """How many failed attempts for `key` the store has seen (across runs)."""
        return self._failed.get(key, 0)

    def put(self, record: dict) -> None:
        """Append one record and flush it to the OS at once (it may have been paid for)."""
        if "key" not in record or "status" not in record:
            raise ValueError("a store record needs 'key' and 'status'")
        record.setdefault("stored_at", time.time())
        if self._segment is None:
            name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            self._segment = (self.dir / name).open("a", encoding="utf-8")
        self._segment.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._segment.flush()
        self._index(record)

    def close(self) -> None:
        if self._segment is not None:
            os.fsync(self._segment.fileno())
            self._segment.close()
            self._segment = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
