"""The pre-flight check of the selected models (config.check_models, run at every Snakemake parse)."""

import os

import pytest

from culturelens.config import check_models
from culturelens.errors import InputError

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def config(**models) -> dict:
    return {"models": list(models), "catalog": {"models": models}}


def local(client: str, **extra) -> dict:
    return {"provider": "litellm", "model": "openai/fake-model", "api_base": "http://127.0.0.1:1/v1",
            "client": client, "elicitation": {"method": "sample"}, **extra}


@pytest.mark.parametrize("client", ["http", "litellm"])
def test_an_unset_key_variable_is_refused_before_any_job(monkeypatch, client):
    """`client: http` used to send its requests without the key (no Authorization header)."""
    monkeypatch.delenv("MY_SERVER_KEY", raising=False)
    with pytest.raises(InputError, match=r"catalog\.models\.local\.api_key_env.*MY_SERVER_KEY"):
        check_models(config(local=local(client, api_key_env="MY_SERVER_KEY")))
    monkeypatch.setenv("MY_SERVER_KEY", "sk-test-1")
    check_models(config(local=local(client, api_key_env="MY_SERVER_KEY")))


def gpt(method: str = "logprobs") -> dict:
    return {"provider": "litellm", "model": "openai/gpt-4o-mini", "elicitation": {"method": method}}


def test_a_passed_check_is_cached_and_litellm_not_imported_again(tmp_path):
    """Snakemake parses the workflow (and checks the models) at every run, and importing litellm
    takes seconds: a cached pass needs no litellm."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src"
    cache = tmp_path / ".snakemake/culturelens-checks.json"
    code = (f"import sys; sys.path.insert(0, {str(src)!r}); from culturelens.config import check_models; "
            f"check_models({config(gpt=gpt())!r}, cache={str(cache)!r}); print('litellm' in sys.modules)")
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    imported = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                               check=True).stdout.strip() for _ in range(2)]
    assert imported == ["True", "False"]
    entries = json.loads(cache.read_text())["passed"]
    assert [e["variables"] for e in entries.values()] == [{"OPENAI_API_KEY": True}]
    assert "sk-test-1" not in cache.read_text()


def test_a_cached_pass_holds_only_while_spec_and_variables_are_unchanged(tmp_path, monkeypatch):
    from culturelens.backends import litellm_backend

    calls = []
    check = litellm_backend.LiteLLMBackend.check
    monkeypatch.setattr(litellm_backend.LiteLLMBackend, "check",
                        lambda self, file: calls.append(self.name) or check(self, file))
    cache = tmp_path / "checks.json"
    cache.write_text("{not json")                                  # unreadable: checked again, rewritten
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1")
    check_models(config(gpt=gpt()), cache=cache)
    check_models(config(gpt=gpt()), cache=cache)
    assert calls == ["gpt"]
    check_models(config(gpt=gpt("sample")), cache=cache)          # another spec: checked
    assert calls == ["gpt", "gpt"]
    monkeypatch.delenv("OPENAI_API_KEY")                           # the variable it read is gone: checked, fails
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        check_models(config(gpt=gpt()), cache=cache)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-2")           # failures are not cached
    claude = {**gpt(), "model": "anthropic/claude-3-5-haiku-20241022"}
    for _ in range(2):
        with pytest.raises(InputError, match="no log-probabilities"):
            check_models(config(claude=claude), cache=cache)


def test_a_model_keyed_by_api_key_env_needs_no_litellm_unless_logprobs(tmp_path, monkeypatch):
    from culturelens.backends import litellm_backend

    monkeypatch.setattr(litellm_backend.LiteLLMBackend, "check", lambda *a: pytest.fail("litellm asked"))
    monkeypatch.setenv("MY_SERVER_KEY", "sk-test-1")
    check_models(config(local=local("litellm", api_key_env="MY_SERVER_KEY")), cache=tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()
