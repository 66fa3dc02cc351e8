"""Answers collected elsewhere, imported as a model (culturelens.imported, provider: imported).

The file is written in the layout published GlobalOpinionQA reproductions use: one row per
(question, country) with the model's and the humans' distributions over all of the question's options
as Python list reprs and the per-question similarity 1 − JSD (scipy's natural-log default). Imported
through the whole workflow, the model's per-item js_sim must equal the file's own figure.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.spatial.distance import jensenshannon

from culturelens import imported, surveys
from culturelens.errors import InputError
from culturelens.surveys.common import CountryMapper
from workspace import copy_workflow

ROOT = Path(__file__).resolve().parents[1]
GOQA = ROOT / "resources/surveys/goqa/global_opinions_sample.csv"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
NAMES = {"Britain": "GB", "Japan": "JP", "Germany": "DE", "Brazil": "BR"}


def _official_rows(n_questions=12):
    """(question, country name, human shares over ALL options, options) from the official layout."""
    import ast

    table = pd.read_csv(GOQA)
    out = []
    for _, row in table.iterrows():
        selections = ast.literal_eval(row["selections"][row["selections"].index("{"): -1])
        options = ast.literal_eval(row["options"])
        for name in NAMES:
            if name in selections and sum(selections[name]) > 0 and len(selections[name]) == len(options):
                out.append((row["question"], name, list(selections[name]), options))
        if len({q for q, *_ in out}) >= n_questions:
            break
    return out


def published_file(path: Path, seed: int = 7) -> pd.DataFrame:
    """A reproduction's output: model_probs, human_probs and js_sim per (question, country)."""
    rng = np.random.default_rng(seed)
    rows = []
    for question, country, human, options in _official_rows():
        model = rng.dirichlet(np.ones(len(options)))
        rows.append({"question": question, "country": country, "model_probs": repr([float(x) for x in model]),
                     "human_probs": repr(human), "js_sim": 1 - jensenshannon(model, human)})
    table = pd.DataFrame(rows)
    table.to_csv(path, index=False)
    return table


SPEC = {"provider": "imported", "columns": {"question": "item", "model_probs": "distribution"},
        "defaults": {"study": "goqa", "condition": "cross_national"}}


@pytest.fixture(scope="module")
def goqa():
    tables = surveys.load("goqa", "goqa", {"csv": str(GOQA)})
    items, targets, _ = surveys.exclude_flagged(tables.items, tables.targets)
    return tables.items, items, targets


def _load(path, goqa, keep=True, spec=SPEC):
    raw, items, targets = goqa
    view, _ = surveys.substantive_view(items, targets, keep)
    return imported.load(path, spec, "goqa", view, raw, ["default", "cross_national"], mapper=CountryMapper(path))


def test_published_layout_is_read_by_question_text_and_country_name(tmp_path, goqa):
    file = published_file(tmp_path / "published.csv")
    answers, notes = _load(tmp_path / "published.csv", goqa)
    assert len(answers) == len(file)
    assert set(answers["country"]) <= set(NAMES.values()) and set(answers["condition"]) == {"cross_national"}
    first = answers.iloc[0]
    assert np.isclose(sum(first["probs"]), 1)
    assert f"{len(file)} rows read, {len(file)} of study goqa; {len(file)} matched to an item, {len(file)} to a prompt " \
           f"cell; {len(file)} scored" in notes[0] and len(notes) == 1


def test_non_substantive_options_are_dropped_as_in_the_survey(tmp_path, goqa):
    """With the study dropping "Don't know" etc., the imported answer is renormalised the same way."""
    published_file(tmp_path / "published.csv")
    kept, _ = _load(tmp_path / "published.csv", goqa, keep=False)
    full, _ = _load(tmp_path / "published.csv", goqa, keep=True)
    raw, items, targets = goqa
    view, _ = surveys.substantive_view(items, targets, False)
    kept_of = dict(zip(view["item_id"], view["kept_options"]))
    merged = kept.merge(full, on=imported.KEY, suffixes=("", "_full"))
    assert len(merged) == len(kept)
    for _, row in merged.iterrows():
        part = np.asarray(row["probs_full"])[list(kept_of[row["item_id"]])]
        assert np.allclose(row["probs"], part / part.sum())


def test_rows_that_cannot_be_used_are_named_with_their_row(tmp_path, goqa):
    table = published_file(tmp_path / "published.csv")
    bad = pd.concat([table.iloc[:3],
                     pd.DataFrame([{**table.iloc[0], "model_probs": "[0.5, 0.5]"},          # wrong option count
                                   {**table.iloc[0], "question": "Not a question of this survey"},
                                   {**table.iloc[1], "country": "Atlantis"},
                                   {**table.iloc[2], "country": "India (Current national sample)", "model_probs": "oops"},
                                   table.iloc[1].to_dict()])], ignore_index=True)  # a repeat of row 3
    bad.to_csv(tmp_path / "bad.csv", index=False)
    answers, notes = _load(tmp_path / "bad.csv", goqa)
    text = "\n".join(notes)
    assert "a different number of options than the item's: 1 rows, e.g. " in text and "bad.csv row 5 (2 probabilities" in text
    assert "item not in the survey (by id, question text or a close text): 1 rows" in text and "row 6" in text
    assert "unknown country: 1 rows" in text and "row 7 ('Atlantis')" in text
    assert "a repeated answer for one (item, country, condition, prompt language): none used: 2 rows" in text
    assert "8 rows read, 8 of study goqa; 7 matched to an item, 6 to a prompt cell; 2 scored as 2 answers" in text
    assert len(answers) == 2     # rows 2 and 4; row 3 and its repeat are both left out


def test_labels_and_free_text_answers(tmp_path, goqa):
    raw, items, _ = goqa
    item = items.iloc[0]
    rows = [{"item": item["item_id"], "country": "JP", "label": item["options"][1]},
            {"item": item["item_id"], "country": "DE", "label": "1"},
            {"item": item["item_id"], "country": "BR", "label": "no such option"}]
    pd.DataFrame(rows).to_json(tmp_path / "labels.jsonl", orient="records", lines=True)
    spec = {"provider": "imported", "defaults": {"study": "goqa", "condition": "cross_national"}}
    answers, notes = _load(tmp_path / "labels.jsonl", goqa, spec=spec)
    got = answers.set_index("country")["probs"].to_dict()
    k = len(item["options"])
    assert got["JP"] == list(np.eye(k)[1]) and got["DE"] == list(np.eye(k)[0])
    # an answer naming no option is scored (as unreadable), not left out
    assert got["BR"] == [] and answers.set_index("country").loc["BR", "unreadable"] == "no_label"
    assert "3 scored as 3 answers (1 of them naming no option, scored as unreadable: 1 no_label)" in notes[0]
    texts = [{"item": item["question"], "country": "JP", "answer": a}
             for a in ["B", f"**{item['options'][0]}**.", "B", "no idea"]]
    pd.DataFrame(texts).to_csv(tmp_path / "texts.csv", index=False)
    answers, notes = _load(tmp_path / "texts.csv", goqa, spec=spec)
    probs = answers.iloc[0]["probs"]
    assert probs[0] == pytest.approx(1 / 3) and probs[1] == pytest.approx(2 / 3)   # three draws used
    assert answers.iloc[0]["unreadable"] == ""          # "no idea" is one unreadable draw of four


def test_positions_follow_the_source_files_order_not_the_scale_order(tmp_path, goqa):
    """GOQA lists 'Too much, Not enough, Right amount'; the importer puts them in scale order ('Too
    much, Right amount, Not enough'). A distribution given as a list, an option number and a letter
    are in the source file's order and must land on the same options after the reordering."""
    raw, items, _ = goqa
    amount = raw[raw["question"].str.startswith("In your opinion, do lower income have too much")].iloc[0]
    assert list(amount["options"]) == ["Too much", "Right amount", "Not enough"]
    assert list(amount["source_options"]) == ["Too much", "Not enough", "Right amount"]
    change = raw[[list(o) == ["Increased", "No change", "Decreased", "DK/Refused"] for o in raw["options"]]].iloc[0]
    rows = [{"item": amount["item_id"], "country": "none", "distribution": "[0.40, 0.15, 0.45]"},
            # over the options the study keeps ("DK/Refused" dropped), in the source's order
            {"item": change["item_id"], "country": "none", "distribution": "[0.5, 0.2, 0.3]"}]
    pd.DataFrame(rows).to_csv(tmp_path / "lists.csv", index=False)
    spec = {"provider": "imported", "defaults": {"study": "goqa", "condition": "default"}}
    answers, notes = _load(tmp_path / "lists.csv", goqa, keep=False, spec=spec)
    got = dict(zip(answers["item_id"], answers["probs"]))
    assert got[amount["item_id"]] == pytest.approx([0.40, 0.45, 0.15])   # Too much, Right amount, Not enough
    assert got[change["item_id"]] == pytest.approx([0.5, 0.3, 0.2])      # Increased, No change, Decreased
    picks = [{"item": amount["item_id"], "country": "none", "condition": "default", "label": "2"},
             {"item": amount["item_id"], "country": "none", "condition": "cross_national", "label": "Right amount"}]
    pd.DataFrame(picks).to_csv(tmp_path / "labels.csv", index=False)
    answers, _ = _load(tmp_path / "labels.csv", goqa, spec={"provider": "imported", "defaults": {"study": "goqa"}})
    got = dict(zip(answers["condition"], answers["probs"]))
    assert got["default"] == [0, 0, 1] and got["cross_national"] == [0, 1, 0]   # option 2 listed = Not enough
    letters = [{"item": amount["item_id"], "country": "none", "answer": "B"}]
    pd.DataFrame(letters).to_csv(tmp_path / "letters.csv", index=False)
    answers, _ = _load(tmp_path / "letters.csv", goqa, spec=spec)
    assert answers.iloc[0]["probs"] == [0, 0, 1]                                  # B listed = Not enough


def test_a_file_without_an_answer_column_is_an_input_error(tmp_path, goqa):
    pd.DataFrame([{"item": "x", "country": "JP"}]).to_csv(tmp_path / "none.csv", index=False)
    with pytest.raises(InputError, match="exactly one of"):
        _load(tmp_path / "none.csv", goqa, spec={"provider": "imported", "defaults": {"study": "goqa",
                                                                                    "condition": "default"}})


@pytest.mark.e2e
def test_imported_model_reproduces_the_files_own_js_similarity(tmp_path):
    (tmp_path / "w").mkdir()
    work = copy_workflow(tmp_path / "w")
    file = published_file(work / "published.csv")
    extra = {"catalog": {"models": {"published": {**SPEC, "path": "published.csv"}},
                         "studies": {"goqa": {"keep_non_substantive": True, "js_base": "e"}}}}
    (work / "extra.yaml").write_text(yaml.safe_dump(extra))
    cmd = [SNAKEMAKE, "--cores", "2", "--configfile", "config/config.yaml", "extra.yaml", "--config",
           "studies=[goqa]", "models=[uniform,published]", "conditions=[cross_national]", "paraphrases=1",
           "countries=[GB,JP,DE,BR]"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    cells = pd.read_parquet(work / "results/goqa/alignment.parquet")
    ours = cells[cells["model"] == "published"]
    items = surveys.read_table(work / "results/goqa/survey/items.parquet")
    by_text = dict(zip(items["question"], items["item_id"]))
    expected = file.assign(item_id=file["question"].map(by_text), country=file["country"].map(NAMES))
    merged = expected.merge(ours, on=["item_id", "country"], suffixes=("_file", ""))
    assert len(merged) == len(expected)    # every answer of the file was used and compared
    assert np.allclose(merged["js_sim"], merged["js_sim_file"], atol=1e-9)
    summary = (work / "results/summary.md").read_text()
    n = len(file)
    assert f"published: published.csv: {n} rows read, {n} of study goqa; {n} matched to an item, {n} to a prompt " \
           f"cell; {n} scored as {n} answers" in summary


def test_null_country_other_studies_and_answers_no_prompt_asks_are_reported(tmp_path, goqa):
    raw, items, targets = goqa
    view, _ = surveys.substantive_view(items, targets, True)
    item = items.iloc[0]
    rows = [{"study": "goqa", "item": item["item_id"], "country": None, "condition": "default", "label": "1"},
            {"study": "goqa", "item": item["item_id"], "country": "JP", "condition": "default", "label": "1"},
            {"study": "gqoa", "item": item["item_id"], "country": "JP", "condition": "default", "label": "1"}]
    pd.DataFrame(rows).to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    spec = {"provider": "imported"}
    asked = {(item["item_id"], "none", "default", "en")}
    answers, notes = imported.load(tmp_path / "a.jsonl", spec, "goqa", view, raw, ["default"],
                                   mapper=CountryMapper(tmp_path / "a.jsonl"), prompt_keys=asked)
    assert set(answers["country"]) == {"none"}      # a null country: no target country
    text = "\n".join(notes)
    assert "rows of other studies: {'gqoa': 1}" in text      # a misspelt study is visible
    assert "not used, no prompt of the run for that condition and prompt language: 1 rows" in text
    answers, notes = imported.load(tmp_path / "a.jsonl", spec, "goqa", view, raw, ["default"], prompt_keys=asked,
                                   mapper=CountryMapper(tmp_path / "a.jsonl"), countries=["DE"])
    assert "not used, a country the run does not select (countries): 1 rows" in "\n".join(notes)
    answers, notes = imported.load(tmp_path / "a.jsonl", spec, "goqa", view, raw, ["default"], prompt_keys=asked,
                                   mapper=CountryMapper(tmp_path / "a.jsonl"), survey_pairs=set())
    assert "not used, no survey data for that country on that item: 1 rows" in "\n".join(notes)


@pytest.mark.e2e
def test_imported_label_answers_through_the_logistic_model(tmp_path):
    """Two models' CuLEmo answers collected elsewhere: scored against each culture's gold and fitted by
    the logistic mixed model, whose in-language coefficient has the sign the answers were made with."""
    tables = surveys.load("culemo", "culemo", {c: str(ROOT / f"resources/surveys/culemo/{c}.tsv")
                                               for c in ["eng", "deu", "spn"]})
    gold = tables.labels[tables.labels["country"].isin(["DE", "MX"])]
    names = tables.items["options"].iloc[0]
    rng = np.random.default_rng(3)
    rows = []
    for model, p_native, p_english in [("a", 0.8, 0.5), ("b", 0.6, 0.4)]:
        for g in gold.itertuples(index=False):
            lang = {"DE": "de", "MX": "es"}[g.country]
            for condition, prompt_lang, p in [("native_persona", lang, p_native), ("cross_national", "en", p_english)]:
                right = rng.random() < p
                label = names[g.option_index] if right else names[(g.option_index + 1 + rng.integers(5)) % 6]
                rows.append({"model": model, "study": "culemo", "item": g.item_id, "country": g.country,
                             "condition": condition, "prompt_lang": prompt_lang, "label": label})
    (tmp_path / "w").mkdir()
    work = copy_workflow(tmp_path / "w")
    pd.DataFrame(rows).to_csv(work / "answers.csv", index=False)
    extra = {"catalog": {"models": {m: {"provider": "imported", "path": "answers.csv", "select_model": m}
                                    for m in ("a", "b")}}}
    (work / "extra.yaml").write_text(yaml.safe_dump(extra))
    cmd = [SNAKEMAKE, "--cores", "2", "--configfile", "config/config.yaml", "extra.yaml", "--config",
           "studies=[culemo]", "models=[uniform,a,b]", "countries=[DE,MX]"]   # 2 paraphrases x 2 orders
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # an imported answer is ONE observation, not one per paraphrase x option order: the scores, the
    # predictions the logistic model is fitted on, and the distributions hold each released row once
    pred = pd.read_parquet(work / "results/culemo/labels/predictions.parquet")
    for model in ("a", "b"):
        assert (pred["model"] == model).sum() == sum(r["model"] == model for r in rows)
    assert (pred[pred["model"] == "uniform"].groupby(["item_id", "country", "condition"]).size() == 4).all()
    dist = pd.read_parquet(work / "results/culemo/distributions/a.parquet")
    assert dist.drop_duplicates("prompt_id").groupby(["item_id", "country", "condition"]).size().eq(1).all()
    scores = pd.read_csv(work / "results/culemo/labels/scores.csv").set_index(["model", "condition", "country"])
    assert scores.loc[("a", "native_persona", "DE"), "n_rows"] == sum(
        r["model"] == "a" and r["condition"] == "native_persona" and r["country"] == "DE" for r in rows)
    # the imported label is each released row's: accuracy is the file's
    made = pd.DataFrame(rows).merge(gold.rename(columns={"item_id": "item", "label": "gold_label"}), on=["item", "country"])
    made["correct"] = [names[i] == lab for i, lab in zip(made["option_index"], made["label"])]
    for (model, condition, country), part in made.groupby(["model", "condition", "country"]):
        assert scores.loc[(model, condition, country), "accuracy"] == pytest.approx(part["correct"].mean())
    fit = pd.read_csv(work / "results/culemo/stats/correct_by_condition.csv").set_index("term")
    assert fit["engine"].str.contains("BinomialBayesMixedGLM").all()
    native = [t for t in fit.index if "native_persona" in t]
    assert len(native) == 1 and fit.loc[native[0], "estimate"] > 0.5 and fit.loc[native[0], "ci_low"] > 0
    assert not any("uniform" in t for t in fit.index)     # reference respondents are not in the fit


def test_a_distribution_keyed_by_option_text_in_the_items_own_language(tmp_path):
    tables = surveys.load("culemo", "culemo", {c: str(ROOT / f"resources/surveys/culemo/{c}.tsv") for c in ["eng", "deu"]})
    view, _ = surveys.substantive_view(tables.items, tables.targets, True)
    rows = [{"study": "culemo", "item": "culemo-001", "country": "DE", "condition": "native_persona",
             "prompt_lang": "de", "distribution": '{"freude": 0.75, "wut": 0.25}'},
            {"study": "culemo", "item": "culemo-001", "country": "DE", "condition": "cross_national",
             "distribution": '{"joy": 0.5, "Glück": 0.5}'}]
    pd.DataFrame(rows).to_csv(tmp_path / "d.csv.gz", index=False)
    answers, notes = imported.load(tmp_path / "d.csv.gz", {"provider": "imported"}, "culemo", view, tables.items,
                                   ["native_persona", "cross_national"])
    probs = answers.set_index("condition").loc["native_persona", "probs"]
    assert probs == pytest.approx([0.25, 0, 0, 0.75, 0, 0])     # anger, fear, sadness, joy, guilt, neutral
    assert "not options of item culemo-001" in "\n".join(notes) and "d.csv.gz row 3" in "\n".join(notes)
