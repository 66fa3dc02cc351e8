"""The Snakemake profiles: the default workflow profile is really applied; the SLURM profile parses."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workspace import copy_workflow

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
CONFIG = ["--config", "studies=[wvs_stance]", "countries=[NL]", "paraphrases=1", "models=[uniform]"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("profiles")
    return copy_workflow(work, ("Snakefile", "workflow", "profiles", "config", "envs", "resources", "src"))


def _snakemake(work, *args):
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([SNAKEMAKE, *args], cwd=work, capture_output=True, text=True, timeout=600, env=env)


def test_no_profile_left_where_snakemake_does_not_look():
    assert not (ROOT / "workflow/profiles/default").exists()
    assert (ROOT / "profiles/default/config.yaml").is_file()


@pytest.mark.e2e
def test_default_profile_is_applied(work):
    """`rerun-incomplete` from profiles/default: an output left incomplete by a killed job is
    simply rerun; with the profile switched off Snakemake stops and asks what to do."""
    from base64 import urlsafe_b64encode

    target = "results/wvs_stance/survey/items.parquet"
    proc = _snakemake(work, "--cores", "1", *CONFIG, "--", target)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    marker = work / ".snakemake/incomplete" / urlsafe_b64encode(target.encode()).decode()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("{}")   # what Snakemake leaves behind for a job that was killed
    proc = _snakemake(work, "-n", *CONFIG, "--", target)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "workflow specific profile profiles/default" in out and "import_survey" in out
    proc = _snakemake(work, "-n", "--workflow-profile", "none", *CONFIG, "--", target)
    assert proc.returncode != 0 and "IncompleteFilesException" in proc.stdout + proc.stderr


def test_slurm_profile_keys():
    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert "code" not in profile["rerun-triggers"] and "software-env" not in profile["rerun-triggers"]
    assert profile["slurm-init-seconds-before-status-checks"] <= 10
    assert profile["retries"] >= 1 and profile["latency-wait"] > 0
    vllm = profile["set-resources"]["query_vllm"]
    assert vllm["cpus_per_gpu"] > 0 and "cpus_per_task" not in vllm   # the plugin prefers cpus_per_task
    assert "cpus_per_task" not in profile["default-resources"]
    default = yaml.safe_load((ROOT / "profiles/default/config.yaml").read_text())
    assert not {"rerun-triggers", "executor", "jobs", "cores", "default-resources"} & set(default)


@pytest.mark.e2e
def test_slurm_profile_dry_run_assigns_resources(work, tmp_path):
    """A dry run through the shipped profile (EDIT lines filled in) with a vLLM model: the GPU job
    gets the GPU partition, `gpu` and `cpus_per_gpu`; other jobs the defaults."""
    text = (ROOT / "workflow/profiles/slurm/config.yaml").read_text()
    text = text.replace('"CHANGE-ME-GPU"', '"gpu-part"').replace('"CHANGE-ME"', '"cpu-part"')
    (tmp_path / "config.yaml").write_text(text)
    (work / "vllm.yaml").write_text(yaml.safe_dump({"catalog": {"models": {"tiny": {
        "provider": "vllm", "model": "tiny/model", "elicitation": {"method": "logprobs"},
        "serve": {"tensor_parallel_size": 2}}}}}))
    # the per-shard jobs are known once the survey is imported (a checkpoint)
    assert _snakemake(work, "--cores", "1", "--until", "import_survey", *CONFIG).returncode == 0
    proc = _snakemake(work, "-n", "--profile", str(tmp_path), "--configfile", "config/config.yaml", "vllm.yaml",
                      *CONFIG[:-1], "models=[uniform,tiny]")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    block = out[out.index("rule query_vllm:"):]
    block = block[:block.index("\n\n")]
    for expected in ("slurm_partition=gpu-part", "gpu=2", "cpus_per_gpu=8", "mem_mb=64000"):
        assert expected in block, block
    block = out[out.index("rule distributions:"):]
    block = block[:block.index("\n\n")]
    assert "slurm_partition=cpu-part" in block and "mem_mb=2000" in block, block
