"""API keys (issue 9): a key goes only to the host configured for it, and a wrong key stops the
model at once instead of sending every request to be refused."""

import json
import os

import pandas as pd
import pytest

from culturelens import backends, engine
from culturelens.limits import Limits
from culturelens.store import ResponseStore
from openai_server import FakeOpenAIServer, ServerConfig

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
FAST = {"backoff_base_s": 0.02, "backoff_max_s": 0.1, "timeout_s": 5, "max_attempts": 2}


def prompts(n: int, tag: str = "q") -> pd.DataFrame:
    rows = []
    for i in range(n):
        msgs = [{"role": "user", "content": f"Question {tag}{i}?\n\nA. yes\nB. no\n\nAnswer:"}]
        rows.append({"prompt_id": f"{tag}{i}", "condition": "default", "country": "none",
                     "messages": json.dumps(msgs), "messages_verbalized": json.dumps(msgs)})
    return pd.DataFrame(rows)


def spec(server, client: str, key_env: str | None = None, **limits) -> dict:
    entry = {"provider": "litellm", "model": "openai/fake-model", "api_base": server.url, "client": client,
             "elicitation": {"method": "logprobs"}, "limits": limits}
    return {**entry, "api_key_env": key_env} if key_env else entry


def run(name: str, entry: dict, table: pd.DataFrame, root, **limits):
    """One model's run through its own store (models of one test never share answers)."""
    with ResponseStore(root, name) as store:
        return engine.run(table, backends.make(name, entry), store, Limits(**{**FAST, **limits}))


@pytest.mark.parametrize("client", ["litellm", "http"])
def test_a_key_is_sent_only_to_its_own_host(tmp_path, monkeypatch, client):
    """Server A's key is also the user's OPENAI_API_KEY; a model configured for server B without
    `api_key_env` must not send it there (it sends no key, or litellm's placeholder)."""
    monkeypatch.setenv("A_KEY", "sk-test-aaaa")
    monkeypatch.setenv("B_KEY", "sk-test-bbbb")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-aaaa")
    with FakeOpenAIServer(ServerConfig(api_key="sk-test-aaaa")) as a, \
            FakeOpenAIServer(ServerConfig(api_key="sk-test-bbbb")) as b:
        for name, entry, ok in (("a", spec(a, client, "A_KEY"), True), ("b", spec(b, client, "B_KEY"), True),
                                ("b-unkeyed", spec(b, client), False), ("a-again", spec(a, client, "A_KEY"), True)):
            _, stats = run(name, entry, prompts(2, name), tmp_path)
            assert (stats.ok == 2) == ok, (name, stats.line())
        assert set(a.authorizations) == {"Bearer sk-test-aaaa"}
        assert "Bearer sk-test-bbbb" in b.authorizations
        assert not [h for h in b.authorizations if h and "aaaa" in h], b.authorizations
        assert set(b.authorizations) - {"Bearer sk-test-bbbb"} <= {None, "Bearer none"}


@pytest.mark.parametrize("client", ["http", "litellm"])
def test_a_refused_key_stops_the_model_and_a_rerun_sends_exactly_the_failed_requests(tmp_path, monkeypatch, client):
    """The first 401 stops the sending (not 40 requests all refused); the requests not sent are
    reported as `auth` failures but not stored, so after the key is fixed a rerun sends all 40."""
    monkeypatch.setenv("SERVER_KEY", "sk-test-wrong")
    table = prompts(40)
    with FakeOpenAIServer(ServerConfig(api_key="sk-test-right")) as srv:
        entry = spec(srv, client, "SERVER_KEY", max_concurrency=4)
        responses, stats = run("m", entry, table, tmp_path, max_concurrency=4)
        assert 1 <= srv.count() <= 4                                    # the first refusal and those in flight
        assert stats.failed == {"auth": 40} and stats.not_sent == 40 - srv.count() and stats.ok == 0
        assert set(responses["error_kind"]) == {"auth"}
        assert responses["error"].str.contains("Incorrect API key").all()
        assert not responses["error"].str.contains("litellm.AuthenticationError").any()   # said once, not thrice
        unsent = responses[responses["error"].str.startswith(engine.NOT_SENT)]
        assert len(unsent) == stats.not_sent and (unsent["attempts"] == 0).all()
        with ResponseStore(tmp_path, "m") as store:
            assert len(store) == 0                                      # nothing final
            assert sum(store.failures(k) for k in responses["key"]) == srv.count()   # only what was sent
        sent_before = srv.count()
        monkeypatch.setenv("SERVER_KEY", "sk-test-right")
        _, stats = run("m", entry, table, tmp_path, max_concurrency=4)
        assert stats.ok == 40 and stats.cached == 0 and srv.count() - sent_before == 40


def query_model():
    """workflow/scripts/query_model.py as a module (it runs its job only when Snakemake runs it)."""
    import importlib
    import sys
    from pathlib import Path

    scripts = str(Path(__file__).resolve().parents[1] / "workflow/scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module("query_model")


def test_a_refused_key_fails_the_job_with_one_line(tmp_path, monkeypatch, capsys):
    """The job fails (its output is not written) with one console line: the model, the provider's
    message and the variable to set; no traceback in the console or the log."""
    import types

    qm = query_model()
    monkeypatch.setenv("SERVER_KEY", "sk-test-wrong")
    with FakeOpenAIServer(ServerConfig(api_key="sk-test-right")) as srv:
        entry = spec(srv, "http", "SERVER_KEY")
        responses, _ = run("m", entry, prompts(5), tmp_path)
    with pytest.raises(qm._common.JobFailed) as failure:
        qm.fail_if_retryable(responses, "m", entry)
    message = str(failure.value)
    assert message.startswith("m: ") and "Incorrect API key provided" in message and "SERVER_KEY" in message
    assert engine.NOT_SENT not in message and "\n" not in message

    def main(sm):
        qm.fail_if_retryable(responses, "m", entry)
        (tmp_path / "out.parquet").write_text("written")

    log = tmp_path / "job.log"
    with pytest.raises(SystemExit):
        qm._common.run(types.SimpleNamespace(log=[str(log)]), main)
    console = capsys.readouterr().err.strip().splitlines()
    assert console == [f"culturelens: {message}"]
    assert not (tmp_path / "out.parquet").exists() and "Traceback" not in log.read_text()


def test_the_key_hint_names_the_variable_to_set(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-set-but-wrong")
    api = {"provider": "litellm", "model": "openai/gpt-4o-mini", "elicitation": {"method": "logprobs"}}
    assert "set OPENAI_API_KEY " in backends.key_hint("gpt", api)
    assert os.environ["OPENAI_API_KEY"] == "sk-test-set-but-wrong"         # asked with an empty environment, restored
    named = backends.key_hint("gpt", {**api, "api_key_env": "MY_KEY"})
    assert "set MY_KEY (named by catalog.models.gpt.api_key_env)" in named
    local = {**api, "api_base": "http://127.0.0.1:1/v1"}
    assert "catalog.models.gpt.api_key_env" in backends.key_hint("gpt", local)


@pytest.mark.e2e
def test_a_key_appears_in_no_file_the_workflow_writes(tmp_path):
    """A recognisable key, used by two models (litellm and the http client) through the real workflow:
    it is sent (the server demands it) but written nowhere: results/, logs/, the store, .snakemake/."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml
    from workspace import copy_workflow

    canary = "sk-culturelens-canary-7f3a9c"
    copy_workflow(tmp_path)
    with FakeOpenAIServer(ServerConfig(api_key=canary)) as server:
        models = {name: spec(server, client, key_env="CULTURELENS_CANARY_KEY")
                  for name, client in (("via-litellm", "litellm"), ("via-http", "http"))}
        (tmp_path / "keys.yaml").write_text(yaml.safe_dump({"catalog": {"models": models}}))
        cmd = [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", "--configfile", "config/config.yaml",
               "keys.yaml", "--config", "studies=[wvs_stance]", "countries=[NL]", "paraphrases=1",
               "models=[uniform,via-litellm,via-http]"]
        env = {**os.environ, "CULTURELENS_CANARY_KEY": canary, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env)
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert server.count() > 0 and set(server.authorizations) == {f"Bearer {canary}"}
    assert canary not in proc.stdout + proc.stderr
    scanned = 0
    for top in ("results", "logs", "store", ".snakemake"):
        for path in (tmp_path / top).rglob("*"):
            if path.is_file():
                scanned += 1
                assert canary.encode() not in path.read_bytes(), path
    assert scanned > 50
