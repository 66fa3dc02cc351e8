"""Several files per imported model, values from the path, JSON arrays, and question texts matched as
the survey importers match them (culturelens.answer_files, culturelens.imported)."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from culturelens import answer_files, imported, surveys
from culturelens.config import check
from culturelens.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
CULEMO = {c: str(ROOT / f"resources/surveys/culemo/{c}.tsv") for c in ["eng", "deu"]}
CONDITIONS = ["default", "cross_national", "native_persona"]


@pytest.fixture(scope="module")
def culemo():
    tables = surveys.load("culemo", "culemo", CULEMO)
    view, _ = surveys.substantive_view(tables.items, tables.targets, True)
    return tables, view


def _load(files, spec, culemo, **kw):
    tables, view = culemo
    return imported.load(files, spec, "culemo", view, tables.items, CONDITIONS, **kw)


def test_a_glob_with_placeholders_gives_each_file_its_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "released").mkdir()
    for name in ("de_gpt4.json", "en_gpt4.json", "de_claude.jsonl.gz", "notes.txt"):
        (tmp_path / "released" / name).write_text("[]")
    spec = {"provider": "imported", "path": "released/{prompt_lang}_{model}.json"}
    assert answer_files.resolve(spec, "catalog.models.x.path", "c.yaml") == [
        ("released/de_gpt4.json", {"prompt_lang": "de", "model": "gpt4"}),
        ("released/en_gpt4.json", {"prompt_lang": "en", "model": "gpt4"})]
    spec = {"path": ["released/de_*.json*", {"path": "released/en_gpt4.json", "values": {"condition": "default"}}]}
    got = answer_files.resolve(spec, "k", "c.yaml")
    assert got == [("released/de_claude.jsonl.gz", {}), ("released/de_gpt4.json", {}),
                   ("released/en_gpt4.json", {"condition": "default"})]


@pytest.mark.parametrize("path,message", [
    ("released/*.csv", "an existing file of imported answers, or a glob matching at least one"),
    ("released/notes.txt", "a file ending in one of .csv, .tsv, .jsonl"),
    (["released/a.json", "released/*.json"], "each file once"),
    ("released/{lang}_{lang}.json", "each {placeholder} once"),
])
def test_files_that_cannot_be_read_are_refused_at_the_configuration_check(tmp_path, monkeypatch, path, message):
    """Before any job: the config check resolves every imported model's files (a .txt was refused
    only inside the import job, 47 s into a run)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "released").mkdir()
    for name in ("a.json", "notes.txt"):
        (tmp_path / "released" / name).write_text("[]")
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["catalog"]["models"]["published"] = {"provider": "imported", "path": path}
    config["models"] = ["uniform", "published"]
    with pytest.raises(InputError, match=message) as err:
        check(config, "config/config.yaml")
    assert "catalog.models.published.path" in str(err.value)


def test_json_arrays_and_a_file_set_with_values_from_the_path(tmp_path, culemo):
    tables, _ = culemo
    gold = tables.labels.set_index(["item_id", "country"])["label"]
    (tmp_path / "r").mkdir()
    for culture, lang in (("DE", "de"), ("none", "en")):
        rows = [{"id": f"culemo-{i:03d}", "prediction": gold[(f"culemo-{i:03d}", culture)]} for i in (1, 2, 3)]
        (tmp_path / "r" / f"{lang}_{culture}.json").write_text(json.dumps(rows))
    spec = {"path": str(tmp_path / "r/{prompt_lang}_{country}.json"), "columns": {"id": "item", "prediction": "label"},
            "defaults": {"study": "culemo"}, "recode": {"condition": {}, "prompt_lang": {}}}
    files = answer_files.resolve(spec, "k", "c")
    files = [(f, {**v, "condition": "native_persona" if v["country"] == "DE" else "default"}) for f, v in files]
    answers, notes = _load(files, spec, culemo)
    assert len(answers) == 6 and set(answers["prompt_lang"]) == {"de", "en"}
    assert "2 files" in notes[0] and "6 rows read, 6 of study culemo; 6 matched to an item, 6 to a prompt cell; " \
        "6 scored as 6 answers" in notes[0]


def test_recode_maps_released_values_to_culturelens_ones(tmp_path, culemo):
    rows = [{"study": "culemo", "item": "culemo-001", "country": "DE", "condition": "with_country",
             "prompt_lang": "deu", "label": "joy"}]
    pd.DataFrame(rows).to_csv(tmp_path / "a.csv", index=False)
    spec = {"recode": {"condition": {"with_country": "native_persona"}, "prompt_lang": {"deu": "de"}}}
    answers, _ = _load(tmp_path / "a.csv", spec, culemo)
    assert answers[["condition", "prompt_lang"]].values.tolist() == [["native_persona", "de"]]


def test_texts_match_exactly_then_closely_among_unused_items_each_close_match_reported(tmp_path, culemo):
    rows = [
        # a trailing '?' the survey's text lacks: the same text (final punctuation ignored)
        {"item": "How would you feel when your gift opened in front of you?", "label": "neutral"},
        # 'porno' for 'pornographic': a close text, reported
        {"item": "How would you feel when your parent caught you with a porno film?", "label": "guilt"},
        {"item": "Something else entirely that no question asks", "label": "joy"},
    ]
    pd.DataFrame(rows).assign(study="culemo", country="none", condition="default").to_csv(tmp_path / "t.csv", index=False)
    answers, notes = _load(tmp_path / "t.csv", {}, culemo)
    text = "\n".join(notes)
    assert sorted(answers["item_id"]) == ["culemo-002", "culemo-007"]   # by eng.tsv data row
    assert "3 rows read, 3 of study culemo; 2 matched to an item (1 questions by a close text)" in text
    assert "matched by a close text (similarity 0.9" in text and "porno film?' → culemo-007" in text
    assert "item not in the survey (by id, question text or a close text): 1 rows" in text


def test_a_text_two_dataset_rows_share_is_taken_in_file_order(tmp_path, culemo):
    """eng.tsv asks 'didn't touch the feet of elders' twice (culemo-346, culemo-347): a released file
    with one row per dataset row gives its first row to the first item, its second to the second; an
    `item_id` column decides instead where the file has one."""
    tables, view = culemo
    text = tables.items.set_index(["item_id", "lang"]).loc[("culemo-346", "en"), "question"]
    rows = [{"item": text, "label": "anger"}, {"item": text, "label": "joy"}, {"item": text, "label": "fear"}]
    pd.DataFrame(rows).assign(study="culemo", country="DE", condition="cross_national").to_csv(tmp_path / "r.csv",
                                                                                                 index=False)
    answers, notes = _load(tmp_path / "r.csv", {}, culemo)
    got = dict(zip(answers["item_id"], answers["probs"]))
    assert got["culemo-346"][0] == 1 and got["culemo-347"][3] == 1      # anger, then joy
    assert "more rows for a repeated question than the survey has: 1 rows" in "\n".join(notes)
    with_id = pd.DataFrame(rows[:1]).assign(study="culemo", country="DE", condition="cross_national",
                                            item_id="culemo-347")
    with_id.to_csv(tmp_path / "id.csv", index=False)
    answers, _ = _load(tmp_path / "id.csv", {}, culemo)
    assert answers["item_id"].tolist() == ["culemo-347"]


def test_the_counts_add_up_with_one_line_per_reason(tmp_path, culemo):
    rows = [{"item": f"culemo-{i:03d}", "label": "joy", "country": "DE", "condition": "cross_national"} for i in range(1, 6)]
    rows += [{"item": "culemo-999", "label": "joy", "country": "DE", "condition": "cross_national"}] * 3
    rows += [{"item": "culemo-001", "label": "joy", "country": "MX", "condition": "cross_national"},
             {"item": "culemo-002", "label": "no such label", "country": "DE", "condition": "linguistic"}]
    pd.DataFrame(rows).assign(study="culemo").to_csv(tmp_path / "c.csv", index=False)
    asked = {(f"culemo-{i:03d}", "DE", "cross_national", "en") for i in range(1, 5)}
    pairs = {(f"culemo-{i:03d}", "DE") for i in range(1, 6)}
    answers, notes = _load(tmp_path / "c.csv", {}, culemo, prompt_keys=asked, survey_pairs=pairs)
    text = "\n".join(notes)
    assert "10 rows read, 10 of study culemo; 7 matched to an item, 4 to a prompt cell; 4 scored as 4 answers" in text
    reasons = [line for line in notes if line.startswith("  not used")]
    counts = [int(line.split(" rows, e.g.")[0].rsplit(": ", 1)[1]) for line in reasons]
    assert sum(counts) + 4 == 10
    assert len(reasons) == 4          # one line per reason, not one per item
    assert "item not in the survey (by id, question text or a close text): 3 rows" in text


def test_a_released_answer_naming_no_label_is_scored_as_unreadable_not_dropped(tmp_path, culemo):
    """As the CuLEmo paper and SemEval score them: a released answer outside the label set, a refusal
    or two labels is one of the rows scored (wrong), with its kind."""
    rows = [{"item": "culemo-001", "label": "happiness"}, {"item": "culemo-002", "label": "As an AI I cannot feel"},
            {"item": "culemo-003", "label": "joy or anger"}, {"item": "culemo-004", "label": "Freude"}]
    pd.DataFrame(rows).assign(study="culemo", country="DE", condition="cross_national").to_csv(tmp_path / "u.csv",
                                                                                                 index=False)
    answers, notes = _load(tmp_path / "u.csv", {}, culemo)
    assert answers.set_index("item_id")["unreadable"].to_dict() == {
        "culemo-001": "no_label", "culemo-002": "refusal", "culemo-003": "ambiguous", "culemo-004": ""}
    assert "4 scored as 4 answers (3 of them naming no option, scored as unreadable: 1 no_label, 1 refusal, " \
           "1 ambiguous)" in notes[0]


def _items(rows):
    """A tiny survey: rows (item_id, question, options, source_index, options_mismatch)."""
    raw = pd.DataFrame([{"study": "s", "item_id": i, "lang": "en", "question": q, "options": o,
                         "non_substantive": [False] * len(o), "source_options": [f"s{j}" for j in range(len(x))],
                         "source_index": x, "options_mismatch": m} for i, q, o, x, m in rows])
    view = raw[~raw["options_mismatch"]].assign(kept_options=lambda t: [list(range(len(o))) for o in t["options"]])
    return view, raw


def test_review_cases_a_left_out_twin_float_numbers_merged_codes_and_draws(tmp_path):
    view, raw = _items([("A", "Same text?", ["x", "y"], [0, 1], False),
                        ("B", "Same text", ["x", "y", "z"], [0, 1, 2], True),          # left out of the analysis
                        ("M", "Merged", ["Low", "High"], [0, 0, 1], False),              # codes 1 and 2 merged
                        ("R1", "Repeated", ["x", "y"], [0, 1], False), ("R2", "Repeated", ["x", "y"], [0, 1], False)])
    rows = [{"item": "Same text", "distribution": [0.3, 0.7]}]               # B has no kept options: A, no crash
    pd.DataFrame(rows).assign(study="s", country="none", condition="default").to_json(
        tmp_path / "d.jsonl", orient="records", lines=True)
    answers, _ = imported.load(tmp_path / "d.jsonl", {}, "s", view, raw, ["default"])
    assert answers["item_id"].tolist() == ["A"]
    # a number read from JSON with a null in the column arrives as 2.0; merged codes are one option
    labels = pd.DataFrame([{"item": "Merged", "label": 2, "country": "none"},
                           {"item": "Merged", "label": None, "country": "US"},
                           {"item": "Merged", "label": "Low", "country": "DE"}]).assign(study="s", condition="default")
    labels.to_json(tmp_path / "l.jsonl", orient="records", lines=True)
    answers, _ = imported.load(tmp_path / "l.jsonl", {}, "s", view, raw, ["default"])
    got = answers.set_index("country")
    assert got.loc["none", "probs"] == [1.0, 0.0] and got.loc["DE", "unreadable"] == ""   # not 'ambiguous'
    assert got.loc["US", "unreadable"] == "empty"
    # free-text draws of a repeated question cannot be given out in file order: reported
    draws = pd.DataFrame([{"item": "Repeated", "answer": a} for a in "ABA"]).assign(study="s", country="none",
                                                                                    condition="default")
    draws.to_csv(tmp_path / "a.csv", index=False)
    answers, notes = imported.load(tmp_path / "a.csv", {}, "s", view, raw, ["default"])
    assert answers.empty and "question text of several items" in "\n".join(notes)


def test_prompt_lang_gaps_recode_number_keys_and_double_star_globs(tmp_path, monkeypatch, culemo):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel/sub").mkdir(parents=True)
    row = {"study": "culemo", "item": "culemo-001", "condition": "cross_national", "label": "joy"}
    pd.DataFrame([{**row, "prompt_lang": "en"}]).to_json("rel/DE.json", orient="records")
    pd.DataFrame([row]).to_json("rel/sub/MX.json", orient="records")
    spec = {"path": "rel/**/{country}.json", "recode": {"condition": {1: "x"}}}
    files = answer_files.resolve(spec, "k", "c")
    assert files == [("rel/DE.json", {"country": "DE"}), ("rel/sub/MX.json", {"country": "MX"})]
    answers, _ = _load(files, spec, culemo)
    assert sorted(answers["prompt_lang"]) == ["en", "en"]     # MX's file has no prompt_lang: the default
    pd.DataFrame([{**row, "country": "DE", "condition": 1}]).to_csv("r.csv", index=False)
    answers, _ = _load("r.csv", {"recode": {"condition": {1: "cross_national"}}}, culemo)
    assert answers["condition"].tolist() == ["cross_national"]
