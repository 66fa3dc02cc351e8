"""Another study's released answers, imported as published and scored as the field scores them.

A released-outputs-style file set, written here: CuLEmo answers of one model as JSON arrays, one file
per prompting condition and language (``released/culemo/{condition}/{prompt_lang}_gpt.json``, the
culture in a column), and GlobalOpinionQA answer distributions as JSON arrays, one file per country
(``released/goqa/{country}.json``), each distribution a list in the survey FILE's option order —
including items the importer puts into scale order. The workflow's accuracy and macro-F1 (over every
released row, unreadable answers wrong) and 1 − JS distances must equal the ones computed here by hand
with scikit-learn and SciPy from the files alone.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import f1_score

from culturelens import surveys
from workspace import copy_workflow

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
CULTURES = {"deu": ("DE", "de"), "spn": ("MX", "es")}
GOQA_COUNTRIES = {"Germany": "DE", "Poland": "PL"}
REORDERED = ("In your opinion, do lower income have too much", "Over the past 20 years, do you think equality")


def _culemo_release(work: Path, rng) -> pd.DataFrame:
    """The released rows (with the gold they are scored against), written as JSON arrays."""
    tables = surveys.load("culemo", "culemo", {c: str(ROOT / f"resources/surveys/culemo/{c}.tsv")
                                               for c in ("eng", "deu", "spn")})
    items = tables.items.set_index(["item_id", "lang"])
    gold = tables.labels.set_index(["item_id", "country"])["label"]
    english = list(tables.items["options"].iloc[0])
    ids = [f"culemo-{i:03d}" for i in range(1, 41)]
    made = []
    for code, (country, lang) in CULTURES.items():
        native = list(items.loc[(ids[0], lang), "options"])
        for condition, prompt_lang in (("native_country", lang), ("english_country", "en")):
            for n, item in enumerate(ids):
                right = rng.random() < 0.6
                k = english.index(gold[(item, country)]) if right else int(rng.integers(6))
                answer = (native if prompt_lang != "en" else english)[k].upper()   # case as a model writes it
                if n % 13 == 5:
                    answer = "I cannot answer that."                                 # unreadable: wrong
                made.append({"question": items.loc[(item, prompt_lang), "question"], "culture": code,
                             "prediction": answer, "condition": condition, "prompt_lang": prompt_lang,
                             "item_id": item, "country": country, "gold": english.index(gold[(item, country)]),
                             "predicted": -1 if n % 13 == 5 else k})
    table = pd.DataFrame(made)
    for (condition, prompt_lang), part in table.groupby(["condition", "prompt_lang"]):
        folder = work / "released/culemo" / condition
        folder.mkdir(parents=True, exist_ok=True)
        name = {"de": "deu", "es": "spn", "en": "eng"}[prompt_lang]
        records = part[["question", "culture", "prediction"]].to_dict("records")
        (folder / f"{name}_gpt.json").write_text(json.dumps(records, ensure_ascii=False, indent=1))
    return table


def _goqa_release(work: Path, rng) -> pd.DataFrame:
    """Model distributions over each question's options IN THE FILE'S ORDER, and the humans' (same
    order) they are compared with."""
    source = pd.read_csv(ROOT / "resources/surveys/goqa/global_opinions_sample.csv")
    rows = []
    for question, selections, options in zip(source["question"], source["selections"], source["options"]):
        shares = ast.literal_eval(selections[selections.index("{"): -1])
        options = ast.literal_eval(options)
        if any("Total N" in str(o) for o in options):
            continue
        for name, code in GOQA_COUNTRIES.items():
            human = shares.get(name)
            if human is None or sum(human) <= 0 or len(human) != len(options):
                continue
            if len({r["question"] for r in rows}) >= 12 and not question.startswith(REORDERED):
                continue
            model = rng.dirichlet(np.ones(len(options)))
            rows.append({"question": question, "country": name, "code": code, "options": options,
                         "model": model.tolist(), "human": human})
    table = pd.DataFrame(rows)
    assert sum(table["question"].str.startswith(REORDERED)) >= 2
    (work / "released/goqa").mkdir(parents=True)
    for name, part in table.groupby("country"):
        records = [{"question": r.question, "options": [str(o) for o in r.options], "dist": r.model}
                   for r in part.itertuples()]
        (work / "released/goqa" / f"{name}.json").write_text(json.dumps(records))
    return table


def test_a_released_file_set_is_scored_as_published(tmp_path):
    rng = np.random.default_rng(11)
    (tmp_path / "w").mkdir()
    work = copy_workflow(tmp_path / "w")
    culemo = _culemo_release(work, rng)
    goqa = _goqa_release(work, rng)
    models = {
        "gpt-culemo": {"provider": "imported", "path": "released/culemo/{condition}/{prompt_lang}_gpt.json",
                       "columns": {"question": "item", "culture": "country", "prediction": "label"},
                       "defaults": {"study": "culemo"},
                       "recode": {"condition": {"native_country": "native_persona", "english_country": "cross_national"},
                                  "prompt_lang": {"deu": "de", "spn": "es", "eng": "en"},
                                  "country": {"deu": "DE", "spn": "MX"}}},
        "gpt-goqa": {"provider": "imported", "path": "released/goqa/{country}.json",
                     "columns": {"question": "item", "dist": "distribution"},
                     "defaults": {"study": "goqa", "condition": "cross_national"}},
    }
    extra = {"catalog": {"models": models, "studies": {"goqa": {"keep_non_substantive": True}}}}
    (work / "extra.yaml").write_text(yaml.safe_dump(extra))
    cmd = [SNAKEMAKE, "--cores", "2", "--configfile", "config/config.yaml", "extra.yaml", "--config",
           "studies=[goqa,culemo]", "models=[uniform,gpt-culemo,gpt-goqa]", "countries=[DE,MX,PL]"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]

    # CuLEmo: accuracy and macro-F1 over every released row, the unreadable ones wrong
    scores = pd.read_csv(work / "results/culemo/labels/scores.csv")
    scores = scores[scores["model"] == "gpt-culemo"].set_index(["condition", "country"])
    condition = {"native_country": "native_persona", "english_country": "cross_national"}
    for (released, country), part in culemo.groupby(["condition", "country"]):
        row = scores.loc[(condition[released], country)]
        gold, pred = part["gold"].to_numpy(), part["predicted"].to_numpy()
        assert row["n_rows"] == len(part) and row["n_unreadable"] == (pred == -1).sum() > 0
        assert row["accuracy"] == pytest.approx((gold == pred).mean())
        present = sorted(set(gold) | set(pred[pred >= 0]))
        assert row["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=present, average="macro", zero_division=0))
        read = pred >= 0
        assert row["accuracy_readable"] == pytest.approx((gold[read] == pred[read]).mean())

    # GOQA: 1 − JS distance (base 2) of the released distribution and the humans', both in file order
    cells = pd.read_parquet(work / "results/goqa/alignment.parquet")
    cells = cells[(cells["model"] == "gpt-goqa")].set_index(["item_id", "country"])
    items = surveys.read_table(work / "results/goqa/survey/items.parquet")
    item_of = dict(zip(items["question"], items["item_id"]))
    checked = reordered = 0
    for r in goqa.itertuples():
        human = np.asarray(r.human, float) / sum(r.human)
        expected = 1 - jensenshannon(np.asarray(r.model), human, base=2)
        got = cells.loc[(item_of[r.question], r.code)]
        assert got["js_sim"] == pytest.approx(expected, abs=1e-9), r.question
        assert got["n_variants"] == 1          # one released answer, one observation
        checked += 1
        reordered += r.question.startswith(REORDERED)
    assert checked == len(goqa) and reordered >= 2
    summary = (work / "results/summary.md").read_text()
    assert f"{len(culemo)} scored as {len(culemo)} answers" in summary
