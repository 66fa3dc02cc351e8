"""Structure and script checks for the shipped text resources.

- resources/templates/<lang>.yaml: the prompt templates the renderer reads.
- resources/surveys/vsm2013/translations/<lang>.yaml: machine translations of the 24 VSM 2013 items,
  checked against the authentic English wording in vsm2013_questions_en.csv.

These tests read the files with yaml.safe_load only; they do not import the package, so they pin the
file format itself.
"""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
import yaml

from culturelens.surveys.vsm2013 import split_prompt_text  # the importer's own rule

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "resources" / "templates"
VSM_TRANSLATIONS = ROOT / "resources" / "surveys" / "vsm2013" / "translations"

TEMPLATE_LANGS = ["en", "de", "es", "ar", "hi", "zh", "ja", "pt", "ru", "sw", "am"]
VSM_LANGS = ["de", "es", "ar", "hi", "zh", "ja", "pt", "ru", "sw"]
VSM_IDS = [f"{i:02d}" for i in range(1, 25)]
# the English source of the translations (the authentic VSM 2013 wording)
VSM_EN_CSV_CANDIDATES = [ROOT / "resources" / "surveys" / "vsm2013" / "vsm2013_questions_en.csv"]
VSM_LEAD_IN_EN = "To what extent do you agree or disagree: "

PARAPHRASE_FIELDS = {
    "id", "system", "persona", "user", "instruction", "option_line", "stance_question", "stance_options",
}
# field -> exact set of placeholders it must contain (byte-identical names, no format spec)
PLACEHOLDERS = {
    "system": set(),
    "persona": {"country"},
    "user": {"persona", "question", "options", "instruction"},
    "instruction": set(),
    "option_line": {"label", "option"},
    "stance_question": {"statement"},
}
PROVENANCE_KEYS = {"method", "source_language", "translator", "date", "reviewed"}

# the word for "letter" that every instruction must use (answers are Latin letters A, B, C, ...)
LETTER_WORD = {
    "en": "letter", "de": "Buchstabe", "es": "letra", "pt": "letra", "ru": "букв",
    "ar": "حرف", "hi": "अक्षर", "zh": "字母", "ja": "アルファベット", "sw": "herufi", "am": "ፊደል",
}


# --------------------------------------------------------------------------- script helpers

def _script_of(ch: str) -> str:
    cp = ord(ch)
    if 0x0600 <= cp <= 0x06FF or 0x0750 <= cp <= 0x077F or 0xFB50 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFF:
        return "arabic"
    if 0x0900 <= cp <= 0x097F:
        return "devanagari"
    if 0x0400 <= cp <= 0x04FF:
        return "cyrillic"
    if 0x3040 <= cp <= 0x309F:
        return "hiragana"
    if 0x30A0 <= cp <= 0x30FF:
        return "katakana"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF:
        return "han"
    if 0x1200 <= cp <= 0x139F or 0x2D80 <= cp <= 0x2DDF or 0xAB00 <= cp <= 0xAB2F:
        return "ethiopic"
    if cp < 0x0250 or 0x1E00 <= cp <= 0x1EFF:
        return "latin"
    return "other"


def _letters(text: str) -> list[str]:
    """Letters of the text, without {placeholders}: the script check is about the translated words."""
    text = re.sub(r"\{[a-z_]+\}", " ", text)
    # combining marks (Devanagari vowel signs, Arabic harakat) count with their base letter's script
    return [ch for ch in text if unicodedata.category(ch)[0] in ("L", "M")]


def script_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in _letters(text):
        s = _script_of(ch)
        counts[s] = counts.get(s, 0) + 1
    return counts


def assert_script(lang: str, text: str, where: str) -> None:
    c = script_counts(text)
    total = sum(c.values())
    assert total > 0, f"{where}: no letters"

    def share(*scripts: str) -> float:
        return sum(c.get(s, 0) for s in scripts) / total

    if lang in ("en", "de", "es", "pt", "sw"):
        assert share("latin") >= 0.99, f"{where}: expected Latin script, got {c}"
    elif lang == "ar":
        assert c.get("arabic", 0) > 0 and share("arabic") >= 0.9, f"{where}: expected Arabic script, got {c}"
    elif lang == "hi":
        assert c.get("devanagari", 0) > 0 and share("devanagari") >= 0.9, f"{where}: expected Devanagari, got {c}"
    elif lang == "ru":
        assert c.get("cyrillic", 0) > 0 and share("cyrillic") >= 0.9, f"{where}: expected Cyrillic, got {c}"
    elif lang == "am":
        assert c.get("ethiopic", 0) > 0 and share("ethiopic") >= 0.9, f"{where}: expected Ethiopic script, got {c}"
    elif lang == "zh":
        assert c.get("han", 0) > 0 and share("han") >= 0.9, f"{where}: expected Han characters, got {c}"
        assert c.get("hiragana", 0) == 0 and c.get("katakana", 0) == 0, f"{where}: kana in Chinese text: {c}"
    elif lang == "ja":
        assert share("han", "hiragana", "katakana") >= 0.9, f"{where}: expected Japanese script, got {c}"
        if total >= 8:  # a short label such as the answer cue "回答：" may be all kanji
            assert c.get("hiragana", 0) > 0, f"{where}: Japanese text without hiragana: {c}"
    else:  # pragma: no cover - every language above is listed
        raise AssertionError(f"no script rule for {lang}")


def test_script_check_rejects_wrong_script():
    """The script check itself must catch text in the wrong script."""
    assert_script("ar", "هذه هي الخيارات", "ok")
    assert_script("ja", "次の質問にお答えください", "ok")
    assert_script("am", "አማራጮቹ እነዚህ ናቸው:", "ok")
    for lang, text in [("ar", "Here are the options"), ("hi", "Вот варианты"), ("zh", "次の質問にお答えください"),
                       ("ja", "请回答以下调查问题并选择一个选项"), ("ru", "Here are the options"), ("de", "Вот варианты"),
                       ("am", "Here are the options"), ("am", "ये विकल्प हैं")]:
        with pytest.raises(AssertionError):
            assert_script(lang, text, "wrong")


# --------------------------------------------------------------------------- loading

def load(path: Path):
    assert path.is_file(), f"missing file {path.relative_to(ROOT)}"
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def placeholders(template: str) -> set[str]:
    names = set()
    for _, name, spec, conv in string.Formatter().parse(template):
        if name is None:
            continue
        assert name.isidentifier() and not spec and conv is None, f"odd placeholder {{{name}!{conv}:{spec}}}"
        names.add(name)
    return names


@pytest.fixture(scope="module")
def templates() -> dict[str, dict]:
    return {lang: load(TEMPLATES / f"{lang}.yaml") for lang in TEMPLATE_LANGS}


@pytest.fixture(scope="module")
def vsm() -> dict[str, dict]:
    return {lang: load(VSM_TRANSLATIONS / f"{lang}.yaml") for lang in VSM_LANGS}


@pytest.fixture(scope="module")
def english() -> dict[str, dict]:
    """{item_id: {question, options}} read from vsm2013_questions_en.csv with the rule above."""
    path = next((p for p in VSM_EN_CSV_CANDIDATES if p.is_file()), None)
    if path is None:
        pytest.skip("vsm2013_questions_en.csv not found in " + ", ".join(map(str, VSM_EN_CSV_CANDIDATES)))
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert {"ID", "Prompt Text"} <= set(df.columns), f"{path}: columns {list(df.columns)}"
    out = {}
    for iid, text in zip(df["ID"], df["Prompt Text"]):
        question, options = split_prompt_text(text)
        out[iid.strip().zfill(2)] = {"question": question, "options": options}
    return out


# --------------------------------------------------------------------------- templates

def test_template_files_are_exactly_the_expected_languages():
    found = sorted(p.stem for p in TEMPLATES.glob("*.yaml"))
    assert found == sorted(TEMPLATE_LANGS)
    assert (TEMPLATES / "SOURCE.md").is_file()


@pytest.mark.parametrize("lang", TEMPLATE_LANGS)
def test_template_top_level(templates, lang):
    t = templates[lang]
    assert isinstance(t, dict)
    assert set(t) == {"language", "provenance", "answer_cue", "verbalized_instruction", "country_phrases",
                      "paraphrases"}
    assert t["language"] == lang
    assert isinstance(t["answer_cue"], str) and t["answer_cue"].strip()
    assert placeholders(t["answer_cue"]) == set()
    assert_script(lang, t["answer_cue"], f"{lang}.answer_cue")
    assert placeholders(t["verbalized_instruction"]) == {"example"} and "JSON" in t["verbalized_instruction"]
    assert_script(lang, t["verbalized_instruction"].replace("JSON", ""), f"{lang}.verbalized_instruction")


@pytest.mark.parametrize("lang", TEMPLATE_LANGS)
def test_template_country_phrases(templates, lang):
    """Phrases that replace GlobalOpinionQA's "(survey country)" placeholders in item text in this language."""
    phrases = templates[lang]["country_phrases"]
    assert set(phrases) == {"your_country", "country_leader", "your_country_leader"}
    assert placeholders(phrases["country_leader"]) == {"country"}
    assert placeholders(phrases["your_country"]) == placeholders(phrases["your_country_leader"]) == set()
    for key, text in phrases.items():
        assert_script(lang, text, f"{lang}.country_phrases.{key}")
    assert phrases["your_country_leader"] != phrases["your_country"]


@pytest.mark.parametrize("lang", TEMPLATE_LANGS)
def test_template_provenance(templates, lang):
    p = templates[lang]["provenance"]
    assert isinstance(p, dict) and PROVENANCE_KEYS <= set(p)
    assert p["source_language"] == "en"
    assert isinstance(p["translator"], str) and p["translator"].strip()
    assert isinstance(p["date"], str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", p["date"])
    assert isinstance(p["reviewed"], bool)
    if lang == "en":
        assert p["method"] == "original"
    else:
        assert p["method"] == "machine" and p["reviewed"] is False


@pytest.mark.parametrize("lang", TEMPLATE_LANGS)
def test_template_paraphrases(templates, lang):
    paras = templates[lang]["paraphrases"]
    assert isinstance(paras, list) and len(paras) >= 2
    # paraphrase k of every language translates en-k
    assert len(paras) == len(templates["en"]["paraphrases"])
    assert [p["id"] for p in paras] == [f"{lang}-{k}" for k in range(1, len(paras) + 1)]
    cue = templates[lang]["answer_cue"]
    for p in paras:
        where = f"{lang}:{p.get('id')}"
        assert set(p) == PARAPHRASE_FIELDS, where
        for field, expected in PLACEHOLDERS.items():
            assert isinstance(p[field], str), f"{where}.{field}"
            assert placeholders(p[field]) == expected, f"{where}.{field}: {placeholders(p[field])} != {expected}"
        for field in ("persona", "user", "instruction", "option_line", "stance_question"):
            assert p[field].strip(), f"{where}.{field} is empty"
        assert cue not in p["user"], f"{where}: the answer cue belongs in answer_cue, not in user"
        assert LETTER_WORD[lang] in p["instruction"], f"{where}: the instruction must ask for the letter"
        so = p["stance_options"]
        assert isinstance(so, list) and len(so) == 2 and all(isinstance(s, str) and s.strip() for s in so), where
        assert so[0] != so[1], where
        text = "\n".join([p["system"], p["persona"], p["user"], p["instruction"], p["stance_question"], *so])
        assert_script(lang, text, where)


@pytest.mark.parametrize("lang", TEMPLATE_LANGS)
def test_template_paraphrases_differ(templates, lang):
    paras = templates[lang]["paraphrases"]
    for i in range(len(paras)):
        for j in range(i + 1, len(paras)):
            for field in ("persona", "user", "instruction", "stance_question"):
                assert paras[i][field] != paras[j][field], f"{lang}: {paras[i]['id']} and {paras[j]['id']} share {field}"


@pytest.mark.parametrize("lang", TEMPLATE_LANGS)
def test_template_renders(templates, lang):
    """Render the way the prompt renderer does: persona sentence + blank line, option lines, cue."""
    t = templates[lang]
    for p in t["paraphrases"]:
        options = "\n".join(p["option_line"].format(label=lab, option=opt) for lab, opt in zip("ABC", ["x", "y", "z"]))
        for persona in ("", p["persona"].format(country="Kenya") + "\n\n"):
            user = p["user"].format(persona=persona, question="Q?", options=options, instruction=p["instruction"])
            msg = user + "\n" + t["answer_cue"]
            assert "{" not in msg and "}" not in msg
            assert "A" in options and "C" in options
            if persona:
                assert user.startswith(persona) and "Kenya" in user
        stance = p["stance_question"].format(statement="S.")
        assert "S." in stance


def test_template_option_lines_match_across_languages(templates):
    """Same layout of one option line for paraphrase k in every language."""
    en = [p["option_line"] for p in templates["en"]["paraphrases"]]
    for lang in TEMPLATE_LANGS:
        assert [p["option_line"] for p in templates[lang]["paraphrases"]] == en, lang


# --------------------------------------------------------------------------- VSM 2013 translations

def test_vsm_translation_files_are_exactly_the_expected_languages():
    found = sorted(p.stem for p in VSM_TRANSLATIONS.glob("*.yaml"))
    assert found == sorted(VSM_LANGS)
    assert (VSM_TRANSLATIONS / "SOURCE.md").is_file()


@pytest.mark.parametrize("lang", VSM_LANGS)
def test_vsm_top_level(vsm, lang):
    d = vsm[lang]
    assert isinstance(d, dict) and set(d) == {"language", "provenance", "items"}
    assert d["language"] == lang
    p = d["provenance"]
    assert isinstance(p, dict) and PROVENANCE_KEYS | {"note"} <= set(p)
    assert p["method"] == "machine" and p["source_language"] == "en" and p["reviewed"] is False
    assert isinstance(p["date"], str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", p["date"])
    assert isinstance(p["translator"], str) and p["translator"].strip()
    assert isinstance(p["note"], str) and p["note"].strip()
    # translated from the authentic VSM wording, not from the reworded xlsx
    assert "vsm2013_questions_en.csv" in p["note"] and "xlsx" not in p["note"], p["note"]
    assert "should" not in p["note"], f"{lang}: note still describes the reworded 'should' items"


@pytest.mark.parametrize("lang", VSM_LANGS)
def test_vsm_items(vsm, lang):
    items = vsm[lang]["items"]
    assert isinstance(items, dict)
    assert list(items) == VSM_IDS  # string keys "01".."24", in order
    for iid, item in items.items():
        where = f"vsm {lang}:{iid}"
        assert isinstance(item, dict) and set(item) == {"question", "options"}, where
        q = item["question"]
        assert isinstance(q, str) and q.strip() and q == q.strip(), where
        opts = item["options"]
        assert isinstance(opts, list) and len(opts) == 5, where
        assert all(isinstance(o, str) and o.strip() and o == o.strip() for o in opts), where
        assert len(set(opts)) == 5, f"{where}: scale points must be distinct"
        if int(iid) <= 20:  # items 01..20 are questions in English
            assert q[-1] in "?？؟", f"{where}: question should end with a question mark"
        assert_script(lang, "\n".join([q, *opts]), where)


@pytest.mark.parametrize("lang", VSM_LANGS)
def test_vsm_scales_are_consistent(vsm, lang):
    """Items that share an English answer scale share its translation; item 20 is item 15 reversed
    (in the CSV 15 runs always..never and 20 never..always; test_vsm_english_source checks this)."""
    items = vsm[lang]["items"]
    opts = {iid: items[iid]["options"] for iid in VSM_IDS}
    for group in (VSM_IDS[0:14], ["15", "16"], ["21", "22", "23", "24"]):
        assert all(opts[i] == opts[group[0]] for i in group), f"{lang}: options differ within {group}"
    assert opts["20"] == list(reversed(opts["15"])), f"{lang}: item 20 must be item 15's scale reversed"
    # 17 is "yes, always ... no, never": same middle point as 15 ("sometimes")
    assert opts["17"][2] == opts["15"][2], lang
    # the five scales are different from one another
    scales = {tuple(opts[i]) for i in ("01", "15", "17", "18", "19", "21")}
    assert len(scales) == 6, lang


@pytest.mark.parametrize("lang", VSM_LANGS)
def test_vsm_statements_share_the_lead_in(vsm, lang):
    """Items 21..24: one 'To what extent do you agree or disagree:' lead-in, then the statement."""
    items = vsm[lang]["items"]
    leads = set()
    for iid in ("21", "22", "23", "24"):
        m = re.match(r"^(.+?)[:：]\s*(.+)$", items[iid]["question"])
        assert m, f"{lang}:{iid}: expected '<lead-in>: <statement>'"
        leads.add(m.group(1))
        assert len(m.group(2)) > 10, f"{lang}:{iid}: statement missing"
    assert len(leads) == 1, f"{lang}: lead-ins differ: {leads}"


# --------------------------------------------------------------------------- VSM 2013: English source

def test_vsm_english_source(english):
    """The authentic wording, and the scale structure that test_vsm_scales_are_consistent assumes."""
    assert list(english) == VSM_IDS
    q = {i: english[i]["question"] for i in VSM_IDS}
    opts = {i: english[i]["options"] for i in VSM_IDS}
    assert q["01"] == ("In choosing an ideal job, how important would it be to you to have sufficient time "
                       "for your personal or home life?")
    assert q["15"] == "How often do you feel nervous or tense?"
    assert q["16"] == "Are you a happy person?"
    assert all(q[i].startswith("In choosing an ideal job, how important would it be to you to ") for i in VSM_IDS[:10])
    assert all(q[i].endswith("?") for i in VSM_IDS[:20])
    assert all(q[i].startswith(VSM_LEAD_IN_EN) for i in VSM_IDS[20:])
    assert not any("should a person" in q[i].lower() for i in VSM_IDS)
    assert opts["01"] == ["of utmost importance", "very important", "of moderate importance", "of little importance",
                          "of very little or no importance"]
    assert opts["15"] == ["always", "usually", "sometimes", "seldom", "never"]
    assert opts["17"][0] == "yes, always" and opts["18"][0] == "very good" and opts["19"][0] == "very proud"
    assert opts["20"] == list(reversed(opts["15"])) and opts["20"][0] == "never"
    assert opts["21"][0] == "strongly agree"
    for group in (VSM_IDS[0:14], ["15", "16"], ["21", "22", "23", "24"]):
        assert all(opts[i] == opts[group[0]] for i in group), group
    assert opts["17"][2] == opts["15"][2]
    assert len({tuple(opts[i]) for i in ("01", "15", "17", "18", "19", "21")}) == 6


@pytest.mark.parametrize("lang", VSM_LANGS)
def test_vsm_translation_matches_english(vsm, english, lang):
    """Each translation has the English items, the same number of options per item, and the same
    scale structure: one English answer label has one translation, distinct labels stay distinct."""
    items = vsm[lang]["items"]
    assert len(items) == len(english) and list(items) == list(english)
    label_map: dict[str, str] = {}
    for iid, en in english.items():
        tr = items[iid]
        where = f"vsm {lang}:{iid}"
        assert len(tr["options"]) == len(en["options"]), f"{where}: {len(tr['options'])} options, English has {len(en['options'])}"
        if en["question"].endswith("?"):
            assert tr["question"][-1] in "?？؟", f"{where}: the English is a question"
        if en["question"].startswith(VSM_LEAD_IN_EN):
            assert re.match(r"^.+?[:：]\s*\S", tr["question"]), f"{where}: expected '<lead-in>: <statement>'"
        for en_label, tr_label in zip(en["options"], tr["options"]):
            assert label_map.setdefault(en_label, tr_label) == tr_label, (
                f"{where}: '{en_label}' is '{tr_label}' here but '{label_map[en_label]}' elsewhere")
    assert len(set(label_map.values())) == len(label_map), f"{lang}: two English labels share one translation"
