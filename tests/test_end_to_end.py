"""Runs the real Snakemake workflow on a small configuration in a temporary directory."""

import ast
import re
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from workspace import copy_workflow

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
COUNTRIES = "[US,JP,DE,BR,NL,GB,MX,KE,AR]"

pytestmark = pytest.mark.e2e


def snakemake(workdir, *args, config=(), check=True):
    cmd = [SNAKEMAKE, "--cores", "2", *args, "--config", f"countries={COUNTRIES}", "paraphrases=1", *config]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    copy_workflow(work)
    snakemake(work)
    return work


def test_results_tree(run):
    for study in ("goqa", "vsm2013", "wvs_stance"):
        for f in ("survey/items.parquet", "survey/targets.parquet", "prompts.parquet", "prompts/none.parquet",
                  "prompts/NL.parquet", "responses/oracle.parquet", "distributions/uniform.parquet"):
            assert (run / "results" / study / f).is_file(), f"{study}/{f}"
    # prompts per country shard (and `none`); reference respondents have no answer files
    shards = {p.stem for p in (run / "results").glob("*/prompts/*.parquet")}
    assert shards == {"none", *COUNTRIES.strip("[]").split(",")}
    assert not (run / "results/answers").exists()
    for f in ("goqa/alignment.parquet", "wvs_stance/alignment.parquet", "vsm2013/hofstede/correlations.csv",
              "goqa/stats/alignment_by_condition.csv", "vsm2013/stats/hofstede_error.txt",
              "goqa/figures/models_vs_baselines.png", "goqa/figures/heatmap_oracle.png",
              "vsm2013/figures/hofstede_scatter.png", "summary.md", "manifest.json"):
        assert (run / "results" / f).is_file(), f
    assert "oracle" in (run / "results/summary.md").read_text()


def test_label_task_scored_against_each_cultures_gold(run):
    """CuLEmo runs in the default workflow: every answer is scored against the gold label of its
    culture, the baselines are what they claim, and the logistic model names its engine."""
    pred = pd.read_parquet(run / "results/culemo/labels/predictions.parquet")
    gold = pd.read_parquet(run / "results/culemo/survey/labels.parquet")
    # the selected countries with CuLEmo data (DE, MX) and `none` (English annotation, default prompting)
    assert set(pred["country"]) == {"DE", "MX", "none"}
    assert set(pred["condition"]) == {"default", "cross_national", "linguistic", "native_persona"}
    merged = pred.merge(gold, on=["item_id", "country"])
    assert (merged["gold"] == merged["option_index"]).all() and len(merged) == len(pred)
    # in-language rows are in the country's language, English rows name the country
    native = pred[pred["condition"].isin(["linguistic", "native_persona"])]
    assert set(zip(native["country"], native["prompt_lang"])) == {("DE", "de"), ("MX", "es")}
    scores = pd.read_csv(run / "results/culemo/labels/scores.csv").set_index(["model", "condition", "country"])
    assert (scores.loc["oracle", "accuracy"] == 1).all()
    assert scores.loc[("english-label", "default", "none"), "accuracy"] == 1   # it is the English annotation
    assert scores.loc[("uniform", "cross_national", "DE"), "accuracy"] == pytest.approx(1 / 6, abs=0.05)
    # the majority baseline: the share of DE's questions whose gold is DE's most frequent label
    de = gold[gold["country"] == "DE"]["option_index"]
    assert scores.loc[("majority-label", "native_persona", "DE"), "accuracy"] == pytest.approx(
        de.value_counts(normalize=True).iloc[0])
    # the logistic model is about real models (exclude_baselines): with reference respondents only,
    # nothing is fitted, and the output says why
    assert pd.read_csv(run / "results/culemo/stats/correct_by_condition.csv").empty
    assert "not fitted: no model other than the reference respondents" in (
        run / "results/culemo/stats/correct_by_condition.txt").read_text()
    summary = (run / "results/summary.md").read_text()
    assert "### Label task: accuracy and macro-F1" in summary
    for f in ("label_accuracy.png", "label_difference.png", "forest_correct_by_condition.png"):
        assert (run / "results/culemo/figures" / f).is_file()


def test_manifest_names_the_environment(run):
    import hashlib
    import json
    from importlib import metadata

    manifest = json.loads((run / "results/manifest.json").read_text())
    env = manifest["environment"]
    assert env["lock"]["sha256"] == hashlib.sha256((ROOT / "uv.lock").read_bytes()).hexdigest()
    for package in ("pandas", "statsmodels", "snakemake", "litellm"):
        assert env["packages"][package] == metadata.version(package)
    assert env["lock"]["sha256"][:16] in (run / "results/summary.md").read_text()


def test_oracle_beats_uniform(run):
    for study in ("goqa", "wvs_stance"):
        a = pd.read_parquet(run / f"results/{study}/alignment.parquet")
        means = a[a.condition == "cross_national"].groupby("model")["js_sim"].mean()
        assert means["oracle"] > means["uniform"], (study, means.to_dict())
        assert set(a.country) <= set(COUNTRIES.strip("[]").split(","))


def test_uniform_alignment_equals_value_from_the_survey(run):
    a = pd.read_parquet(run / "results/goqa/alignment.parquet")
    uniform = a[a.model == "uniform"].set_index(["item_id", "country", "condition", "prompt_lang"])
    targets = pd.read_parquet(run / "results/goqa/survey/targets.parquet")
    targets = targets[targets.country.isin(COUNTRIES.strip("[]").split(","))]
    assert targets.groupby(["item_id", "country"]).ngroups > 50
    for (item, country), grp in targets.groupby(["item_id", "country"]):
        q = grp.sort_values("option_index")["share"].to_numpy()
        expected = 1 - jensenshannon(np.full(len(q), 1 / len(q)), q, base=2)
        got = uniform.xs((item, country), level=["item_id", "country"])["js_sim"]
        assert np.allclose(got, expected), (item, country)
    # and once straight from the shipped CSV, independent of the importer: Argentina on
    # "Being a housewife …", options [Agree strongly, Agree, Disagree, Strongly disagree, Don't know,
    # No answer, Missing] — the first four are substantive.
    raw = pd.read_csv(ROOT / "resources/surveys/goqa/global_opinions_sample.csv")
    row = raw[raw.question.str.contains("Being a housewife is just as fulfilling")].iloc[0]
    shares = ast.literal_eval(row.selections[row.selections.index("{"):-1])["Argentina"][:4]
    expected = 1 - jensenshannon(np.full(4, 0.25), np.array(shares) / sum(shares), base=2)
    items = pd.read_parquet(run / "results/goqa/survey/items.parquet")
    item_id = items[items.question == row.question].item_id.iloc[0]
    got = uniform.xs((item_id, "AR"), level=["item_id", "country"])["js_sim"]
    assert np.allclose(got, expected)


def test_second_run_does_nothing(run):
    proc = snakemake(run, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_rerun_never_requests_a_stored_response(run):
    """A rerun of inference pays for nothing twice. Reference respondents are free and deterministic:
    answered locally on every run (never sent, never stored) with the same answers; a real model's
    rerun sends nothing (the server counts requests: test_api_model_through_the_whole_workflow)."""
    before = pd.read_parquet(run / "results/wvs_stance/responses/oracle.parquet")
    # that job only (the target first: --forcerun takes every name after it)
    snakemake(run, "results/wvs_stance/responses/oracle.parquet", "--forcerun", "reference_distributions")
    log = (run / "logs/wvs_stance/distributions/oracle.log").read_text()
    assert "sent 0 (0 attempts), 0 from the store, answered locally " in log, log
    assert not list((run / "store").glob("*/*.jsonl"))   # only the reference models ran: nothing stored
    after = pd.read_parquet(run / "results/wvs_stance/responses/oracle.parquet")
    same = [c for c in after.columns if c != "latency_s"]
    pd.testing.assert_frame_equal(before[same].reset_index(drop=True), after[same].reset_index(drop=True))


def test_bad_config_fails_before_any_job_naming_the_key(run):
    proc = snakemake(run, config=["models=[uniform,nope]"], check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "models[1]" in out and "nope" in out
    assert "Traceback" not in out
    proc = snakemake(run, config=["option_orders=[sideways]"], check=False)
    assert proc.returncode != 0 and "sideways" in proc.stdout + proc.stderr


def test_missing_api_key_fails_before_any_job(run):
    import yaml

    (run / "gpt.yaml").write_text(yaml.safe_dump({"catalog": {"models": {"gpt": {
        "provider": "litellm", "model": "openai/gpt-4o-mini", "elicitation": {"method": "logprobs"}}}}}))
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    cmd = [SNAKEMAKE, "--cores", "1", "-n", "--configfile", "config/config.yaml", "gpt.yaml", "--config", "models=[gpt]"]
    proc = subprocess.run(cmd, cwd=run, capture_output=True, text=True, env=env, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "OPENAI_API_KEY" in out and "Traceback" not in out


def test_api_model_through_the_whole_workflow(tmp_path):
    """A litellm model (OpenAI-compatible endpoint: the local test server) beside the baselines."""
    import yaml

    from openai_server import FakeOpenAIServer

    copy_workflow(tmp_path)
    with FakeOpenAIServer() as server:
        extra = {"catalog": {"models": {"fake-api": {
            "provider": "litellm", "model": "openai/fake-model", "api_base": server.url,
            "elicitation": {"method": "logprobs", "top_logprobs": 10},
            "limits": {"max_concurrency": 16, "backoff_base_s": 0.05}}}}}
        (tmp_path / "extra.yaml").write_text(yaml.safe_dump(extra))
        server.inject("500", times=3)
        args = ["--configfile", "config/config.yaml", "extra.yaml"]
        config = ["studies=[wvs_stance]", "models=[uniform,fake-api]"]
        snakemake(tmp_path, *args, config=config)
        a = pd.read_parquet(tmp_path / "results/wvs_stance/alignment.parquet")
        assert set(a.model) == {"uniform", "fake-api"}
        assert not a[a.model == "fake-api"].is_baseline.any()
        responses = pd.read_parquet(tmp_path / "results/wvs_stance/responses/fake-api.parquet")
        assert (responses.status == "ok").all()
        distinct = responses.key.nunique()
        assert server.count() == distinct + 3                    # three 500s retried, nothing else twice
        logs = [p.read_text() for p in sorted((tmp_path / "logs/answers/fake-api").glob("*.log"))]
        assert sum(int(re.search(r"sent (\d+) ", log).group(1)) for log in logs) == distinct
        assert all("failed 0" in log for log in logs)
        # coverage is a headline: the test server leaves ~3 % of the first token off the labels
        cov = pd.read_csv(tmp_path / "results/wvs_stance/coverage/fake-api.csv")
        dist = pd.read_parquet(tmp_path / "results/wvs_stance/distributions/fake-api.parquet")
        per_row = dist.drop_duplicates("prompt_id")
        assert cov["n_rows"].sum() == dist.drop_duplicates(["prompt_id", "country", "condition"]).shape[0]
        assert 0.9 < cov["mean_coverage"].min() < 1 and (cov["n_below_floor"] == 0).all()
        assert per_row["coverage"].max() < 1
        summary = (tmp_path / "results/summary.md").read_text()
        assert "### Coverage: answers on the option labels" in summary and "| fake-api | default | en | logprobs |" in summary
        # a rerun of the inference jobs asks nothing again
        snakemake(tmp_path, "results/wvs_stance/responses/fake-api.parquet", *args, "--forcerun", "query_model",
                  config=config)
        assert server.count() == distinct + 3


def test_a_refused_key_fails_the_job_and_a_plain_rerun_sends_the_refused_requests(tmp_path, monkeypatch):
    """A wrong key: the model's jobs stop at the first refusal and fail with one line naming the model,
    the provider's message and the variable; no answer file is written, so after the key is fixed a
    plain `snakemake` runs the jobs again and sends every request exactly once more."""
    import yaml

    from openai_server import FakeOpenAIServer, ServerConfig

    copy_workflow(tmp_path)
    with FakeOpenAIServer(ServerConfig(api_key="sk-test-right")) as server:
        extra = {"catalog": {"models": {"fake-api": {
            "provider": "litellm", "model": "openai/fake-model", "api_base": server.url,
            "api_key_env": "FAKE_API_KEY", "elicitation": {"method": "logprobs", "top_logprobs": 10},
            "limits": {"max_concurrency": 4}}}}}
        (tmp_path / "extra.yaml").write_text(yaml.safe_dump(extra))
        args = ["--configfile", "config/config.yaml", "extra.yaml"]
        config = ["studies=[wvs_stance]", "models=[uniform,fake-api]", "countries=[NL]"]
        monkeypatch.setenv("FAKE_API_KEY", "sk-test-wrong")
        proc = snakemake(tmp_path, *args, config=config, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, out[-3000:]
        lines = [ln for ln in out.splitlines() if ln.startswith("culturelens: fake-api: the provider refused")]
        assert lines and all("Incorrect API key provided" in ln and "FAKE_API_KEY" in ln for ln in lines), out[-3000:]
        assert "Traceback" not in out
        jobs_run = len(lines)
        assert server.count() <= 4 * jobs_run                      # stopped at the first refusal, not every request
        assert not list((tmp_path / "results/answers/fake-api").glob("*.parquet"))
        refused = server.count()
        monkeypatch.setenv("FAKE_API_KEY", "sk-test-right")
        snakemake(tmp_path, *args, config=config)
        responses = pd.read_parquet(tmp_path / "results/wvs_stance/responses/fake-api.parquet")
        assert (responses.status == "ok").all()
        assert server.count() - refused == responses.key.nunique()


def _snapshot(root):
    """path → (mtime_ns, sha256) of every file under results/."""
    import hashlib

    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted((root / "results").rglob("*")) if p.is_file()}


def test_rerunning_one_model_touches_no_other_models_files(run):
    """Forcing one model's slice re-runs that model's inference (from the store: nothing is paid
    again) and its cells; every other model's files keep their content and mtime, and the next
    full run gives study-wide tables equal to the ones before."""
    snakemake(run)  # up to date first (earlier tests ran other configurations)
    before = _snapshot(run)
    tables = {s: pd.read_parquet(run / f"results/{s}/alignment.parquet") for s in ("goqa", "wvs_stance")}
    snakemake(run, "results/slices/model/oracle.tsv", "--forcerun", "reference_distributions", "query_model")
    snakemake(run)
    after = _snapshot(run)
    for path, stamp in before.items():
        parts = Path(path).parts
        other_answers = parts[1] == "answers" and parts[2] != "oracle"
        per_model = len(parts) >= 4 and parts[2] in ("responses", "distributions", "cells", "position_bias")
        other_heatmap = parts[-1].startswith("heatmap_") and parts[-1] != "heatmap_oracle.png"
        if other_answers or (per_model and not Path(path).name.startswith("oracle")) or other_heatmap:
            assert after[path] == stamp, path
    assert after["results/goqa/responses/oracle.parquet"][0] > before["results/goqa/responses/oracle.parquet"][0]
    assert after["results/goqa/cells/oracle.parquet"][0] > before["results/goqa/cells/oracle.parquet"][0]
    for study, table in tables.items():  # same answers, same study-wide tables (same bytes)
        key = f"results/{study}/alignment.parquet"
        assert after[key][1] == before[key][1], key
        pd.testing.assert_frame_equal(pd.read_parquet(run / key), table)
    dry = snakemake(run, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_reference_answers_do_not_depend_on_the_slice(run):
    """A country's answers are the same whatever the country selection: us-centric answers NL's
    prompts in a run that leaves the US out (it used to abstain), and answering again under
    `countries=[NL]` gives the full run's answers to NL's prompts."""
    files = [run / f"results/goqa/responses/{m}.parquet" for m in ("uniform", "oracle", "pooled", "us-centric")]

    def nl(f):
        table = pd.read_parquet(f)
        table = table[table["country"] == "NL"].drop(columns="latency_s")
        return table.sort_values(["prompt_id", "condition"], ignore_index=True)

    before = [nl(f) for f in files]
    assert all(len(b) for b in before)
    snakemake(run, *[str(f.relative_to(run)) for f in files], "--forcerun", "reference_distributions",
              config=["countries=[NL]"])
    for f, old in zip(files, before):
        pd.testing.assert_frame_equal(old, nl(f), obj=str(f))
    assert set(pd.read_parquet(files[0])["country"]) <= {"NL", "none"}   # the slice was answered
    us = nl(files[-1])
    assert (us[us.condition == "cross_national"].status == "ok").any()
