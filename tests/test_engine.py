"""The request engine against a local OpenAI-compatible server, through the real aiohttp, openai
(via litellm) clients: caching, retries, faults, interruption, elicitation methods, batch mode."""

import asyncio
import json
import logging
import os
import time

import pandas as pd
import pytest

from culturelens import backends, elicit, engine
from culturelens.batch import BatchRunner
from culturelens.errors import InputError
from culturelens.limits import Limits, TokenBucket, backoff_delay
from culturelens.store import ResponseStore
from openai_server import FakeOpenAIServer, ServerConfig

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
PROBS = [0.5, 0.3, 0.2]
FAST = {"backoff_base_s": 0.02, "backoff_max_s": 0.1, "timeout_s": 5}


def prompts(n: int, tag: str = "q") -> pd.DataFrame:
    rows = []
    for i in range(n):
        text = f"Question {tag}{i}?\n\nA. yes\nB. no\nC. maybe\n\nAnswer with the letter.\nAnswer:"
        msgs = [{"role": "user", "content": text}]
        rows.append({"prompt_id": f"{tag}{i}", "condition": "default", "country": "none", "labels": ["A", "B", "C"],
                     "shown_options": [0, 1, 2], "messages": json.dumps(msgs),
                     "messages_verbalized": json.dumps(msgs)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(ServerConfig(distribution=lambda text, labels: PROBS)) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset(server):
    server.reset()


def make(server, client="http", method="logprobs", **extra):
    spec = {"provider": "litellm", "model": "openai/fake-model", "api_base": server.url, "client": client,
            "elicitation": {"method": method, **extra.pop("elicitation", {})}, **extra}
    return backends.make("fake", spec)


def run(backend, table, tmp_path, **limits):
    with ResponseStore(tmp_path, "fake") as store:
        return engine.run(table, backend, store, Limits(**{**FAST, **limits}))


@pytest.mark.parametrize("client", ["http", "litellm"])
def test_logprobs_end_to_end_and_no_request_twice(server, tmp_path, client):
    table = pd.concat([prompts(6), prompts(6)], ignore_index=True)  # every prompt twice
    responses, stats = run(make(server, client), table, tmp_path)
    assert stats.ok == 6 and stats.sent == 6 and server.count() == 6
    dist, invalid = elicit.distributions(table.drop_duplicates("prompt_id").assign(**{k: "x" for k in ("study", "item_id", "item_lang", "prompt_lang", "persona", "template_id", "paraphrase", "option_order")}),
                                         responses.drop_duplicates("prompt_id"), "logprobs")
    assert invalid.empty
    first = dist[dist.prompt_id == "q0"].sort_values("option_index")
    assert first["prob"].tolist() == pytest.approx(PROBS, abs=1e-3)   # " A" and "A" merged
    assert first["coverage"].iloc[0] == pytest.approx(0.97, abs=1e-3)  # "The" is no label
    again, stats = run(make(server, client), table, tmp_path)
    assert stats.sent == 0 and stats.cached == 6 and server.count() == 6
    assert again["payload"].tolist() == responses["payload"].tolist()


@pytest.mark.parametrize("fault", ["500", "503", "malformed", "truncated", "disconnect"])
@pytest.mark.parametrize("client", ["http", "litellm"])
def test_transient_faults_are_retried(server, tmp_path, fault, client):
    server.inject(fault, times=2)
    responses, stats = run(make(server, client), prompts(1), tmp_path)
    assert stats.ok == 1 and responses.iloc[0]["attempts"] == 3


@pytest.mark.parametrize("client", ["http", "litellm"])
def test_retry_after_is_honoured(server, tmp_path, client):
    server.inject("429", times=1, retry_after=1.0)
    started = time.monotonic()
    responses, stats = run(make(server, client), prompts(1), tmp_path)
    assert stats.ok == 1 and responses.iloc[0]["attempts"] == 2
    assert time.monotonic() - started >= 1.0


def test_timeout_is_retried(server, tmp_path):
    server.inject("hang", times=1, hang_s=3)
    responses, stats = run(make(server), prompts(1), tmp_path, timeout_s=0.5)
    assert stats.ok == 1 and responses.iloc[0]["attempts"] == 2


@pytest.mark.parametrize("client", ["http", "litellm"])
def test_non_retryable_error_recorded_with_message(server, tmp_path, client):
    server.inject("400", times=1)
    responses, stats = run(make(server, client), prompts(1), tmp_path)
    row = responses.iloc[0]
    assert row["status"] == "failed" and row["error_kind"] == "bad_request" and row["attempts"] == 1
    assert server.count() == 1 and row["error"]
    assert ResponseStore(tmp_path, "fake").failures(row["key"]) == 1
    # the next run retries it (a failure is history, not an answer)
    _, stats = run(make(server, client), prompts(1), tmp_path)
    assert stats.ok == 1


def test_attempt_cap(server, tmp_path):
    server.inject("500", times=10)
    responses, stats = run(make(server), prompts(1), tmp_path, max_attempts=3)
    assert stats.failed == {"server_error": 1} and responses.iloc[0]["attempts"] == 3 and server.count() == 3


def test_total_time_cap(server, tmp_path):
    server.inject("503", times=100, retry_after=5)
    started = time.monotonic()
    _, stats = run(make(server), prompts(3), tmp_path, max_total_s=1.0, max_attempts=100)
    assert sum(stats.failed.values()) == 3 and time.monotonic() - started < 4


def test_interrupted_run_loses_at_most_the_requests_in_flight(tmp_path):
    with FakeOpenAIServer(ServerConfig(latency_s=0.1)) as srv:
        table = prompts(30)
        backend = make(srv)

        async def interrupted():
            with ResponseStore(tmp_path, "fake") as store:
                task = asyncio.create_task(engine.run_async(table, backend, store, Limits(max_concurrency=3)))
                await asyncio.sleep(0.55)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

        asyncio.run(interrupted())
        stored = len(ResponseStore(tmp_path, "fake"))
        assert 6 <= stored < 30
        sent_before = srv.count()
        _, stats = run(make(srv), table, tmp_path, max_concurrency=3)
        assert stats.cached == stored and stats.ok == 30
        assert srv.count() - sent_before == 30 - stored        # nothing stored is asked again
        assert srv.count() <= 30 + 3                            # at most the in-flight ones twice


def test_sample_method_counts_draws(server, tmp_path):
    table = prompts(1)
    responses, _ = run(make(server, method="sample", elicitation={"n": 120, "temperature": 1.0}), table, tmp_path)
    probs, coverage, n_valid, n_invalid, _ = elicit.from_samples(json.loads(responses.iloc[0]["payload"]), ["A", "B", "C"])
    assert n_valid == 120 and n_invalid == 0
    assert probs == pytest.approx(PROBS, abs=0.13)
    assert server.requests[-1]["n"] == 120


def test_verbalized_method_uses_json_mode(server, tmp_path):
    responses, _ = run(make(server, method="verbalized"), prompts(1), tmp_path)
    probs, *_ = elicit.from_verbalized(json.loads(responses.iloc[0]["payload"]), ["A", "B", "C"])
    assert probs == pytest.approx(PROBS, abs=1e-3)
    assert server.requests[-1]["response_format"] == {"type": "json_object"}


def test_provider_without_logprobs_is_reported(tmp_path):
    with FakeOpenAIServer(ServerConfig(logprobs_supported=False)) as srv:
        table = prompts(2)
        responses, stats = run(make(srv), table, tmp_path)
        assert stats.ok == 2
        meta = table.assign(**{k: "x" for k in ("study", "item_id", "item_lang", "prompt_lang", "persona",
                                                "template_id", "paraphrase", "option_order")})
        dist, invalid = elicit.distributions(meta, responses, "logprobs")
        assert dist.empty and set(invalid["detail"]) == {"no log-probabilities in the response"}


def test_missing_key_fails_before_any_request(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    spec = {"provider": "litellm", "model": "openai/gpt-4o-mini", "elicitation": {"method": "logprobs"}}
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        backends.make("gpt", spec).check()
    spec = {**spec, "model": "openai/fake", "api_base": "http://127.0.0.1:1/v1", "api_key_env": "MY_SERVER_KEY"}
    monkeypatch.delenv("MY_SERVER_KEY", raising=False)
    with pytest.raises(InputError, match="MY_SERVER_KEY"):
        backends.make("local", spec).check()


def test_provider_without_logprobs_fails_up_front(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "x")
    spec = {"provider": "litellm", "model": "anthropic/claude-3-5-haiku-20241022", "elicitation": {"method": "logprobs"}}
    with pytest.raises(InputError, match="no log-probabilities"):
        backends.make("claude", spec).check()


def submit_batch(server, table, tmp_path) -> dict:
    """Submit the table's requests as one batch and return its record, as a process that then dies."""
    backend = make(server, client="litellm", batch=True, batch_poll_s=0.05)
    _, requests = engine.plan(table, backend)

    async def submit():
        with ResponseStore(tmp_path, "fake") as store:
            return await BatchRunner(backend, store).submit(requests)

    return asyncio.run(submit())


def test_batch_mode_is_resumable_after_the_submitter_dies(server, tmp_path):
    table = prompts(5)
    submit_batch(server, table, tmp_path)
    assert len(server.batch_requests) == 5 and len(ResponseStore(tmp_path, "fake")) == 0
    # a new process: finds the pending batch, collects it, submits nothing new
    responses, stats = run(make(server, client="litellm", batch=True, batch_poll_s=0.05), table, tmp_path)
    assert stats.ok == 5 and len(server.batch_requests) == 5 and server.count() == 0
    assert len(ResponseStore(tmp_path, "fake")) == 5
    _, stats = run(make(server, client="litellm", batch=True, batch_poll_s=0.05), table, tmp_path)
    assert stats.cached == 5 and len(server.batch_requests) == 5


def test_token_bucket_with_a_fake_clock():
    now = [0.0]
    bucket = TokenBucket(60, clock=lambda: now[0])   # one a second, burst 60
    bucket.take(60)
    assert bucket.wait_time(1) == pytest.approx(1.0)
    now[0] += 0.5
    assert bucket.wait_time(1) == pytest.approx(0.5)
    now[0] += 10
    assert bucket.wait_time(5) == 0


def test_backoff_is_capped_jittered_and_respects_retry_after():
    limits = Limits(backoff_base_s=1, backoff_max_s=8)
    delays = [backoff_delay(a, limits) for a in range(1, 10) for _ in range(20)]
    assert max(delays) <= 8 and min(delays) >= 0.5
    assert len({round(d, 6) for d in delays}) > 10          # jitter
    assert backoff_delay(1, limits, retry_after=30) == 30


def test_batches_are_split_within_provider_limits(monkeypatch):
    from culturelens import batch

    monkeypatch.setattr(batch, "MAX_REQUESTS", 3)
    parts = batch.chunks({f"k{i}": {"messages": []} for i in range(7)})
    assert [len(p) for p in parts] == [3, 3, 1]


def test_a_batch_that_cannot_be_retrieved_is_abandoned_after_three_tries(server, tmp_path):
    table = prompts(2)
    record = submit_batch(server, table, tmp_path)
    batches = tmp_path / "fake" / "batches"
    (batches / f"{record['batch_id']}.json").unlink()
    record["batch_id"] = "batch_that_was_deleted"      # the provider no longer knows it
    path = batches / "batch_that_was_deleted.json"
    path.write_text(json.dumps(record))
    for attempt in (1, 2, 3):
        _, stats = run(make(server, client="litellm", batch=True, batch_poll_s=0.05), table, tmp_path)
        assert stats.failed == {"batch_pending": 2} and stats.ok == 0
        assert json.loads(path.read_text())["collect_errors"] == attempt
    assert json.loads(path.read_text())["status"] == "abandoned"
    _, stats = run(make(server, client="litellm", batch=True, batch_poll_s=0.05), table, tmp_path)
    assert stats.ok == 2                                          # sent again in a new batch


def test_litellm_logs_nothing_below_warning(server, tmp_path, caplog):
    """litellm's per-request INFO lines would fill the job's log (and the console, which shows a
    failed job's log): its loggers are set to WARNING when the backend is built."""
    caplog.set_level(logging.INFO)
    _, stats = run(make(server, "litellm"), prompts(3), tmp_path)
    assert stats.ok == 3
    chatty = [r.getMessage() for r in caplog.records if r.name.startswith("LiteLLM") and r.levelno < logging.WARNING]
    assert not chatty, chatty[:3]



@pytest.mark.parametrize("client", ["http", "litellm"])
def test_refused_connection_is_a_connection_failure(tmp_path, client):
    """Nothing listens on port 9: litellm reports that as InternalServerError("Connection error."),
    which is a connection failure, not a server error; the message keeps the underlying cause."""
    spec = {"provider": "litellm", "model": "openai/fake-model", "api_base": "http://127.0.0.1:9/v1",
            "client": client, "elicitation": {"method": "logprobs"}}
    responses, stats = run(backends.make("closed", spec), prompts(1), tmp_path, max_attempts=1)
    row = responses.iloc[0]
    assert stats.failed == {"connection": 1} and row["error_kind"] == "connection"
    assert "Connect call failed" in row["error"] or "Cannot connect" in row["error"], row["error"]


@pytest.mark.parametrize("fault,kind", [("500", "server_error"), ("503", "server_error"), ("malformed", "malformed"),
                                        ("truncated", "truncated"), ("disconnect", "connection")])
@pytest.mark.parametrize("client", ["http", "litellm"])
def test_both_clients_name_a_fault_alike(server, tmp_path, fault, kind, client):
    server.inject(fault, times=1)
    _, stats = run(make(server, client), prompts(1), tmp_path, max_attempts=1)
    assert stats.failed == {kind: 1}
