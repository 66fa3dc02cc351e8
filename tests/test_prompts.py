"""Fan-out counts and prompt rendering, on hand-made items and templates."""

import json

import pandas as pd
import pytest

from culturelens import prompts
from culturelens.templates import Template


def para(lang, i):
    return {
        "id": f"{lang}-{i}", "system": "" if i == 1 else f"sys {lang}",
        "persona": f"[{lang}] you live in {{country}}.",
        "user": "{persona}{question}\n{options}\n{instruction}",
        "instruction": "Answer with the letter.", "option_line": "{label}. {option}",
        "stance_question": "Agree? {statement}", "stance_options": [f"yes-{lang}", f"no-{lang}"],
    }


TEMPLATES = {lang: Template(lang, {"method": "test"}, "Answer:", (para(lang, 1), para(lang, 2), para(lang, 3)), lang,
                            "Give JSON like {example}.")
             for lang in ("en", "de")}
ITEMS = pd.DataFrame([
    {"item_id": "q1", "lang": "en", "question": "Q1?", "options": ["a", "b", "c"], "scale": "ordinal"},
    {"item_id": "q1", "lang": "de", "question": "F1?", "options": ["x", "y", "z"], "scale": "ordinal"},
    {"item_id": "q2", "lang": "en", "question": "Q2?", "options": ["yes", "no"], "scale": "nominal"},
])
ELIGIBLE = {"q1": ["DE", "US", "JP"], "q2": ["US"]}
CONDITIONS = {
    "default": {"persona": False, "languages": ["en", "de"]},
    "cross_national": {"persona": True, "languages": ["en"]},
    "linguistic": {"persona": False, "languages": "native"},
}


def render(**kw):
    args = dict(study="s", stance=False, conditions=CONDITIONS, templates=TEMPLATES, paraphrases=2,
                option_orders=["listed", "reversed"], survey_sha="x")
    args.update(kw)
    return prompts.render(ITEMS, ELIGIBLE, **args)


def test_fan_out_counts():
    table, notes = render()
    per = 2 * 2  # paraphrases × option orders
    counts = table.groupby("condition").size().to_dict()
    assert counts["default"] == 2 * 2 * per          # 2 items × 2 languages
    assert counts["cross_national"] == (3 + 1) * per  # 4 (item, country) pairs, English only
    # linguistic: DE→de, US→en (q1 and q2), JP has no template in Japanese here
    assert counts["linguistic"] == 3 * per
    assert any("JP" in n for n in notes)
    assert len(table) == 16 + 16 + 12


def test_item_language_and_prompt_language_recorded_separately():
    table, _ = render()
    de_default = table[(table.condition == "default") & (table.prompt_lang == "de")]
    assert set(de_default[de_default.item_id == "q1"].item_lang) == {"de"}   # translated item
    assert set(de_default[de_default.item_id == "q2"].item_lang) == {"en"}   # not translated: stays English


def test_option_order_and_labels():
    table, _ = render(conditions={"default": CONDITIONS["default"]}, paraphrases=1)
    row = table[(table.item_id == "q1") & (table.prompt_lang == "en") & (table.option_order == "reversed")].iloc[0]
    assert list(row.shown_options) == [2, 1, 0]
    assert list(row.labels) == ["A", "B", "C"]
    user = json.loads(row.messages)[-1]["content"]
    assert "A. c\nB. b\nC. a" in user
    assert user.endswith("\nAnswer:")


def test_persona_uses_localised_country_name():
    table, _ = render(conditions={"cn": {"persona": True, "languages": ["de"]}}, paraphrases=1)
    row = table[(table.persona == "US")].iloc[0]
    assert "[de] you live in Vereinigte Staaten." in json.loads(row.messages)[-1]["content"]
    assert row.country == "US"


def test_prompt_ids_stable_and_shared_for_identical_prompts():
    a, _ = render()
    b, _ = render()
    assert a.prompt_id.tolist() == b.prompt_id.tolist()
    # linguistic prompting in English for the US is the same text as default prompting in English
    ling = a[(a.condition == "linguistic") & (a.country == "US") & (a.item_id == "q2")].prompt_id
    default = a[(a.condition == "default") & (a.prompt_lang == "en") & (a.item_id == "q2")].prompt_id
    assert set(ling) == set(default)
    assert a.groupby(["condition", "country", "prompt_lang", "item_id", "paraphrase", "option_order"]).ngroups == len(a)


def test_stance_items_use_template_options():
    table, _ = render(stance=True, conditions={"d": {"persona": False, "languages": ["de"]}}, paraphrases=1)
    text = json.loads(table[table.item_id == "q2"].iloc[0].messages)[-1]["content"]
    assert "Agree? Q2?" in text and "A. yes-de" in text and "B. no-de" in text


@pytest.mark.parametrize("n", [1, 3])
def test_paraphrase_count(n):
    table, _ = render(conditions={"default": {"persona": False, "languages": ["en"]}}, paraphrases=n)
    assert table.template_id.nunique() == n


def test_verbalized_variant_asks_for_json_over_the_same_labels():
    table, _ = render(conditions={"default": {"persona": False, "languages": ["en"]}}, paraphrases=1)
    row = table[table.item_id == "q1"].iloc[0]
    text = json.loads(row.messages_verbalized)[-1]["content"]
    assert text.endswith('Give JSON like {"A": 0.33, "B": 0.33, "C": 0.33}.')
    assert "Answer with the letter" not in text and "A. a" in text


def test_labels_skip_the_pronoun_i_and_single_option_items_are_not_rendered():
    items = pd.DataFrame([
        {"item_id": "long", "lang": "en", "question": "Scale?", "options": [str(i) for i in range(10)], "scale": "ordinal"},
        {"item_id": "one", "lang": "en", "question": "Only?", "options": ["yes"], "scale": "nominal"},
    ])
    table, notes = prompts.render(items, {"long": ["US"], "one": ["US"]}, study="s", stance=False,
                                  conditions={"d": {"persona": False, "languages": ["en"]}}, templates=TEMPLATES,
                                  paraphrases=1, option_orders=["listed", "reversed"], survey_sha="x")
    assert set(table.item_id) == {"long"} and any("fewer than two" in n for n in notes)
    assert list(table.iloc[0].labels) == list("ABCDEFGHJK")
