"""Item translation (culturelens.translate): requests, provenance, never over a human text, and the
whole rule against the local OpenAI-compatible server (resumable: a rerun sends nothing)."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from culturelens import translate

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def _items():
    return pd.DataFrame([
        {"item_id": "q1", "lang": "en", "translation": "original", "question": "Is it good?", "options": ["Yes", "No"]},
        {"item_id": "q1", "lang": "de", "translation": "human", "question": "Ist es gut?", "options": ["Ja", "Nein"]},
        {"item_id": "q2", "lang": "en", "translation": "original", "question": "How often?",
         "options": ["Often", "Rarely", "Never"]},
    ])


def _reply(content):
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})


def _fake_ask(answer):
    """An engine stand-in: each request row answered by `answer(system, item)`; records what was asked."""
    asked = []

    def ask(rows):
        out = []
        for msgs in rows["messages"]:
            system, user = json.loads(msgs)
            asked.append((system["content"], json.loads(user["content"])))
            content = answer(system["content"], json.loads(user["content"]))
            out.append({"status": "ok" if content is not None else "failed", "payload": _reply(content),
                        "error": None if content is not None else "HTTP 500", "received_at": "2026-12-02T10:00:00"})
        return pd.DataFrame(out)

    return ask, asked


def _tagged(system, item):
    lang = system.split(" into ")[1].split("(")[1].split(")")[0]
    tag = (lambda t: t.split("] ", 1)[-1]) if lang == "en" else (lambda t: f"[{lang}] {t}")
    return json.dumps({"question": tag(item["question"]), "options": [tag(o) for o in item["options"]]})


def test_only_missing_languages_are_requested_and_human_texts_kept():
    ask, asked = _fake_ask(_tagged)
    out, table = translate.translate(_items(), ["de", "ja"], ask, "mt (openai/x)", back_translate=False)
    targets = sorted((item["question"], system.split(" into ")[1][:12]) for system, item in asked)
    # q1 has a human German text: only its Japanese one is asked; q2 gets both
    assert len(asked) == 3 and ("Is it good?", "Japanese (ja") in targets
    human = out[(out["item_id"] == "q1") & (out["lang"] == "de")]
    assert human["question"].tolist() == ["Ist es gut?"] and human["translation"].tolist() == ["human"]
    ja = out[(out["item_id"] == "q2") & (out["lang"] == "ja")].iloc[0]
    assert ja["question"] == "[ja] How often?" and ja["options"] == ["[ja] Often", "[ja] Rarely", "[ja] Never"]
    assert (ja["translation"], ja["translator"], ja["translated_on"]) == ("machine", "mt (openai/x)", "2026-12-02")
    how = table.set_index(["item_id", "lang"])["translation"].to_dict()
    assert how == {("q1", "de"): "human", ("q1", "ja"): "machine", ("q2", "de"): "machine", ("q2", "ja"): "machine"}


def test_a_reply_with_the_wrong_number_of_options_is_reported_not_used():
    def wrong(system, item):
        return json.dumps({"question": "x", "options": ["only one"]})

    ask, _ = _fake_ask(wrong)
    out, table = translate.translate(_items(), ["ja"], ask, "mt", back_translate=False)
    assert set(out["lang"]) == {"en", "de"}         # nothing added
    assert table["problem"].str.contains("expected 2 non-empty options").any()
    failing, _ = _fake_ask(lambda s, i: None)
    out, table = translate.translate(_items(), ["ja"], failing, "mt", back_translate=False)
    assert table["problem"].str.contains("request failed: HTTP 500").all()


def test_back_translation_similarity():
    ask, asked = _fake_ask(_tagged)
    _, table = translate.translate(_items(), ["ja"], ask, "mt", back_translate=True)
    assert len(asked) == 4                              # two translations, two back
    assert (table.loc[table["translation"] == "machine", "back_similarity"] == 1.0).all()

    def lossy(system, item):                            # the way back loses a word of the question
        if " into English" in system:
            return json.dumps({"question": item["question"].split("] ")[-1].split()[0],
                               "options": [o.split("] ")[-1] for o in item["options"]]})
        return _tagged(system, item)

    ask, _ = _fake_ask(lossy)
    _, table = translate.translate(_items(), ["ja"], ask, "mt", back_translate=True)
    q2 = table[(table["item_id"] == "q2") & (table["lang"] == "ja")].iloc[0]
    # question "How often?" vs "How": difflib ratio 2·3/(10+3); the three options identical
    assert q2["back_similarity"] == pytest.approx((6 / 13 + 3) / 4)


@pytest.mark.e2e
def test_translation_rule_through_the_engine_and_store(tmp_path):
    from openai_server import FakeOpenAIServer
    from workspace import copy_workflow

    (tmp_path / "w").mkdir()
    work = copy_workflow(tmp_path / "w")
    with FakeOpenAIServer() as server:
        # the translator's own elicitation (sampling 20 draws) is not what translation asks for: one reply
        extra = {"catalog": {"models": {"mt": {"provider": "litellm", "model": "openai/fake-mt", "api_base": server.url,
                                               "client": "http", "elicitation": {"method": "sample", "n": 20},
                                               "limits": {"max_attempts": 1}}},
                             "studies": {"goqa": {"translate": {"model": "mt", "languages": ["ja", "de"]}}}}}
        (work / "extra.yaml").write_text(yaml.safe_dump(extra))
        cmd = [SNAKEMAKE, "--cores", "2", "--configfile", "config/config.yaml", "extra.yaml", "--config",
               "studies=[goqa]", "models=[uniform]", "conditions=[linguistic]", "paraphrases=1", "countries=[JP,DE]"]
        env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
        # one request fails (HTTP 500, one attempt allowed): the job fails, keeping what arrived
        server.inject("500", times=1, match="into Japanese")
        failed = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=900, env=env)
        assert failed.returncode != 0 and "rerun to retry them" in failed.stderr
        assert not (work / "results/goqa/survey/translations.csv").exists()
        before = server.count()
        first = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=900, env=env)
        assert first.returncode == 0, first.stderr[-4000:]
        # the rerun sent the failed request and the back translations the failed run never reached
        sent = server.count()
        table = pd.read_csv(work / "results/goqa/survey/translations.csv")
        machine = table[table["translation"] == "machine"]
        assert set(machine["lang"]) == {"ja", "de"} and machine["problem"].isna().all()
        assert (machine["back_similarity"] == 1.0).all()
        assert before == len(machine)                    # every translation asked once in the failed run
        assert sent == 2 * len(machine) + 1             # + one back each, + the one failed request again
        assert all(r.get("n", 1) == 1 and r.get("temperature") == 0 for r in server.requests)
        prompts = pd.read_parquet(work / "results/goqa/prompts.parquet")
        jp = prompts[prompts["country"] == "JP"]
        assert (jp["item_lang"] == "ja").all() and (jp["language_mode"] == "native").all()
        assert jp["messages"].str.contains(r"\[ja\] ").all()
        summary = (work / "results/summary.md").read_text()
        assert "items in 'ja': " in summary and "machine" in summary and "similarity median 1.00" in summary
        # resumable: forcing the rule again answers every request from the store
        again = subprocess.run([*cmd[:3], "--forcerun", "translate_items", *cmd[3:]], cwd=work,
                               capture_output=True, text=True, timeout=900, env=env)
        assert again.returncode == 0, again.stderr[-4000:]
        assert server.count() == sent
