import json

import os

from culturelens import store as store_module
from culturelens.store import ResponseStore, request_key


def test_key_depends_on_model_request_and_sample():
    k = request_key({"m": 1}, {"messages": ["x"]})
    assert k == request_key({"m": 1}, {"messages": ["x"]})
    assert k != request_key({"m": 2}, {"messages": ["x"]})
    assert k != request_key({"m": 1}, {"messages": ["y"]})
    assert k != request_key({"m": 1}, {"messages": ["x"]}, sample_index=1)


def test_put_is_durable_and_reloaded(tmp_path):
    with ResponseStore(tmp_path, "m") as store:
        store.put({"key": "a", "status": "ok", "payload": {"x": 1}})
        store.put({"key": "b", "status": "failed", "error": "HTTP 500"})
        # visible in the file before close: a crash after this point loses nothing
        lines = [json.loads(line) for f in (tmp_path / "m").glob("*.jsonl") for line in f.read_text().splitlines()]
        assert [r["key"] for r in lines] == ["a", "b"]
    again = ResponseStore(tmp_path, "m")
    assert "a" in again and again.get("a")["payload"] == {"x": 1}
    assert "b" not in again            # failures are history, retried next time
    assert again.failures("b") == 1
    assert len(again) == 1


def test_torn_last_line_is_skipped(tmp_path):
    seg = tmp_path / "m" / "crashed.jsonl"
    seg.parent.mkdir(parents=True)
    seg.write_text(json.dumps({"key": "a", "status": "ok"}) + "\n" + '{"key": "b", "sta')
    store = ResponseStore(tmp_path, "m")
    assert "a" in store and "b" not in store and store.torn_lines == 1


def test_concurrent_writers_use_separate_segments(tmp_path):
    s1, s2 = ResponseStore(tmp_path, "m"), ResponseStore(tmp_path, "m")
    s1.put({"key": "a", "status": "ok"})
    s2.put({"key": "b", "status": "ok"})
    s1.close(), s2.close()
    assert len(list((tmp_path / "m").glob("*.jsonl"))) == 2
    assert len(ResponseStore(tmp_path, "m")) == 2


def test_index_reads_records_lazily_and_survives_reopen(tmp_path):
    keys = [request_key({"m": 1}, {"i": i}) for i in range(50)]
    with ResponseStore(tmp_path, "m") as store:
        for i, k in enumerate(keys):
            store.put({"key": k, "status": "ok" if i % 5 else "failed", "payload": {"i": i, "text": "é"}})
        assert store.get(keys[7])["payload"] == {"i": 7, "text": "é"}   # readable while still writing
    again = ResponseStore(tmp_path, "m")
    assert len(again) == 40 and again.get(keys[0]) is None and again.failures(keys[0]) == 1
    assert again.get(keys[49])["payload"]["i"] == 49
    first_line = next((tmp_path / "m").glob("*.jsonl")).read_text().splitlines()[0]
    assert first_line.startswith('{"key":"' + keys[0] + '","status":"failed"')


# --------------------------------------------------------------------------- index sidecars

def _fill(root, n, model="m", tag=""):
    keys = [request_key({"m": 1}, {"i": i, "tag": tag}) for i in range(n)]
    with ResponseStore(root, model) as store:
        for i, k in enumerate(keys):
            store.put({"key": k, "status": "failed" if i % 7 == 3 else "ok", "payload": {"i": i}})
            if i in (5, 6, 40):   # reads while writing: the own segment is mapped, then grows
                assert store.get(keys[i])["payload"] == {"i": i}
                assert store.get(keys[5])["payload"] == {"i": 5}
    return keys


def _same(a, b, keys):
    assert len(a) == len(b) and a.torn_lines == b.torn_lines
    for k in keys:
        assert (k in a) == (k in b) and a.failures(k) == b.failures(k) and a.get(k) == b.get(k)


def test_sidecar_is_written_on_close_and_used_on_open(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "_SIDECAR_MIN_LINES", 10)
    keys = _fill(tmp_path, 50)
    assert len(list((tmp_path / "m").glob("*.jsonl.idx"))) == 1
    reopened = ResponseStore(tmp_path, "m")
    assert (reopened.sidecars_used, reopened.segments_scanned) == (1, 0)
    monkeypatch.setattr(store_module, "_read_sidecar", lambda *a: None)   # the truth: scan every line
    scanned = ResponseStore(tmp_path, "m")
    assert scanned.segments_scanned == 1
    _same(reopened, scanned, keys + ["nope"])
    assert len(reopened) == 50 - 7 and reopened.failures(keys[3]) == 1


def test_a_stale_or_damaged_sidecar_is_never_trusted(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "_SIDECAR_MIN_LINES", 10)
    keys = _fill(tmp_path, 30)
    seg = next((tmp_path / "m").glob("*.jsonl"))
    side = seg.with_name(seg.name + ".idx")
    # appended after the sidecar was written (an earlier writer's segment, or a resumed one)
    extra = request_key({"m": 1}, {"late": 1})
    with seg.open("ab") as fh:
        fh.write(json.dumps({"key": extra, "status": "ok", "payload": 1}, separators=(",", ":")).encode() + b"\n")
    store = ResponseStore(tmp_path, "m")
    assert store.segments_scanned == 1 and extra in store and store.get(extra)["payload"] == 1
    assert ResponseStore(tmp_path, "m").sidecars_used == 1       # rebuilt by that open
    # a damaged sidecar (a flipped byte)
    data = bytearray(side.read_bytes())
    data[-5] ^= 0xFF
    side.write_bytes(bytes(data))
    assert ResponseStore(tmp_path, "m").segments_scanned == 1
    # same size, same mtime, same inode, other content: the spot check of the keys catches it
    store = ResponseStore(tmp_path, "m")
    assert store.sidecars_used == 1
    st = seg.stat()
    text = seg.read_bytes()
    other = text.replace(keys[0].encode(), keys[0][::-1].encode()).replace(extra.encode(), extra[::-1].encode())
    assert len(other) == len(text)
    with seg.open("r+b") as fh:
        fh.write(other)
    os.utime(seg, ns=(st.st_atime_ns, st.st_mtime_ns))
    moved = ResponseStore(tmp_path, "m")
    assert moved.segments_scanned == 1 and keys[0] not in moved and keys[0][::-1] in moved


def test_torn_lines_and_foreign_lines_with_a_sidecar(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "_SIDECAR_MIN_LINES", 1)
    seg = tmp_path / "m" / "crashed.jsonl"
    seg.parent.mkdir(parents=True)
    seg.write_text(json.dumps({"status": "ok", "key": "a", "payload": "é"}) + "\n"   # not key-first: parsed
                   + "garbage\n" + json.dumps({"key": "b", "status": "ok"}) + "\n" + '{"key": "c", "sta')
    first = ResponseStore(tmp_path, "m")
    second = ResponseStore(tmp_path, "m")
    assert (first.segments_scanned, second.sidecars_used) == (1, 1)
    for store in (first, second):
        assert store.torn_lines == 2 and "a" in store and "b" in store and "c" not in store
        assert store.get("a")["payload"] == "é"
