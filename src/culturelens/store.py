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
with its key and status), so a store of millions of responses stays small in memory; a record is
read from disk (a memory map of its segment) when asked for.

Index sidecars. Scanning a segment costs ~1–2 µs a line, so each segment's index is also kept in
a sidecar `<segment>.jsonl.idx` (its final keys and offsets, its failed keys, its torn lines),
written when a writer closes its segment and, lazily, when an open had to scan a segment that had
none or a stale one. A sidecar is only a cache of the segment, never a source of truth: it is used
only if it names the segment's current size, modification time and inode, its checksum holds and
the keys it gives for the segment's first and last indexed lines are really there; anything else
(a segment still being appended to, a torn sidecar, a copied store) makes the open rescan that
segment. Sidecars are written to a temporary file and renamed into place, so a reader sees a whole
sidecar or none; deleting them is always safe (the next open rebuilds them).
"""

from __future__ import annotations

import collections
import contextlib
import gc
import hashlib
import json
import mmap
import os
import socket
import time
import uuid
import zlib
from pathlib import Path

FINAL = frozenset({"ok", "abstained"})
_PREFIX = b'{"key":"'
_STATUS = b'","status":"'
_KEY_START = len(_PREFIX)
_KEY_END = _KEY_START + 64
_STATUS_END = _KEY_END + len(_STATUS)


def request_key(model_identity: dict, request: dict, sample_index: int = 0) -> str:
    """The content address of one request to one model."""
    blob = json.dumps([model_identity, request, sample_index], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def key_function(model_identity: dict):
    """`request_key` for one model, its identity serialised once (the same keys, cheaper per call)."""
    head = "[" + json.dumps(model_identity, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + ","

    def key(request: dict, sample_index: int = 0) -> str:
        blob = head + json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + f",{sample_index}]"
        return hashlib.sha256(blob.encode()).hexdigest()

    return key


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


_SIDECAR = ".idx"
_SIDECAR_MAGIC = b"culturelens-store-index 1\n"
_SIDECAR_MIN_LINES = 1000          # smaller segments are scanned at every open (cheaper than a file)
_SEG_BITS = 20                     # index value = offset << _SEG_BITS | segment number
_SEG_MASK = (1 << _SEG_BITS) - 1
_BLOCK = 1 << 24
_scan_once = json.JSONDecoder().scan_once   # the C scanner json.loads uses


def _scan_lines(fh, start: int = 0):
    """(key, status, offset) of every complete line of a segment file from `start`, and torn lines."""
    entries, torn = [], 0
    offset, carry = start, b""
    fh.seek(start)
    while True:
        block = fh.read(_BLOCK)
        if not block:
            break
        lines = (carry + block).split(b"\n")
        carry = lines.pop()
        for line in lines:
            if line.startswith(_PREFIX) and line[_KEY_END:_STATUS_END] == _STATUS and line.endswith(b"}"):
                end = line.find(b'"', _STATUS_END)
                entries.append((line[_KEY_START:_KEY_END].decode(), line[_STATUS_END:end].decode(), offset))
            else:
                found = _key_and_status(line + b"\n")
                if found is None:
                    torn += 1
                else:
                    entries.append((found[0], found[1], offset))
            offset += len(line) + 1
    if carry:
        torn += 1   # a last line without its newline: torn (or still being written)
    return entries, torn


def _sidecar_path(segment: Path) -> Path:
    return segment.with_name(segment.name + _SIDECAR)


def _write_sidecar(segment: Path, st: os.stat_result, entries: list[tuple[str, str, int]], torn: int) -> None:
    """Write the index of `segment` (as of `st`) next to it: temporary file, then rename."""
    import numpy as np

    final: dict[str, int] = {}
    failed = []
    for key, status, offset in entries:
        if "\n" in key:
            return   # not representable in this format: the segment is scanned instead
        if status in FINAL:
            final.setdefault(key, offset)
        else:
            failed.append(key)
    keys = "\n".join(final).encode()
    body = (keys + np.fromiter(final.values(), dtype="<u8", count=len(final)).tobytes()
            + "\n".join(failed).encode())
    header = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino, "final": len(final),
              "failed": len(failed), "keys_bytes": len(keys), "torn": torn, "crc32": zlib.crc32(body)}
    path = _sidecar_path(segment)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(_SIDECAR_MAGIC + json.dumps(header).encode() + b"\n" + body)
        os.replace(tmp, path)
    except OSError:   # a read-only store: no sidecar, the segment is scanned next time
        with contextlib.suppress(OSError):
            tmp.unlink()


def _read_sidecar(segment: Path, st: os.stat_result):
    """(final keys, their offsets, failed keys, torn lines) from a sidecar that matches the segment
    as it is now, or None (missing, stale, damaged: the caller rescans)."""
    import numpy as np

    try:
        data = _sidecar_path(segment).read_bytes()
    except OSError:
        return None
    try:
        if not data.startswith(_SIDECAR_MAGIC):
            return None
        end = data.index(b"\n", len(_SIDECAR_MAGIC))
        h = json.loads(data[len(_SIDECAR_MAGIC):end])
        if (h["size"], h["mtime_ns"], h["ino"]) != (st.st_size, st.st_mtime_ns, st.st_ino):
            return None
        body = memoryview(data)[end + 1:]
        if zlib.crc32(body) != h["crc32"]:
            return None
        n, kb = h["final"], h["keys_bytes"]
        keys = bytes(body[:kb]).decode().split("\n") if n else []
        offsets = np.frombuffer(body, dtype="<u8", count=n, offset=kb)
        failed_blob = bytes(body[kb + 8 * n:])
        failed = failed_blob.decode().split("\n") if h["failed"] else []
        if len(keys) != n or len(failed) != h["failed"]:
            return None
        return keys, offsets, failed, int(h["torn"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def _line_has_key(fh, offset: int, key: str) -> bool:
    fh.seek(offset)
    found = _key_and_status(fh.readline())
    return found is not None and found[0] == key


class ResponseStore:
    """Responses of one model, indexed by key; appends go to this process's own segment."""

    def __init__(self, root: Path | str, model: str):
        self.dir = Path(root) / model
        self.dir.mkdir(parents=True, exist_ok=True)
        self._segments: list[Path] = []
        self._final: dict[str, int] = {}    # key → byte offset << _SEG_BITS | segment number
        self._failed: dict[str, int] = {}
        self._maps: dict[int, mmap.mmap] = {}
        self._readers: dict[int, object] = {}
        self.torn_lines = 0
        self.sidecars_used = self.segments_scanned = 0
        self._segment = None
        self._own: list[tuple[str, str, int]] = []   # what this process appended (for its sidecar)
        enabled = gc.isenabled()
        gc.disable()   # indexing makes millions of objects and no cycles: the cyclic GC only costs time
        try:
            for path in sorted(self.dir.glob("*.jsonl")):
                self._load(path)
        finally:
            if enabled:
                gc.enable()

    def _load(self, path: Path) -> None:
        number = len(self._segments)
        if number > _SEG_MASK:
            raise RuntimeError(f"{self.dir}: more than {_SEG_MASK} segments; merge them")
        self._segments.append(path)
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            cached = _read_sidecar(path, st)
            if cached is not None:
                keys, offsets, failed, torn = cached
                if not keys or (_line_has_key(fh, int(offsets[0]), keys[0])
                                and _line_has_key(fh, int(offsets[-1]), keys[-1])):
                    self.sidecars_used += 1
                    self.torn_lines += torn
                    values = ((offsets << _SEG_BITS) | number).tolist()
                    collections.deque(map(self._final.setdefault, keys, values), maxlen=0)
                    failures = self._failed
                    for key in failed:
                        failures[key] = failures.get(key, 0) + 1
                    return
            entries, torn = _scan_lines(fh)
        self.segments_scanned += 1
        self.torn_lines += torn
        for key, status, offset in entries:
            self._index(key, status, number, offset)
        if len(entries) >= _SIDECAR_MIN_LINES:
            _write_sidecar(path, st, entries, torn)

    def _index(self, key: str, status: str, segment: int, offset: int) -> None:
        if status in FINAL:
            self._final.setdefault(key, offset << _SEG_BITS | segment)
        else:
            self._failed[key] = self._failed.get(key, 0) + 1

    def __len__(self) -> int:
        return len(self._final)

    def __contains__(self, key: str) -> bool:
        return key in self._final

    def _line(self, segment: int, offset: int) -> bytes:
        """The stored line at `offset` of a segment: from a memory map of the segment, else a read."""
        mm = self._maps.get(segment)
        if mm is None or offset >= len(mm):   # not mapped yet, or this process's own segment grew
            mm = self._map(segment)
        if mm is not None:
            end = mm.find(b"\n", offset)
            if end >= 0:
                return mm[offset:end + 1]
        reader = self._readers.get(segment)
        if reader is None:
            reader = self._readers[segment] = self._segments[segment].open("rb")
        reader.seek(offset)
        return reader.readline()

    def _map(self, segment: int) -> mmap.mmap | None:
        old = self._maps.pop(segment, None)
        if old is not None:
            old.close()
        try:
            with self._segments[segment].open("rb") as fh:
                self._maps[segment] = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):   # an empty file, or a file system without mmap: plain reads
            return None
        return self._maps[segment]

    def get(self, key: str) -> dict | None:
        """The final record for `key` (read from its segment), or None if it was never answered."""
        where = self._final.get(key)
        if where is None:
            return None
        text = self._line(where & _SEG_MASK, where >> _SEG_BITS).decode()
        if text.startswith("{"):   # json.loads without its checks and dispatch (1.8× faster), same result
            try:
                record, end = _scan_once(text, 0)
            except StopIteration:
                record, end = None, -1
            if end == len(text) - 1 and text.endswith("\n"):
                return record
        return json.loads(text)

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
            if self._segment_number > _SEG_MASK:
                raise RuntimeError(f"{self.dir}: more than {_SEG_MASK} segments; merge them")
            self._segments.append(path)
        ordered = {"key": record["key"], "status": record["status"], "stored_at": time.time(),
                   **{k: v for k, v in record.items() if k not in ("key", "status")}}
        line = (json.dumps(ordered, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        offset = self._segment.tell()
        self._segment.write(line)
        self._segment.flush()
        self._index(record["key"], record["status"], self._segment_number, offset)
        self._own.append((record["key"], record["status"], offset))

    def close(self) -> None:
        if self._segment is not None:
            os.fsync(self._segment.fileno())
            path = self._segments[self._segment_number]
            st = os.fstat(self._segment.fileno())
            self._segment.close()
            self._segment = None
            if len(self._own) >= _SIDECAR_MIN_LINES:
                _write_sidecar(path, st, self._own, 0)
            self._own = []
        for mm in self._maps.values():
            mm.close()
        self._maps.clear()
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def exclusive(root: Path | str, model: str, on_wait=None):
    """The model's store, opened once no other process is sending to it, and held until closed.

    An advisory lock (flock) on `<root>/<model>/.lock`: two jobs of one model (two slices run at
    once, cluster jobs of two shards) take turns, and the second one opens the store after the
    first closed it, so it finds the first one's answers and never pays for them again. Readers
    (preview, a vLLM model's shard jobs) do not need it. `on_wait(message)` is called once if the
    lock is held by another process. flock works on local disks and on NFSv4 / Lustre / GPFS with
    locking enabled."""
    import fcntl

    directory = Path(root) / model
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            if on_wait:
                on_wait(f"waiting for the response store of {model}: in use by {holder}")
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{socket.gethostname()} pid {os.getpid()}\n")
            fh.flush()
            with ResponseStore(root, model) as store:
                yield store
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
