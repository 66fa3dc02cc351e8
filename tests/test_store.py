import json

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
