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
