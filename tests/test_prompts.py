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


# --------------------------------------------------------------------------- the fast renderer is the old one

def _parquet(table) -> bytes:
    import io

    buf = io.BytesIO()
    table.to_parquet(buf)
    return buf.getvalue()


def _same_as_old(items, eligible, **kw):
    new_table, new_notes = prompts.render(items, eligible, **kw)
    old_table, old_notes = _old_render(items, eligible, **kw)
    assert list(new_table.dtypes) == list(old_table.dtypes)
    pd.testing.assert_frame_equal(new_table, old_table, check_exact=True)
    assert _parquet(new_table) == _parquet(old_table)   # byte-identical prompts.parquet
    assert new_notes == old_notes
    return new_table


def _shipped_study(name):
    import yaml

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    spec = config["catalog"]["studies"][name]
    paths = {k: str(ROOT / v) for k, v in spec["paths"].items()}
    tables = surveys.load(spec["format"], name, paths)
    items, targets, _ = surveys.exclude_flagged(tables.items, tables.targets)
    items, targets = surveys.substantive_view(items, targets, spec.get("keep_non_substantive", False))
    if len(targets):   # as culturelens.shards.eligible
        eligible = targets.groupby("item_id")["country"].unique().map(sorted).to_dict()
    else:
        eligible = {i: sorted(tables.scores["country"].unique()) for i in items["item_id"].unique()}
    return items, eligible, spec["format"] == "wvs_stance"


@pytest.mark.parametrize("study", ["goqa", "vsm2013", "wvs_stance"])
def test_fast_renderer_is_byte_identical_to_the_old_one_on_the_shipped_studies(study):
    items, eligible, stance = _shipped_study(study)
    shipped = templates.load_dir(ROOT / "resources" / "templates")
    conditions = {"default": {"persona": False, "languages": ["en", "de", "zh"]},
                  "cross_national": {"persona": True, "languages": ["en", "ja"]},
                  "linguistic": {"persona": False, "languages": "native"}}
    table = _same_as_old(items, eligible, study=study, stance=stance, conditions=conditions, templates=shipped,
                         paraphrases=2, option_orders=["listed", "reversed"], survey_sha="x",
                         phrase_templates=shipped)
    assert len(table) > 1000 and table["prompt_id"].nunique() > 100


@pytest.mark.parametrize("stance", [False, True])
def test_fast_renderer_is_byte_identical_on_hand_made_templates(stance):
    """Including a paraphrase with the persona at the very end (rendered row by row) and placeholders."""
    odd = dict(para("en", 4), id="en-4", user="{question}\n{options}\n{instruction}\n{persona}")
    quote = dict(para("en", 5), id="en-5", persona='"Du" lebst in {country}\t\\ "quoted".')
    tpl = {**TEMPLATES, "en": Template("en", {}, "Answer:", (*TEMPLATES["en"].paraphrases, odd, quote), "en",
                                       "Give JSON like {example}.", TEMPLATES["en"].country_phrases)}
    items = pd.concat([ITEMS, PH_ITEMS], ignore_index=True)
    eligible = {**ELIGIBLE, "p": ["DE", "US", "GB-NIR"], "l": ["DE"], "n": ["US", "JP"]}
    for paraphrases in (1, 5):
        _same_as_old(items, eligible, study="s", stance=stance, conditions=CONDITIONS, templates=tpl,
                     paraphrases=paraphrases, option_orders=["reversed", "listed"], survey_sha="x")
    empty, notes = prompts.render(items, {}, study="s", stance=stance, conditions=CONDITIONS, templates=tpl,
                                  paraphrases=1, option_orders=["listed"], survey_sha="x")
    old_empty, old_notes = _old_render(items, {}, study="s", stance=stance, conditions=CONDITIONS, templates=tpl,
                                       paraphrases=1, option_orders=["listed"], survey_sha="x")
    assert empty.empty and _parquet(empty) == _parquet(old_empty) and notes == old_notes


# --------------------------------------------------------------------------- frozen renderer
# The renderer as it was before it was optimised (commit cdb0239), kept verbatim (renamed `_old_*`)
# so that the fast renderer can be checked for byte-identical output on the shipped studies.
# Do not "fix" it: it is the reference.

import hashlib  # noqa: E402
import re  # noqa: E402
from collections.abc import Iterable, Mapping  # noqa: E402

from culturelens.errors import InputError  # noqa: E402

NO_PERSONA = prompts.NO_PERSONA
LABELS = prompts.LABELS
PLACEHOLDER = prompts.PLACEHOLDER


def _old_language_notes(table: pd.DataFrame, by_item: Mapping[str, Mapping], with_placeholder: set[str]) -> list[str]:
    """Untranslated items per prompt language, placeholders, and frame-only condition labels."""
    notes = []
    if table.empty:
        return notes
    for lang, grp in table.groupby("prompt_lang"):
        rendered = sorted(grp["item_id"].unique())  # the items rendered in this prompt language
        missing = [i for i in rendered if lang not in by_item[i]]
        if missing:
            notes.append(f"prompt language {lang}: {len(missing)} of {len(rendered)} items "
                         f"({len(missing) / len(rendered):.0%}) have no translation; their text is shown in "
                         f"{prompts._fallback_langs(by_item, missing)} inside the {lang} template (language_mode frame_only)")
    if with_placeholder:
        unfilled = table[table["placeholder_unfilled"]]
        notes.append(f"{len(with_placeholder)} items name the survey country by a placeholder such as "
                     "'(survey country)': filled with the target country's name in the prompt language; "
                     f"without a target country (default prompting) rendered as 'your country' in "
                     f"{len(unfilled)} prompt rows of {unfilled['item_id'].nunique()} items (placeholder_unfilled)")
    for cond, label in prompts.condition_labels(table).items():
        if label != cond:
            notes.append(f"condition {cond} is labelled '{label}': the template is translated, the item text "
                         "is not (see language_mode)")
    return notes


def _old_prompt_id(messages: list[dict], labels: list[str], shown: list[int]) -> str:
    """First 16 hex digits of sha256 over what the model sees and how answers map to options."""
    blob = json.dumps([messages, labels, shown], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _old_targets_for(condition: Mapping, language_spec, eligible: list[str], available: Iterable[str]):
    """(persona, country, prompt_lang) triples one condition asks for, for one item.

    `language_spec` is a list of languages or "native" (each country's main language with a template).
    Without a persona and with fixed languages there is one target, `none`: the prompt is compared
    with every country.
    """
    available = set(available)
    persona = condition["persona"]
    if language_spec != "native":
        langs = list(language_spec)
        if not persona:
            return [(NO_PERSONA, NO_PERSONA, lang) for lang in langs]
        return [(c, c, lang) for c in eligible for lang in langs]
    out = []
    for c in eligible:
        lang = countries.native_language(c, available)
        if lang is not None:
            out.append((c if persona else NO_PERSONA, c, lang))
    return out


def _old_language_mode(country: str, prompt_lang: str, item_lang: str) -> str:
    """``native``, ``frame_only`` or ``non_native`` (see the module docstring).

    ``native`` needs both: the prompt language is a main language of the country (CLDR,
    ``countries.main_languages``) and the item text is in that language.
    """
    if item_lang != prompt_lang:
        return "frame_only"
    if country != NO_PERSONA and prompt_lang in countries.main_languages(country):
        return "native"
    return "non_native"



def _old_fill_placeholders(text: str, country: str, lang: str, phrases: Mapping[str, str]) -> tuple[str, int]:
    """Replace the survey-country placeholders in ``text``; the country is named in ``lang`` (CLDR).

    ``country`` is the target country's code, or ``none``: then the generic phrases are used.
    """
    if not phrases:
        raise InputError("<templates>", "country_phrases", f"phrases for placeholders in '{lang}' item text")

    def sub(match: re.Match) -> str:
        leader = bool(match.group("leader"))
        if country == NO_PERSONA:
            out = phrases["your_country_leader" if leader else "your_country"]
        else:
            name = countries.name(country, lang)
            out = phrases["country_leader"].format(country=name) if leader else name
        # "(Survey country) should leave …" starts a sentence: "Your country should leave …"
        return out[:1].upper() + out[1:] if match.group(0)[1].isupper() else out

    return PLACEHOLDER.subn(sub, text)


def _old_filled_item(item: Mapping, country: str, phrases: Mapping[str, str], prompt_lang: str) -> tuple[Mapping, int]:
    """The item with its placeholders filled: the country's name in the prompt language (CLDR), the
    surrounding phrases ("the leader of …", "your country") in the item's own language."""
    question, n = _old_fill_placeholders(item["question"], country, prompt_lang, phrases)
    options = []
    for option in item["options"]:
        filled, k = _old_fill_placeholders(option, country, prompt_lang, phrases)
        options.append(filled)
        n += k
    return {**item, "question": question, "options": options}, n


def _old_has_placeholder(item: Mapping) -> bool:
    return any(PLACEHOLDER.search(t) for t in [item["question"], *item["options"]])


def _old_item_text(rows_by_lang: Mapping[str, Mapping], lang: str) -> Mapping:
    """The item in the prompt language if translated, else in English (or its only language)."""
    if lang in rows_by_lang:
        return rows_by_lang[lang]
    return _old_fallback(rows_by_lang)


def _old_fallback(rows_by_lang: Mapping[str, Mapping]) -> Mapping:
    if "en" in rows_by_lang:
        return rows_by_lang["en"]
    return next(iter(rows_by_lang.values()))



def _old_render_one(template: Template, para: Mapping, item: Mapping, persona: str, prompt_lang: str,
               order: str, stance: bool) -> dict:
    """Render one prompt: messages, labels and the option indices in display order."""
    if stance:
        question = para["stance_question"].format(statement=item["question"])
        option_texts = list(para["stance_options"])
    else:
        question = item["question"]
        option_texts = list(item["options"])
    shown = list(range(len(option_texts)))
    if order == "reversed":
        shown.reverse()
    labels = list(LABELS[: len(shown)])
    options_block = "\n".join(
        para["option_line"].format(label=lab, option=option_texts[i]) for lab, i in zip(labels, shown)
    )
    persona_text = ""
    if persona != NO_PERSONA:
        persona_text = para["persona"].format(country=countries.name(persona, prompt_lang)) + "\n\n"
    system = [{"role": "system", "content": para["system"]}] if para["system"] else []

    def user(instruction: str, cue: str) -> list[dict]:
        text = para["user"].format(persona=persona_text, question=question, options=options_block,
                                   instruction=instruction).rstrip()
        return system + [{"role": "user", "content": f"{text}\n{cue}" if cue else text}]

    # the verbalised variant asks for a JSON probability per label instead of one letter
    example = json.dumps({lab: round(1 / len(labels), 2) for lab in labels})
    verbal = template.verbalized_instruction.replace("{example}", example)
    return {"messages": user(para["instruction"], template.answer_cue), "labels": labels, "shown_options": shown,
            "messages_verbalized": user(verbal, "")}


def _old_render(items: pd.DataFrame, eligible: Mapping[str, list[str]], *, study: str, stance: bool,
           conditions: Mapping[str, Mapping], templates: Mapping[str, Template], paraphrases: int,
           option_orders: list[str], survey_sha: str,
           phrase_templates: Mapping[str, Template] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Render every prompt the configuration asks for; returns (prompts, notes).

    `eligible[item_id]` lists the countries with survey data for that item (already restricted to
    the configured countries); items with none are not rendered. `phrase_templates` (default:
    `templates`) supply the placeholder phrases in the item's language (English for an English item
    shown in a Chinese frame), falling back to the prompt language's template.
    """
    phrase_templates = {**templates, **(phrase_templates or {})}
    rows, notes = [], []
    by_item: dict[str, dict[str, Mapping]] = {}
    for rec in items.to_dict("records"):
        by_item.setdefault(rec["item_id"], {})[rec["lang"]] = rec
    unscored = [i for i in by_item if not eligible.get(i)]
    if unscored:
        notes.append(f"{len(unscored)} items have no survey data for the selected countries and were not rendered")
    skipped_native: set[str] = set()
    with_placeholder: set[str] = set()
    too_few = [i for i, texts in by_item.items() if len(next(iter(texts.values()))["options"]) < 2 and not stance]
    if too_few:
        notes.append(f"{len(too_few)} items have fewer than two answer options left and were not rendered")
    for item_id, texts in by_item.items():
        countries_here = eligible.get(item_id) or []
        if not countries_here or item_id in too_few:
            continue
        for cond_name, cond in conditions.items():
            triples = _old_targets_for(cond, cond["languages"], countries_here, templates)
            if cond["languages"] == "native":
                covered = {c for _, c, _ in triples}
                skipped_native.update(set(countries_here) - covered)
            for persona, country, lang in triples:
                if lang not in templates:
                    raise KeyError(f"no template for prompt language '{lang}'")
                template = templates[lang]
                item = _old_item_text(texts, lang)
                phrases = (phrase_templates.get(item["lang"]) or template).country_phrases or template.country_phrases
                item, n_filled = _old_filled_item(item, country, phrases, lang) if _old_has_placeholder(item) else (item, 0)
                if n_filled:
                    with_placeholder.add(item_id)
                unfilled = bool(n_filled) and country == NO_PERSONA
                mode = _old_language_mode(country, lang, item["lang"])
                for p_index, para in enumerate(template.paraphrases[:paraphrases]):
                    for order in option_orders:
                        r = _old_render_one(template, para, item, persona, lang, order, stance)
                        rows.append({
                            "study": study, "item_id": item_id, "item_lang": item["lang"],
                            "prompt_lang": lang, "item_in_prompt_lang": item["lang"] == lang,
                            "language_mode": mode, "placeholder_unfilled": unfilled,
                            "condition": cond_name, "persona": persona,
                            "country": country, "template_id": para["id"], "paraphrase": p_index,
                            "option_order": order, "shown_options": r["shown_options"],
                            "labels": r["labels"], "messages": json.dumps(r["messages"], ensure_ascii=False),
                            "messages_verbalized": json.dumps(r["messages_verbalized"], ensure_ascii=False),
                            "prompt_id": _old_prompt_id(r["messages"], r["labels"], r["shown_options"]),
                            "template_sha": template.sha, "survey_sha": survey_sha,
                        })
    if skipped_native:
        notes.append(
            f"linguistic prompting: no template in the main language of {len(skipped_native)} countries "
            f"({', '.join(sorted(skipped_native))}); they are evaluated under the other conditions only"
        )
    table = pd.DataFrame(rows, columns=prompts.COLUMNS)
    notes += _old_language_notes(table, by_item, with_placeholder)
    return table, notes



def test_first_variant_keeps_one_prompt_row_per_cell():
    table, _ = render()
    first = prompts.first_variant(table)
    cells = ["item_id", "condition", "country", "prompt_lang", "persona"]
    assert first.groupby(cells).size().eq(1).all()
    assert first[cells].drop_duplicates().shape[0] == table[cells].drop_duplicates().shape[0]
    assert (first["paraphrase"] == 0).all() and (first["option_order"] == "listed").all()
