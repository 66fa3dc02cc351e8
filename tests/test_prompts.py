"""Fan-out counts and prompt rendering, on hand-made items and templates."""

import json
from pathlib import Path

import babel
import pandas as pd
import pytest

from culturelens import countries, prompts, surveys, templates
from culturelens.templates import Template

ROOT = Path(__file__).resolve().parents[1]
PHRASES = {"your_country": "your country", "country_leader": "the leader of {country}",
           "your_country_leader": "the leader of your country"}


def para(lang, i):
    return {
        "id": f"{lang}-{i}", "system": "" if i == 1 else f"sys {lang}",
        "persona": f"[{lang}] you live in {{country}}.",
        "user": "{persona}{question}\n{options}\n{instruction}",
        "instruction": "Answer with the letter.", "option_line": "{label}. {option}",
        "stance_question": "Agree? {statement}", "stance_options": [f"yes-{lang}", f"no-{lang}"],
    }


TEMPLATES = {lang: Template(lang, {"method": "test"}, "Answer:", (para(lang, 1), para(lang, 2), para(lang, 3)), lang,
                            "Give JSON like {example}.", {k: f"[{lang}] {v}" for k, v in PHRASES.items()})
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


# --------------------------------------------------------------------------- languages of frame and item

def test_native_needs_the_item_in_the_prompt_language_not_only_the_template():
    items = pd.DataFrame([
        {"item_id": "t", "lang": "en", "question": "T?", "options": ["a", "b"], "scale": "nominal"},
        {"item_id": "t", "lang": "de", "question": "Ü?", "options": ["x", "y"], "scale": "nominal"},
        {"item_id": "u", "lang": "en", "question": "U?", "options": ["a", "b"], "scale": "nominal"},
    ])
    table, notes = prompts.render(items, {"t": ["DE", "US"], "u": ["DE", "US"]}, study="s", stance=False,
                                  conditions={"linguistic": CONDITIONS["linguistic"]}, templates=TEMPLATES,
                                  paraphrases=1, option_orders=["listed"], survey_sha="x")
    mode = table.set_index(["item_id", "country"])["language_mode"].to_dict()
    assert mode == {("t", "DE"): "native", ("t", "US"): "native",
                    ("u", "DE"): "frame_only",   # German template, English question: not native
                    ("u", "US"): "native"}
    ok = table.set_index(["item_id", "country"])["item_in_prompt_lang"].to_dict()
    assert ok[("u", "DE")] is False and ok[("t", "DE")] is True
    # untranslated items are counted per prompt language; the condition is labelled partly frame only
    assert any(n.startswith("prompt language de: 1 of 2 items (50%) have no translation") for n in notes)
    assert not any(n.startswith("prompt language en:") for n in notes)
    assert prompts.condition_labels(table)["linguistic"].startswith("linguistic (partly frame only")


def test_language_mode_and_condition_labels():
    assert prompts.language_mode("JP", "ja", "en") == "frame_only"
    assert prompts.language_mode("JP", "ja", "ja") == "native"
    assert prompts.language_mode("JP", "en", "en") == "non_native"
    assert prompts.language_mode("none", "en", "en") == "non_native"
    assert prompts.language_mode("IN", "en", "en") == "non_native"  # English: 19 %, not a main language
    rows = [("default", "en", "en", "non_native"), ("linguistic", "en", "en", "native"),
            ("linguistic", "ja", "en", "frame_only"), ("linguistic", "de", "en", "frame_only")]
    goqa_like = pd.DataFrame(rows, columns=["condition", "prompt_lang", "item_lang", "language_mode"])
    assert prompts.condition_labels(goqa_like) == {"default": "default", "linguistic": "linguistic (frame only)"}
    vsm_like = goqa_like.assign(item_lang=goqa_like["prompt_lang"], language_mode="native")
    assert prompts.condition_labels(vsm_like)["linguistic"] == "linguistic"


def test_goqa_and_stance_linguistic_prompting_is_frame_only():
    english_only = ITEMS[ITEMS.lang == "en"]
    table, notes = prompts.render(english_only, ELIGIBLE, study="s", stance=True,
                                  conditions={"linguistic": CONDITIONS["linguistic"]}, templates=TEMPLATES,
                                  paraphrases=1, option_orders=["listed"], survey_sha="x")
    assert set(table[table.prompt_lang == "de"].language_mode) == {"frame_only"}
    assert any("'linguistic (frame only)'" in n for n in notes)


# --------------------------------------------------------------------------- country names

def test_subnational_persona_named_in_the_prompt_language():
    items = pd.DataFrame([{"item_id": "q", "lang": "en", "question": "Q?", "options": ["a", "b"],
                           "scale": "nominal"}])
    shipped = templates.load_dir(ROOT / "resources" / "templates")
    table, _ = prompts.render(items, {"q": ["GB-NIR"]}, study="s", stance=False,
                              conditions={"cn": {"persona": True, "languages": sorted(shipped)}},
                              templates=shipped, paraphrases=3, option_orders=["listed"], survey_sha="x")
    text = {lang: " ".join(grp.messages) for lang, grp in table.groupby("prompt_lang")}
    assert "北爱尔兰" in text["zh"] and "Nordirland" in text["de"]
    for lang, t in text.items():
        assert ("Northern Ireland" in t) == (lang == "en"), lang


def test_no_english_only_country_name_in_a_prompt_in_another_language():
    """Persona prompts in every shipped language for every country of the shipped surveys."""
    table = countries.load_name_table()
    codes = sorted(set(table.loc[table["sample"] == "national", "code"]))
    items = pd.DataFrame([{"item_id": "q", "lang": "en", "question": "?", "options": ["a", "b"],
                           "scale": "nominal"}])
    shipped = templates.load_dir(ROOT / "resources" / "templates")
    rendered, _ = prompts.render(items, {"q": codes}, study="s", stance=False,
                                 conditions={"cn": {"persona": True, "languages": sorted(shipped)}},
                                 templates=shipped, paraphrases=1, option_orders=["listed"], survey_sha="x")
    english = {c: countries.name(c, "en") for c in codes}
    checked = 0
    for row in rendered[rendered.prompt_lang != "en"].itertuples():
        local = countries.name(row.country, row.prompt_lang)
        if english[row.country] in local:  # same spelling in this language (Japan, Kenya in Swahili)
            continue
        text = json.loads(row.messages)[-1]["content"]
        assert local in text and english[row.country] not in text, (row.country, row.prompt_lang)
        checked += 1
    assert checked > 500


# --------------------------------------------------------------------------- country placeholders

PH_ITEMS = pd.DataFrame([
    {"item_id": "p", "lang": "en", "question": "Should (Survey country) trade more?",
     "options": ["(survey country) should", "No"], "scale": "nominal"},
    {"item_id": "l", "lang": "en", "question": "Do you approve of the way...(name of survey country leader)...is "
     "handling the job?", "options": ["Approve", "Disapprove"], "scale": "nominal"},
    {"item_id": "n", "lang": "en", "question": "Is (name of survey country) safe?", "options": ["Yes", "No"],
     "scale": "nominal"},
])


def test_placeholders_filled_with_the_target_country_or_flagged_without_one():
    table, notes = prompts.render(PH_ITEMS, {"p": ["DE", "US"], "l": ["DE"], "n": ["US"]}, study="s",
                                  stance=False, conditions=CONDITIONS, templates=TEMPLATES, paraphrases=1,
                                  option_orders=["listed"], survey_sha="x")
    text = {(r.item_id, r.condition, r.country, r.prompt_lang): json.loads(r.messages)[-1]["content"]
            for r in table.itertuples()}
    # cross-national: the persona's name, in the prompt language (CLDR)
    assert "Should Germany trade more?" in text[("p", "cross_national", "DE", "en")]
    assert "A. Germany should" in text[("p", "cross_national", "DE", "en")]
    assert "the way...[en] the leader of Germany...is handling" in text[("l", "cross_national", "DE", "en")]
    # linguistic: the target country, named in the prompt language (German frame, English item text)
    assert "Should Deutschland trade more?" in text[("p", "linguistic", "DE", "de")]
    assert "Is United States safe?" in text[("n", "linguistic", "US", "en")]
    # default: no country; generic phrase of the item's language, flagged
    assert "Should [en] your country trade more?" in text[("p", "default", "none", "de")]
    assert "[en] the leader of your country" in text[("l", "default", "none", "en")]
    assert table.loc[table.condition == "default", "placeholder_unfilled"].all()
    assert not table.loc[table.condition != "default", "placeholder_unfilled"].any()
    assert not table.messages.str.contains("survey country", case=False).any()
    assert any(n.startswith("3 items name the survey country") and "6 prompt rows of 3 items" in n for n in notes)


def test_fill_placeholders_keeps_sentence_case():
    assert prompts.fill_placeholders("(Survey country) should leave the EU", "none", "en", PHRASES) == (
        "Your country should leave the EU", 1)
    assert prompts.fill_placeholders("trade with (survey country) and (name of survey country)", "JP", "de",
                                     PHRASES) == ("trade with Japan and Japan", 2)


def test_translated_item_gets_the_name_in_its_language():
    items = pd.DataFrame([
        {"item_id": "p", "lang": "en", "question": "Is (survey country) big?", "options": ["y", "n"], "scale": "nominal"},
        {"item_id": "p", "lang": "de", "question": "Ist (survey country) groß?", "options": ["j", "n"], "scale": "nominal"},
    ])
    table, _ = prompts.render(items, {"p": ["US"]}, study="s", stance=False,
                              conditions={"cn": {"persona": True, "languages": ["de"]}}, templates=TEMPLATES,
                              paraphrases=1, option_orders=["listed"], survey_sha="x")
    assert "Ist Vereinigte Staaten groß?" in json.loads(table.messages.iloc[0])[-1]["content"]


def test_no_placeholder_survives_rendering_of_the_shipped_goqa_sample():
    tables = surveys.load("goqa", "goqa", {"csv": str(ROOT / "resources/surveys/goqa/global_opinions_sample.csv")})
    items, targets = surveys.substantive_view(tables.items, tables.targets, False)
    assert items.question.map(lambda t: bool(prompts.PLACEHOLDER.search(t))).any()
    assert items.options.map(lambda opts: any(prompts.PLACEHOLDER.search(o) for o in opts)).sum() >= 5
    eligible = targets.groupby("item_id")["country"].unique().map(sorted).to_dict()
    shipped = templates.load_dir(ROOT / "resources" / "templates")
    conditions = {"default": {"persona": False, "languages": ["en", "zh"]},
                  "cross_national": {"persona": True, "languages": ["en"]},
                  "linguistic": {"persona": False, "languages": "native"}}
    table, notes = prompts.render(items, eligible, study="goqa", stance=False, conditions=conditions,
                                  templates=shipped, paraphrases=1, option_orders=["listed"], survey_sha="x")
    for column in ("messages", "messages_verbalized"):
        assert not table[column].str.contains("survey country", case=False).any()
    assert table.placeholder_unfilled.any()
    assert set(table.loc[table.placeholder_unfilled, "condition"]) == {"default"}
    assert any("'linguistic (frame only)'" in n for n in notes)
    assert set(table.loc[(table.condition == "linguistic") & (table.prompt_lang != "en"), "language_mode"]) == {
        "frame_only"}


# --------------------------------------------------------------------------- country → language table

def test_country_languages_table():
    items = pd.DataFrame([
        {"item_id": "t", "lang": "en", "question": "T?", "options": ["a", "b"], "scale": "nominal"},
        {"item_id": "t", "lang": "de", "question": "Ü?", "options": ["x", "y"], "scale": "nominal"},
        {"item_id": "u", "lang": "en", "question": "U?", "options": ["a", "b"], "scale": "nominal"},
    ])
    table = prompts.country_languages(items, {"t": ["DE", "BE", "AT"], "u": ["DE", "JP"]}, ["en", "de"])
    row = table.set_index("country")
    assert list(row.index) == ["AT", "BE", "DE", "JP"]
    assert row.loc["DE", "language"] == "de" and row.loc["DE", "official"]
    assert (row.loc["DE", "items"], row.loc["DE", "items_translated"]) == (2, 1)
    assert row.loc["DE", "share_untranslated"] == pytest.approx(0.5)
    assert row.loc["DE", "language_mode"] == "partly_frame_only" and row.loc["AT", "language_mode"] == "native"
    assert row.loc["BE", "language"] == "" and row.loc["BE", "language_mode"] == "none"
    assert "nl" in row.loc["BE", "reason"] and row.loc["JP", "language_mode"] == "none"
    assert row.loc["DE", "name"] == babel.Locale("en").territories["DE"]
