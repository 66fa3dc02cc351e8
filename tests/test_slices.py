"""Slices are targets (issue 8): adding a country, rerunning one country or running two slices at
once touch only that slice's files, pay for nothing twice, and the study-wide tables equal a
from-scratch run's. Runs the real workflow with an API model against the local OpenAI-compatible
test server, which counts the requests it receives."""

import hashlib
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workspace import copy_workflow

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
MODEL_NAMES = ("uniform", "oracle", "fake-api")
MODELS = f"models=[{','.join(MODEL_NAMES)}]"
STUDIES = "studies=[goqa,wvs_stance]"
STUDY_WIDE = ("goqa/alignment.parquet", "wvs_stance/alignment.parquet", "goqa/robustness/steerability.csv",
              "goqa/stats/alignment_by_condition.csv", "wvs_stance/robustness/us_centric_gap.csv")

pytestmark = pytest.mark.e2e


def snakemake(workdir, *args, countries, config=(), check=True):
    cmd = [SNAKEMAKE, "--cores", "2", *args, "--configfile", "config/config.yaml", "api.yaml",
           "--config", f"countries=[{','.join(countries)}]", "paraphrases=1", MODELS, STUDIES, *config]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1200)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def workspace(path, server):
    copy_workflow(path)
    api = {"catalog": {"models": {"fake-api": {
        "provider": "litellm", "model": "openai/fake-model", "api_base": server.url,
        "elicitation": {"method": "logprobs", "top_logprobs": 10},
        "limits": {"max_concurrency": 8, "backoff_base_s": 0.05}}}}}
    (path / "api.yaml").write_text(yaml.safe_dump(api))
    return path


def snapshot(root):
    """path → (mtime_ns, sha256) of every file under results/."""
    return {str(p.relative_to(root / "results")): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted((root / "results").rglob("*")) if p.is_file()}


def keys(root, model, shards=None):
    files = sorted((root / "results/answers" / model).glob("*.parquet"))
    return {k for f in files if shards is None or f.stem in shards
            for k in pd.read_parquet(f, columns=["key"])["key"]}


def of_shard(path: str, shard: str) -> bool:
    """Is this results/ path one of the shard's own files?"""
    p = Path(path)
    return p.stem == shard and p.parent.name in ("prompts", "fake-api")


@pytest.fixture(scope="module")
def server():
    from openai_server import FakeOpenAIServer, ServerConfig

    with FakeOpenAIServer(ServerConfig(latency_s=0.01)) as srv:
        yield srv


@pytest.fixture(scope="module")
def added(tmp_path_factory, server):
    """A study run for NL and US, then GB added to it."""
    work = workspace(tmp_path_factory.mktemp("slices"), server)
    snakemake(work, countries=["NL", "US"])
    state = {"work": work, "count_before": server.count(), "keys_before": keys(work, "fake-api"),
             "before": snapshot(work)}
    snakemake(work, countries=["NL", "US", "GB"])
    state.update(count_after=server.count(), after=snapshot(work))
    return state


def test_adding_a_country_sends_only_its_new_prompts(added):
    work = added["work"]
    new = keys(work, "fake-api") - added["keys_before"]
    assert new, "GB brought no new prompts: the test would prove nothing"
    assert added["count_after"] - added["count_before"] == len(new)      # each new request once, nothing old
    assert new <= keys(work, "fake-api", {"GB", "none"})
    gb = pd.read_parquet(work / "results/answers/fake-api/GB.parquet")
    assert set(gb["country"]) == {"GB"} and (gb["status"] == "ok").all()


def test_adding_a_country_leaves_the_other_countries_files_untouched(added):
    before, after = added["before"], added["after"]
    mine = [p for p in before if of_shard(p, "NL") or of_shard(p, "US")]
    assert len(mine) >= 2 * (2 + 1)     # prompts of two studies and the API model's answers, per country
    for path in mine:
        assert after[path] == before[path], path
    assert "answers/fake-api/GB.parquet" in after and "answers/fake-api/GB.parquet" not in before


def test_study_wide_tables_equal_a_run_from_scratch(added, tmp_path, server):
    fresh = workspace(tmp_path, server)
    snakemake(fresh, countries=["NL", "US", "GB"])
    for name in STUDY_WIDE:
        read = pd.read_parquet if name.endswith(".parquet") else pd.read_csv
        pd.testing.assert_frame_equal(read(added["work"] / "results" / name), read(fresh / "results" / name),
                                      obj=name)


def test_rerunning_one_country_touches_only_its_files(added, server):
    """Forcing one country's slice re-renders and re-answers it (from the store: nothing is sent);
    every other file keeps its content and modification time; the next full run recomputes the
    study-wide tables, equal to before."""
    work = added["work"]
    count, before = server.count(), snapshot(work)
    tables = {n: pd.read_parquet(work / "results" / n) for n in STUDY_WIDE if n.endswith(".parquet")}
    # the target first: --forcerun takes every name after it
    snakemake(work, "results/slices/country/NL.tsv", "--forcerun", "render_prompts", "query_model",
              countries=["NL", "US", "GB"])
    after = snapshot(work)
    assert server.count() == count
    changed = {p for p in after if after[p] != before.get(p)}
    assert changed == {p for p in after if of_shard(p, "NL")} | {"slices/country/NL.tsv"}, sorted(changed)
    slice_table = pd.read_csv(work / "results/slices/country/NL.tsv", sep="\t")
    # reference respondents answer whole studies in one job each: not part of a country slice
    assert set(slice_table["model"]) == {"fake-api"} and set(slice_table["shard"]) == {"NL"}
    assert slice_table["ok"].sum() > 0
    snakemake(work, countries=["NL", "US", "GB"])
    for name, table in tables.items():
        pd.testing.assert_frame_equal(pd.read_parquet(work / "results" / name), table, obj=name)
    dry = snakemake(work, "-n", countries=["NL", "US", "GB"])
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_two_slices_at_once_never_pay_twice(added, server):
    """US and GB slices in two Snakemake processes at once, into an empty store: they share
    requests (English prompts without a persona are the same for both), the store's lock makes
    the second job wait and find the first one's answers, so each request is sent once."""
    work = added["work"]
    shared = keys(work, "fake-api", {"US"}) & keys(work, "fake-api", {"GB"})
    assert shared, "the two slices share no request: the test would prove nothing"
    count = server.count()
    server.config.latency_s = 0.2   # the jobs take long enough to overlap whatever their start-up times
    procs = {}

    def run(country):
        procs[country] = snakemake(work, f"results/slices/country/{country}.tsv", "--forcerun", "query_model",
                                   countries=["NL", "US", "GB"], config=["store=store-concurrent"], check=False)

    threads = [threading.Thread(target=run, args=(c,)) for c in ("US", "GB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.config.latency_s = 0.01
    for country, proc in procs.items():
        assert proc.returncode == 0, f"{country}:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    both = keys(work, "fake-api", {"US", "GB"})
    assert server.count() - count == len(both)          # the shared requests were sent once
    logs = [(work / f"logs/answers/fake-api/{c}.log").read_text() for c in ("US", "GB")]
    assert any("waiting for the response store of fake-api" in log for log in logs), "the jobs did not overlap"
