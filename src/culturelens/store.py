"""Content-addressed, append-only response store.

Every response a model ever gave (or every failure it returned) is one JSON line in a segment
file `<root>/<model>/<host>-<pid>-<random>.jsonl`. Each writer process appends to its own segment,
so concurrent jobs (also on a shared cluster file system) never write to the same file, and a
crash loses at most the line being written (a torn last line is skipped on reading).

The key of a record is the sha256 of (model identity, full request, sample index): a rerun, a
resumed run or another study asking the identical request finds it and does not send it again.
Only final records (`ok`, `abstained`) satisfy a lookup; `failed` ones are kept as history and
retried by the next run.

Opening a store indexes key → (segment, offset) without parsing the records (each line starts
with its key and status), so a store of millions of responses opens in seconds and stays small in
memory; a record is read from disk when asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from pathlib import Path

FINAL = frozenset({"ok", "abstained"})
_PREFIX = b'{"key":"'
_STATUS = b'","status":"'
_KEY_END = len(_PREFIX) + 64
_STATUS_END = _KEY_END + len(_STATUS)


def request_key(model_identity: dict, request: dict, sample_index: int = 0) -> str:
    """The content address of one request to one model."""
    blob = json.dumps([model_identity, request, sample_index], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _key_and_status(line: bytes) -> tuple[str, str] | None:
    """Key and status of one stored line without parsing it; None for a torn or foreign line."""
    if not line.endswith(b"}\n"):
        return None
    if line.startswith(_PREFIX) and line[_KEY_END:_STATUS_END] == _STATUS:
        end = line.find(b'"', _STATUS_END)
        return line[len(_PREFIX):_KEY_END].decode(), line[_STATUS_END:end].decode()
    try:
        record = json.loads(line)
        return record["key"], record["status"]
    except (ValueError, KeyError, TypeError):
        return None


class ResponseStore:
    """Responses of one model, indexed by key; appends go to this process's own segment."""

    def __init__(self, root: Path | str, model: str):
        self.dir = Path(root) / model
        self.dir.mkdir(parents=True, exist_ok=True)
        self._segments: list[Path] = []
        self._final: dict[str, tuple[int, int]] = {}    # key → (segment number, byte offset)
        self._failed: dict[str, int] = {}
        self._readers: dict[int, object] = {}
        self.torn_lines = 0
        self._segment = None
        for path in sorted(self.dir.glob("*.jsonl")):
            self._scan(path)

    def _scan(self, path: Path) -> None:
        number = len(self._segments)
        self._segments.append(path)
        offset = 0
        with path.open("rb") as fh:
            for line in fh:
                found = _key_and_status(line)
                if found is None:
                    self.torn_lines += 1
                else:
                    self._index(*found, number, offset)
                offset += len(line)

    def _index(self, key: str, status: str, segment: int, offset: int) -> None:
        if status in FINAL:
            self._final.setdefault(key, (segment, offset))
        else:
            self._failed[key] = self._failed.get(key, 0) + 1

    def __len__(self) -> int:
        return len(self._final)

    def __contains__(self, key: str) -> bool:
        return key in self._final

    def get(self, key: str) -> dict | None:
        """The final record for `key` (read from its segment), or None if it was never answered."""
        where = self._final.get(key)
        if where is None:
            return None
        segment, offset = where
        reader = self._readers.get(segment)
        if reader is None:
            reader = self._readers[segment] = self._segments[segment].open("rb")
        reader.seek(offset)
        return json.loads(reader.readline())

    def failures(self, key: str) -> int:
        """How many failed attempts for `key` the store has seen (across runs)."""
        return self._failed.get(key, 0)

    def put(self, record: dict) -> None:
        """Append one record and flush it to the OS at once (it may have been paid for)."""
        if "key" not in record or "status" not in record:
            raise ValueError("a store record needs 'key' and 'status'")
        if self._segment is None:
            name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            path = self.dir / name
            self._segment = path.open("ab")
            self._segment_number = len(self._segments)
            self._segments.append(path)
        ordered = {"key": record["key"], "status": record["status"], "stored_at": time.time(),
                   **{k: v for k, v in record.items() if k not in ("key", "status")}}
        line = (json.dumps(ordered, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        offset = self._segment.tell()
        self._segment.write(line)
        self._segment.flush()
        self._index(record["key"], record["status"], self._segment_number, offset)

    def close(self) -> None:
        if self._segment is not None:
            os.fsync(self._segment.fileno())
            self._segment.close()
            self._segment = None
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
