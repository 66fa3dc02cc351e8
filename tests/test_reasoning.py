"""Reasoning models (culturelens.backends.reasoning): the request per provider, the answer read from
the final message only, a budget that runs out classified, reasoning tokens counted, and logprobs
refused at the configuration check. Against the local test server speaking each provider's shape."""

import json
import os

import pandas as pd
import pytest
import yaml

from culturelens import backends, elicit, engine
from culturelens.backends import reasoning
from culturelens.config import check
from culturelens.errors import InputError
from culturelens.limits import Limits
from culturelens.store import ResponseStore
from openai_server import FakeOpenAIServer, ServerConfig
from test_engine import prompts

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
PROMPT = {"messages": json.dumps([{"role": "user", "content": "Q?\nA. yes\nB. no"}]),
          "messages_verbalized": json.dumps([{"role": "user", "content": "Q? JSON"}])}


@pytest.mark.parametrize("spec,expected", [
    # API models through litellm: its unified reasoning_effort; a token budget for Anthropic / Gemini too
    ({"provider": "litellm", "model": "openai/o4-mini", "reasoning": {"effort": "high"}},
     {"reasoning_effort": "high", "max_tokens": 8 + 16384}),
    ({"provider": "litellm", "model": "anthropic/claude-sonnet-4", "reasoning": {"budget_tokens": 2048}},
     {"reasoning_effort": "medium", "thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 8 + 2048}),
    ({"provider": "litellm", "model": "gemini/gemini-2.5-flash", "reasoning": "off"},
     {"reasoning_effort": "none", "max_tokens": 8, "temperature": 1.0}),
    # vLLM and OpenAI-compatible servers: the chat template's switch
    ({"provider": "vllm", "model": "Qwen/Qwen3-8B", "reasoning": {"effort": "low"}},
     {"chat_template_kwargs": {"enable_thinking": True}, "max_tokens": 8 + 1024, "temperature": 1.0}),
    ({"provider": "litellm", "model": "openai/qwen3", "api_base": "http://x/v1", "reasoning": False},
     {"chat_template_kwargs": {"enable_thinking": False}, "max_tokens": 8, "temperature": 1.0}),
])
def test_the_request_per_provider(spec, expected):
    from culturelens.backends.chat import chat_request

    body = reasoning.apply(chat_request(spec["model"], PROMPT, {"method": "sample", "n": 4}), spec)
    for key, value in expected.items():
        assert body[key] == value, key
    if "temperature" not in expected:
        assert "temperature" not in body          # left to the provider: reasoning models take only their own
    assert reasoning.apply({"max_tokens": 8}, {"provider": "litellm", "model": "openai/gpt-4o"}) == {"max_tokens": 8}


def test_logprobs_on_a_reasoning_model_is_refused_at_the_configuration_check():
    config = yaml.safe_load(open("config/config.yaml"))
    config["catalog"]["models"]["r1"] = {"provider": "vllm", "model": "deepseek-ai/DeepSeek-R1",
                                         "reasoning": {"effort": "medium"}, "elicitation": {"method": "logprobs"}}
    config["models"] = ["uniform", "r1"]
    with pytest.raises(InputError, match="sample or verbalized for a reasoning model") as err:
        check(config, "config/config.yaml")
    assert "catalog.models.r1.elicitation.method" in str(err.value)


@pytest.mark.parametrize("text,final", [
    ("<think>A or B? B.</think>\n\nB", "B"), ("thinking without its opening tag</think>A", "A"),
    ("<think>still thinking when the allowance ran out", ""), ("B", "B")])
def test_the_answer_is_the_final_message_never_the_thinking(text, final):
    assert elicit.answer_text({"message": {"content": text}}) == final


def _run(shape, tmp_path, method="sample", budget=100, client="http", **elicitation):
    with FakeOpenAIServer(ServerConfig(reasoning=shape, reasoning_tokens=40,
                                       distribution=lambda text, labels: [0.7, 0.2, 0.1])) as server:
        spec = {"provider": "litellm", "model": "openai/fake-reasoner", "api_base": server.url, "client": client,
                "reasoning": {"budget_tokens": budget}, "elicitation": {"method": method, **elicitation}}
        table = prompts(4)
        with ResponseStore(tmp_path, "r") as store:
            responses, stats = engine.run(table, backends.make("r", spec), store,
                                          Limits(backoff_base_s=0.01, timeout_s=5))
        body = server.requests[-1]
    meta = {k: "x" for k in ("study", "item_id", "item_lang", "prompt_lang", "persona", "template_id",
                             "paraphrase", "option_order")}
    dist, invalid = elicit.distributions(table.assign(**meta), responses, method)
    return dist, invalid, stats, body, responses


@pytest.mark.parametrize("client", ["http", "litellm"])
@pytest.mark.parametrize("shape", ["openai", "reasoning_content", "think"])
def test_each_providers_shape_is_read_from_the_final_answer(shape, client, tmp_path):
    dist, invalid, stats, body, responses = _run(shape, tmp_path, client=client, n=5, temperature=0.0)
    assert invalid.empty and dist["prompt_id"].nunique() == 4
    assert body["chat_template_kwargs"] == {"enable_thinking": True} and body["max_tokens"] == 8 + 100
    first = dist[dist["prompt_id"] == "q0"].sort_values("option_index")["prob"].tolist()
    assert first == [1.0, 0.0, 0.0]                      # temperature 0: the argmax label, five times
    payload = json.loads(responses["payload"].iloc[0])
    message = payload["choices"][0]["message"]
    if shape != "openai":    # the thinking is kept in the store, not parsed (litellm moves <think> apart itself)
        assert message["content"].startswith("<think>hmm") or message["reasoning_content"].startswith("hmm")
    assert stats.reasoning_tokens == 4 * 5 * 40 and "of them reasoning" in stats.line()


@pytest.mark.parametrize("shape", ["openai", "reasoning_content", "think"])
def test_an_allowance_that_ends_while_thinking_is_budget_exhausted(shape, tmp_path):
    dist, invalid, _, _, _ = _run(shape, tmp_path, method="verbalized", budget=10, max_tokens=5)
    assert dist.empty and set(invalid["reason"]) == {"budget_exhausted"} and len(invalid) == 4


def test_openai_reasoning_models_refuse_logprobs(tmp_path):
    """Without the configuration check (a model not flagged as reasoning): the 400 is a failure, not an answer."""
    with FakeOpenAIServer(ServerConfig(reasoning="openai")) as server:
        spec = {"provider": "litellm", "model": "openai/o4-mini", "api_base": server.url, "client": "http",
                "elicitation": {"method": "logprobs"}}
        with ResponseStore(tmp_path, "o") as store:
            responses, _ = engine.run(prompts(2), backends.make("o", spec), store, Limits(timeout_s=5))
    assert set(responses["status"]) == {"failed"} and "logprobs" in responses["error"].iloc[0]


def test_prefill_and_a_constrained_choice_are_in_the_request():
    from culturelens.backends.chat import chat_request

    prompt = {"messages": json.dumps([{"role": "user", "content": "Q?\nA. yes\nB. no\n\nAnswer with a letter.\nAnswer:"}]),
              "messages_verbalized": "[]", "labels": ["A", "B"]}
    body = chat_request("m", prompt, {"method": "logprobs", "prefill": True, "constrain": "choice"})
    assert body["messages"][-1] == {"role": "assistant", "content": "Answer:"}
    assert body["messages"][-2]["content"].endswith("Answer with a letter.")
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["structured_outputs"] == {"choice": ["A", "B"]}
    plain = chat_request("m", prompt, {"method": "logprobs"})
    assert len(plain["messages"]) == 1 and "structured_outputs" not in plain
    api = backends.make("x", {"provider": "litellm", "model": "anthropic/claude-3-5-haiku", "elicitation": {
        "method": "sample", "prefill": True, "constrain": "choice"}})
    sent = api.request(prompt)
    assert sent["messages"][-1]["role"] == "assistant" and "continue_final_message" not in sent
