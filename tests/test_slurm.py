"""The workflow on a real single-node SLURM cluster, through workflow/profiles/slurm.

tests/slurm/start-slurm.sh installs (Debian packages) and starts munge, MariaDB, slurmdbd, slurmctld
and slurmd; the module stops them afterwards unless they were running before. The profile used is
the shipped one with only its three EDIT lines filled in, exactly as the README tells users to.
Skipped, with the reason, where a cluster cannot be started (not Linux, not root, no Debian packages).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from workspace import WORKFLOW, copy_workflow

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "slurm"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SLURMCI_DIR = os.environ.get("SLURMCI_DIR", "/tmp/slurm-test-cluster")
PARTITION, ACCOUNT = "debug", "ci"   # what start-slurm.sh creates
CONFIG = ["studies=[wvs_stance]", "countries=[US,NL,DK]", "paraphrases=1", "models=[uniform,oracle]"]
EDIT_LINES = {  # placeholder line in the profile -> the test cluster's value
    'slurm_partition: "CHANGE-ME"': f'slurm_partition: "{PARTITION}"',
    'slurm_account: "CHANGE-ME"': f'slurm_account: "{ACCOUNT}"',
    'slurm_partition: "CHANGE-ME-GPU"': f'slurm_partition: "{PARTITION}"',
}

pytestmark = pytest.mark.slurm


def _why_not() -> str | None:
    if not sys.platform.startswith("linux"):
        return "SLURM test needs Linux"
    if os.geteuid() != 0:
        return "SLURM test needs root (it starts munge, MariaDB and the SLURM daemons)"
    if not shutil.which("dpkg-query"):
        return "SLURM test needs a Debian-like system (dpkg, apt-get) for the slurm packages"
    installed = shutil.which("slurmctld") and shutil.which("slurmdbd") and shutil.which("sbatch")
    if not installed and not shutil.which("apt-get"):
        return "SLURM test needs Debian's slurm packages or apt-get to install them"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "SLURM test needs snakemake-executor-plugin-slurm (`make setup` installs it)"
    return None


def _alive(name: str) -> bool:
    pidfile = Path(SLURMCI_DIR) / "run" / f"{name}.pid"
    try:
        return Path(f"/proc/{pidfile.read_text().strip()}/comm").read_text().strip() == name
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster():
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "SLURMCI_DIR": SLURMCI_DIR}
    ours = not _alive("slurmctld")            # stop only a cluster this test started
    proc = subprocess.run(["bash", str(HERE / "start-slurm.sh")], env=env, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        if "apt-get install failed" in proc.stdout + proc.stderr:
            pytest.skip(f"could not install the slurm packages:\n{proc.stdout[-2000:]}")
        raise AssertionError(f"start-slurm.sh failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    yield
    if ours:
        subprocess.run(["bash", str(HERE / "stop-slurm.sh")], env=env, capture_output=True, timeout=300)


def _copy_workflow(dest: Path) -> Path:
    return copy_workflow(dest, WORKFLOW)


def _test_profile(work: Path) -> Path:
    """The shipped profile with its EDIT lines set for the test cluster (and nothing else changed)."""
    text = (ROOT / "workflow/profiles/slurm/config.yaml").read_text()
    for placeholder, value in EDIT_LINES.items():
        assert text.count(placeholder + " ") == 1, f"the profile should have one `{placeholder}` line"
        text = text.replace(placeholder + " ", value + " ")
    assert "CHANGE-ME" not in text
    profile = work / "slurm-test"
    profile.mkdir()
    (profile / "config.yaml").write_text(text)
    return profile


def _snakemake(work: Path, *args, config=(), timeout=900):
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    cmd = [SNAKEMAKE, *args, "--config", *CONFIG, *config]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout, env=env)


def _sacct(run_id: str) -> pd.DataFrame:
    """The run's SLURM jobs (the plugin names every job of a run by its run id)."""
    out = subprocess.run(["sacct", "-n", "-P", "-X", "-S", "now-1days", "--name", run_id,
                          "-o", "JobID,State,ExitCode,Comment"], capture_output=True, text=True, check=True)
    rows = [line.split("|", 3) for line in out.stdout.splitlines() if line.strip()]
    return pd.DataFrame(rows, columns=["job", "state", "exit", "comment"])


def _run_id(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("SLURM run ID:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no SLURM run ID in the output:\n{output[-3000:]}")


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The same slice once locally and once through SLURM."""
    local = _copy_workflow(tmp_path_factory.mktemp("local"))
    t0 = time.monotonic()
    proc = _snakemake(local, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-5000:]
    local_s = time.monotonic() - t0

    slurm = _copy_workflow(tmp_path_factory.mktemp("slurm"))
    profile = _test_profile(slurm)
    t0 = time.monotonic()
    proc = _snakemake(slurm, "--profile", str(profile))
    slurm_s = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    print(f"local run {local_s:.0f} s, SLURM run {slurm_s:.0f} s")
    return local, slurm, profile, out


# rules that run inside the submitting Snakemake (fractions of a second per country shard)
LOCAL_RULES = {"all", "render_prompts", "prompts", "heatmap"}


def test_every_job_ran_as_a_slurm_job(runs):
    _, slurm, _, out = runs
    jobs = _sacct(_run_id(out))
    assert (jobs.state == "COMPLETED").all(), jobs.to_string()
    comments = set(jobs.comment)
    # the short steps in the profile's two groups: the survey import, and everything after inference
    assert any(c.startswith("rule_prepare_") and "import_survey" in c for c in comments), comments
    assert any(c.startswith("rule_analysis_") and "alignment" in c for c in comments), comments
    submitted = out.count("has been submitted with SLURM jobid")
    assert submitted == len(jobs), (submitted, jobs.to_string())
    ran_here = set(re.findall(r"^localrule (\w+):", out, flags=re.M))
    assert ran_here <= LOCAL_RULES, f"ran on the submitting host: {ran_here - LOCAL_RULES}"
    assert {"render_prompts", "prompts"} <= ran_here
    assert (slurm / "results/summary.md").is_file()


def test_results_equal_a_local_run(runs):
    local, slurm, _, _ = runs
    keys = {"alignment": ["model", "item_id", "country", "condition", "prompt_lang"],
            "distributions/oracle": ["prompt_id", "option_index"]}
    for name, key in keys.items():
        a = pd.read_parquet(local / f"results/wvs_stance/{name}.parquet").sort_values(key, ignore_index=True)
        b = pd.read_parquet(slurm / f"results/wvs_stance/{name}.parquet").sort_values(key, ignore_index=True)
        for frame in (a, b):   # lists in cells: compare them as tuples
            for col in frame.columns[frame.dtypes == object]:
                frame[col] = frame[col].map(lambda v: tuple(v) if hasattr(v, "__len__") and not isinstance(v, str) else v)
        pd.testing.assert_frame_equal(a, b, obj=name)
    key = ["prompt_id", "condition", "country", "key"]
    cols = key + ["status", "payload"]
    a = pd.read_parquet(local / "results/wvs_stance/responses/oracle.parquet")[cols].sort_values(key, ignore_index=True)
    b = pd.read_parquet(slurm / "results/wvs_stance/responses/oracle.parquet")[cols].sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(a, b, obj="responses/oracle")
    for f in ("steerability", "us_centric_gap", "rank_correlation"):
        a = pd.read_csv(local / f"results/wvs_stance/robustness/{f}.csv")
        b = pd.read_csv(slurm / f"results/wvs_stance/robustness/{f}.csv")
        pd.testing.assert_frame_equal(a, b, obj=f)


def test_nothing_is_resubmitted_after_a_code_edit(runs):
    _, slurm, profile, _ = runs
    script = slurm / "workflow/scripts/query_model.py"
    script.write_text(script.read_text() + "\n# an edit\n")
    proc = _snakemake(slurm, "--profile", str(profile), "-n", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]


def test_a_failing_job_fails_the_run(runs):
    """A model whose endpoint refuses every connection: its inference job fails at run time on
    the cluster (and once more on the profile's retry); Snakemake reports it and exits non-zero."""
    _, slurm, profile, _ = runs
    (slurm / "dead.yaml").write_text(
        "catalog:\n  models:\n    dead:\n      provider: litellm\n      model: openai/dead\n"
        "      api_base: http://127.0.0.1:9/v1\n      elicitation: {method: logprobs, top_logprobs: 5}\n"
        "      limits: {max_attempts: 1, timeout_s: 5, max_total_s: 30}\n")
    proc = _snakemake(slurm, "--profile", str(profile), "--configfile", "config/config.yaml", "dead.yaml",
                      config=["models=[uniform,oracle,dead]"], timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-4000:]
    assert "Error in group inference" in out and "dead" in out, out[-4000:]
    jobs = _sacct(_run_id(out))
    # the dead model's shard jobs are one bundled SLURM job (group `inference`), failed twice (retries: 1)
    failed = jobs[jobs.comment.str.startswith("rule_inference_")]
    assert len(failed) == 2 and (failed.state == "FAILED").all(), jobs.to_string()
