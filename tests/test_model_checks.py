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
