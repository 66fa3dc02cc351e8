"""The local OpenAI-compatible test server (tests/openai_server.py) against the real clients."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported anywhere

import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from openai_server import (  # noqa: E402
    FakeOpenAIServer,
    ServerConfig,
    start_server_process,
    request_key,
    stop_server_process,
)

QUESTION = "How important is family in your life?\nA. Very important\nB. Rather important\nC. Not important\nAnswer:"
USER = [{"role": "user", "content": QUESTION}]


def run(coro):
    return asyncio.run(coro)


def client(server: FakeOpenAIServer, **kw) -> openai.AsyncOpenAI:
    kw.setdefault("api_key", "x")
    kw.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.url, **kw)


async def chat(server: FakeOpenAIServer, client_kw: dict | None = None, **kw):
    async with client(server, **(client_kw or {})) as c:
        kw.setdefault("model", "fake-model")
        kw.setdefault("messages", USER)
        return await c.chat.completions.create(**kw)


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(ServerConfig(distribution={"family": [0.6, 0.3, 0.1]})) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean(request):
    if "server" in request.fixturenames:
        request.getfixturevalue("server").reset()
    yield


def litellm():
    import litellm as ll

    ll.suppress_debug_info = True
    return ll


# ---------------------------------------------------------------------- answers (openai SDK)
def test_logprobs_shape(server):
    r = run(chat(server, logprobs=True, top_logprobs=5, max_tokens=1, temperature=0))
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-") and r.model == "fake-model"
    assert r.system_fingerprint and r.created > 0
    choice = r.choices[0]
    assert choice.message.content == "A" and choice.finish_reason == "length"
    first = choice.logprobs.content[0]
    assert len(first.top_logprobs) == 5
    logprobs = [t.logprob for t in first.top_logprobs]
    assert logprobs == sorted(logprobs, reverse=True)
    assert first.token == "A" and first.logprob == first.top_logprobs[0].logprob
    assert first.bytes == [65]

    full = run(chat(server, logprobs=True, top_logprobs=20)).choices[0].logprobs.content[0].top_logprobs
    tokens = [t.token for t in full]
    assert {"A", " A", "B", " B", "C", " C", "The"} == set(tokens)  # 7 < 20: all listed
    total = sum(math.exp(t.logprob) for t in full)
    assert 0.9 < total < 1.0  # coverage below 1
    merged = Counter()
    for t in full:
        if t.token.strip() in "ABC":
            merged[t.token.strip()] += math.exp(t.logprob)
    coverage = sum(merged.values())
    assert [round(merged[k] / coverage, 6) for k in "ABC"] == [0.6, 0.3, 0.1]
    assert r.usage.prompt_tokens == len(QUESTION.split()) and r.usage.completion_tokens == 1
    assert r.usage.total_tokens == r.usage.prompt_tokens + 1

    plain = run(chat(server, logprobs=True)).choices[0].logprobs.content[0]
    assert plain.top_logprobs == []  # as OpenAI: logprobs without top_logprobs


def test_n_seed_and_temperature(server):
    a = run(chat(server, n=64, seed=7))
    b = run(chat(server, n=64, seed=7))
    c = run(chat(server, n=64, seed=8))
    draws = [ch.message.content for ch in a.choices]
    assert [ch.index for ch in a.choices] == list(range(64))
    assert draws == [ch.message.content for ch in b.choices]
    assert draws != [ch.message.content for ch in c.choices]
    counts = Counter(draws)
    assert set(counts) <= {"A", "B", "C"} and counts["A"] > counts["C"]
    assert a.usage.completion_tokens == 64 and a.choices[0].finish_reason == "stop"
    # without a seed the prompt hash seeds the draws: still reproducible
    assert [ch.message.content for ch in run(chat(server, n=16)).choices] == \
        [ch.message.content for ch in run(chat(server, n=16)).choices]
    assert {ch.message.content for ch in run(chat(server, n=16, temperature=0)).choices} == {"A"}


def test_default_distribution_depends_on_prompt():
    with FakeOpenAIServer() as srv:
        def dist(text):
            msgs = [{"role": "user", "content": text}]
            return json.loads(run(chat(srv, messages=msgs, response_format={"type": "json_object"}))
                              .choices[0].message.content)
        q1 = "Is work important?\nA) Yes\nB) Somewhat\nC) No\nD) Don't know"
        q2 = "Is leisure important?\n(A) Yes\n(B) Somewhat\n(C) No\n(D) Don't know"
        d1, d2 = dist(q1), dist(q2)
        assert list(d1) == list(d2) == ["A", "B", "C", "D"]
        assert d1 == dist(q1) and d1 != d2
        assert abs(sum(d1.values()) - 1) < 1e-3 and max(d1.values()) > 1 / 4
        assert len(dist("Say hello")) == 4  # no option lines → labels A-D


def test_json_response_format(server):
    for fmt in ({"type": "json_object"},
                {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}}}):
        r = run(chat(server, response_format=fmt))
        content = r.choices[0].message.content
        assert json.loads(content) == {"A": 0.6, "B": 0.3, "C": 0.1}
        assert r.usage.completion_tokens == math.ceil(len(content) / 4)
        assert r.choices[0].finish_reason == "stop"
    cut = run(chat(server, response_format={"type": "json_object"}, max_tokens=2)).choices[0]
    assert cut.finish_reason == "length" and len(cut.message.content) == 8


def test_distribution_callable_and_mismatch():
    seen = []

    def dist(prompt, labels):
        seen.append(labels)
        return [0, 0, 1] if "three" in prompt else [1, 1]

    with FakeOpenAIServer(ServerConfig(distribution=dist)) as srv:
        msgs = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Pick three.\nA. x\nB. y\nC. z"}]
        assert {c.message.content for c in run(chat(srv, messages=msgs, n=10)).choices} == {"C"}
        assert seen[-1] == ["A", "B", "C"]
        assert srv.count() == 1 and srv.requests[0]["messages"] == msgs
        with pytest.raises(openai.InternalServerError, match="configured distribution has 2"):
            run(chat(srv))
        assert srv.errors


def test_auth_stream_and_validation():
    with FakeOpenAIServer(ServerConfig(api_key="sk-right")) as srv:
        with pytest.raises(openai.AuthenticationError) as err:
            run(chat(srv, client_kw={"api_key": "sk-wrong"}))
        assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
        assert run(chat(srv, client_kw={"api_key": "sk-right"})).choices[0].message.content in "ABC"
        with pytest.raises(openai.BadRequestError, match="streaming not supported by the test server"):
            run(chat(srv, client_kw={"api_key": "sk-right"}, stream=True))
        with pytest.raises(openai.BadRequestError, match="top_logprobs"):
            run(chat(srv, client_kw={"api_key": "sk-right"}, logprobs=True, top_logprobs=21))
        with urllib.request.urlopen(srv.base + "/health") as resp:  # no key needed
            assert resp.status == 200

        async def models():
            async with client(srv, api_key="sk-right") as c:
                return [m.id async for m in c.models.list()]
        assert set(run(models())) == {"fake-model"}


def test_logprobs_unsupported():
    with FakeOpenAIServer(ServerConfig(logprobs_supported=False)) as srv:
        r = run(chat(srv, model="no-lp", logprobs=True, top_logprobs=50))
        assert r.choices[0].logprobs is None and r.choices[0].message.content in "ABC"


# ---------------------------------------------------------------------- litellm
def test_litellm_logprobs(server):
    ll = litellm()
    r = run(ll.acompletion(model="openai/fake-model", api_base=server.url, api_key="x", messages=USER,
                           logprobs=True, top_logprobs=5, max_tokens=1))
    lp = r.choices[0].logprobs
    first = lp.content[0] if hasattr(lp, "content") else lp["content"][0]
    tops = first.top_logprobs if hasattr(first, "top_logprobs") else first["top_logprobs"]
    assert len(tops) == 5
    assert server.requests[-1]["top_logprobs"] == 5 and server.requests[-1]["logprobs"] is True


def test_litellm_rate_limit_retry_after(server):
    """A 429 through litellm becomes a retryable rate-limit failure carrying the server's Retry-After
    (culturelens' behaviour; where litellm keeps the header is its own business)."""
    from culturelens.backends import Retryable
    from culturelens.backends.litellm_backend import LiteLLMBackend

    backend = LiteLLMBackend("m", {"provider": "litellm", "model": "openai/fake-model", "api_base": server.url,
                                   "elicitation": {"method": "sample", "n": 1}})
    server.inject("429", retry_after=1.5)
    with pytest.raises(Retryable) as err:
        run(backend.send({"model": "openai/fake-model", "messages": USER}, timeout=10))
    assert err.value.kind == "rate_limit"
    assert err.value.retry_after == 1.5


# ---------------------------------------------------------------------- faults (openai SDK, max_retries=0)
@pytest.mark.parametrize("fault, expected", [
    ("500", openai.InternalServerError),
    ("503", openai.InternalServerError),
    ("400", openai.BadRequestError),
    ("401", openai.AuthenticationError),
    ("malformed", json.JSONDecodeError),  # NOT an openai.APIError
    ("truncated", openai.APIConnectionError),
    ("disconnect", openai.APIConnectionError),
])
def test_faults(server, fault, expected):
    server.inject(fault)
    with pytest.raises(expected) as err:
        run(chat(server))
    if fault in ("500", "503", "400", "401"):
        assert err.value.status_code == int(fault)
    assert not server.pending_faults()
    assert run(chat(server)).choices[0].message.content in "ABC"  # the next request is fine
    assert server.count() == 2


def test_rate_limit_and_hang(server):
    server.inject("429", retry_after=2)
    with pytest.raises(openai.RateLimitError) as err:
        run(chat(server))
    assert err.value.response.headers["retry-after"] == "2"
    assert err.value.body["code"] == "rate_limit_exceeded"

    server.inject("hang", hang_s=5)
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        run(chat(server, client_kw={"timeout": 0.5}))
    assert time.monotonic() - t0 < 2


def test_fault_match_times_and_retries(server):
    server.inject("503", times=2, match="family", retry_after=0.01)
    other = [{"role": "user", "content": "Is work important?\nA. Yes\nB. No"}]
    assert run(chat(server, messages=other)).choices[0].message.content in "AB"  # not matched
    # the SDK retries 5xx, honouring Retry-After: two injected failures, then the answer
    t0 = time.monotonic()
    r = run(chat(server, client_kw={"max_retries": 2}))
    assert time.monotonic() - t0 < 0.4
    assert r.choices[0].message.content in "ABC"
    assert server.count() == 4 and server.count("family") == 3 and server.count("work") == 1


def test_stop_cancels_hanging_request():
    srv = FakeOpenAIServer().start()
    srv.inject("hang", hang_s=30)
    with pytest.raises(openai.APITimeoutError):
        run(chat(srv, client_kw={"timeout": 0.3}))
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 3


# ---------------------------------------------------------------------- Batch API (litellm)
def _batch_jsonl(n: int) -> bytes:
    lines = [{"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "fake-model", "max_tokens": 1, "logprobs": True, "top_logprobs": 5,
                       "messages": [{"role": "user", "content": f"Q{i}?\nA. yes\nB. no"}]}}
             for i in range(n)]
    return ("\n".join(json.dumps(x) for x in lines) + "\n").encode()


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")  # inside litellm
def test_batch_round_trip_litellm():
    ll = litellm()
    with FakeOpenAIServer(ServerConfig(api_key="k", batch_polls_until_done=2)) as srv:
        common = {"custom_llm_provider": "openai", "api_base": srv.url, "api_key": "k"}

        async def submit():
            f = await ll.acreate_file(file=("in.jsonl", _batch_jsonl(3)), purpose="batch", **common)
            assert f.id.startswith("file-") and f.purpose == "batch" and f.bytes > 0
            b = await ll.acreate_batch(input_file_id=f.id, endpoint="/v1/chat/completions",
                                       completion_window="24h", metadata={"run": "t"}, **common)
            return f, b

        f, b = run(submit())  # the submitting client is gone after this
        assert b.status == "validating" and b.request_counts.total == 3 and b.metadata == {"run": "t"}
        assert len(srv.batch_requests) == 3 and srv.count() == 0

        async def collect(batch_id):
            statuses = []
            while True:
                got = await ll.aretrieve_batch(batch_id=batch_id, **common)
                statuses.append(got.status)
                if got.status == "completed":
                    break
            content = await ll.afile_content(file_id=got.output_file_id, **common)
            return statuses, got, content.content

        statuses, done, raw = run(collect(b.id))
        assert statuses == ["in_progress", "in_progress", "completed"]
        assert done.request_counts.completed == 3 and done.error_file_id is None
        results = [json.loads(line) for line in raw.decode().splitlines()]
        assert [r["custom_id"] for r in results] == ["req-0", "req-1", "req-2"]
        for r in results:
            assert r["error"] is None and r["response"]["status_code"] == 200
            body = r["response"]["body"]
            assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"] in "AB"
            assert len(body["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 5
        assert srv.files[f.id]["data"] == _batch_jsonl(3)

        async def cancel():
            f2 = await ll.acreate_file(file=("in2.jsonl", _batch_jsonl(1)), purpose="batch", **common)
            b2 = await ll.acreate_batch(input_file_id=f2.id, endpoint="/v1/chat/completions",
                                        completion_window="24h", **common)
            c = await ll.acancel_batch(batch_id=b2.id, **common)
            return c.status, (await ll.aretrieve_batch(batch_id=b2.id, **common)).status

        assert run(cancel()) == ("cancelling", "cancelled")


def test_batch_errors_openai_sdk():
    with FakeOpenAIServer(ServerConfig(batch_polls_until_done=0)) as srv:
        async def go():
            async with client(srv) as c:
                good = json.loads(_batch_jsonl(1))
                bad = dict(good, custom_id="bad", body=dict(good["body"], n=0))
                data = (json.dumps(good) + "\n" + json.dumps(bad) + "\n").encode()
                f = await c.files.create(file=("x.jsonl", data), purpose="batch")
                b = await c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                           completion_window="24h")
                b = await c.batches.retrieve(b.id)
                errors = (await c.files.content(b.error_file_id)).content
                broken = await c.files.create(file=("y.jsonl", b"not json\n"), purpose="batch")
                failed = await c.batches.create(input_file_id=broken.id, endpoint="/v1/chat/completions",
                                                completion_window="24h")
                return b, errors, failed

        b, errors, failed = run(go())
        assert b.status == "completed" and b.request_counts.completed == 1 and b.request_counts.failed == 1
        line = json.loads(errors)
        assert line["custom_id"] == "bad" and line["response"]["status_code"] == 400
        assert failed.status == "failed" and failed.errors.data[0].code == "invalid_json_line"


# ---------------------------------------------------------------------- separate process
def test_server_process_round_trip():
    url, proc = start_server_process({"latency_s": 0.0, "logprobs_supported": False, "api_key": "p"})
    try:
        base = url[: -len("/v1")]
        req = urllib.request.Request(base + "/_fake/inject", data=json.dumps({"fault": "503"}).encode(),
                                     method="POST")
        urllib.request.urlopen(req).close()

        async def go():
            async with openai.AsyncOpenAI(base_url=url, api_key="p", max_retries=0) as c:
                with pytest.raises(openai.InternalServerError):
                    await c.chat.completions.create(model="m", messages=USER)
                return await c.chat.completions.create(model="m", messages=USER, logprobs=True)

        r = run(go())
        assert r.choices[0].logprobs is None
        with urllib.request.urlopen(base + "/_fake/stats?match=family") as resp:
            stats = json.load(resp)
        assert stats["requests"] == 2 and stats["matching"] == 2
    finally:
        assert stop_server_process(proc) == 0  # clean exit on SIGTERM
    assert proc.poll() is not None


def test_server_process_dies_with_its_parent(tmp_path):
    """A test process killed with SIGKILL leaves no server behind (the child exits on stdin EOF)."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        from openai_server import start_server_process
        url, proc = start_server_process()
        print(proc.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            if Path(f"/proc/{child}/stat").read_text().split(")")[1].split()[0] == "Z":
                break  # exited; a zombie until init reaps it
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail("the server process outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()


# ---------------------------------------------------------------------- fault mix
def _mix_round(cfg: ServerConfig, prompts: int, timeout: float = 0.5) -> tuple[FakeOpenAIServer, Counter]:
    """Send each of `prompts` distinct questions once (openai SDK, no retries, 8 at a time) to a fresh
    server with `cfg`; returns the stopped server and the outcomes by exception type name ("ok")."""
    srv = FakeOpenAIServer(cfg).start()

    async def one(c, i, sem):
        async with sem:
            msg = [{"role": "user", "content": f"Question {i}?\nA. Yes\nB. No"}]
            try:
                await c.chat.completions.create(model="fake-model", messages=msg)
                return "ok"
            except Exception as exc:  # noqa: BLE001 - the outcome is what is counted
                return type(exc).__name__

    async def main():
        sem = asyncio.Semaphore(8)
        async with client(srv, timeout=timeout) as c:
            return Counter(await asyncio.gather(*(one(c, i, sem) for i in range(prompts))))

    try:
        return srv, run(main())
    finally:
        srv.stop()


def test_fault_mix_share_kinds_and_counts():
    """About fault_rate of the requests fail, every kind of the mix occurs, faults_injected counts
    them, and only the requests answered OK are in ok_answers."""
    cfg = ServerConfig(fault_rate=0.3, fault_seed=7, fault_hang_s=2.0)
    srv, outcomes = _mix_round(cfg, 300)
    injected = sum(srv.faults_injected.values())
    assert set(srv.faults_injected) == set(cfg.fault_mix)
    assert 60 <= injected <= 120                                  # 30 % of 300, binomial sd ≈ 8
    assert outcomes["ok"] == 300 - injected == sum(srv.ok_answers.values()) == len(srv.ok_answers)
    assert outcomes["APITimeoutError"] == srv.faults_injected["hang"]
    assert outcomes["RateLimitError"] == srv.faults_injected["429"]
    assert srv.count() == 300 and srv.duplicates() == 0


def test_fault_mix_is_deterministic_per_seed_whatever_the_order():
    """The same seed faults the same requests with the same kinds (the draw hangs on the request and
    how often it was seen, not on arrival order); another seed faults others."""
    def faulted(seed):
        cfg = ServerConfig(fault_rate=0.25, fault_seed=seed, fault_mix=("500", "503", "429"))
        srv, _ = _mix_round(cfg, 120)
        ok = {json.dumps(r["messages"]) for r in srv.requests} - {
            json.dumps(r["messages"]) for r in srv.requests if request_key(r) in srv.ok_answers}
        return ok, dict(srv.faults_injected)

    first, second, other = faulted(3), faulted(3), faulted(4)
    assert first == second and first[0]
    assert other[0] != first[0]


def test_fault_mix_retries_meet_fresh_draws_and_429_says_retry_after():
    """A retried request is drawn again (its n-th arrival), so a retrying client gets through; the
    mixed-in 429 carries the configured Retry-After."""
    srv = FakeOpenAIServer(ServerConfig(fault_rate=0.5, fault_mix=("429",), fault_retry_after=0.05)).start()
    try:
        statuses = []
        for i in range(20):
            body = json.dumps({"model": "fake-model", "messages": [{"role": "user", "content": f"Q{i}?\nA. x\nB. y"}]})
            for _ in range(20):
                req = urllib.request.Request(srv.url + "/chat/completions", body.encode(),
                                             {"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=5) as resp:
                        statuses.append(resp.status)
                        break
                except urllib.error.HTTPError as err:
                    assert err.code == 429 and err.headers["Retry-After"] == "0.05"
                    statuses.append(429)
        assert statuses.count(200) == 20 and len(srv.ok_answers) == 20
        assert srv.faults_injected["429"] == statuses.count(429) > 0
        assert srv.count() == len(statuses)
    finally:
        srv.stop()


def test_fault_rate_zero_changes_nothing(server):
    """The default config never injects: queued faults behave as before and are counted too."""
    assert server.config.fault_rate == 0
    for _ in range(5):
        run(chat(server))
    server.inject("500")
    with pytest.raises(openai.InternalServerError):
        run(chat(server))
    assert dict(server.faults_injected) == {"500": 1}
    assert sum(server.ok_answers.values()) == 5 and len(server.ok_answers) == 1 and server.duplicates() == 1
    with pytest.raises(ValueError):
        FakeOpenAIServer(ServerConfig(fault_rate=0.1, fault_mix=("teapot",)))
