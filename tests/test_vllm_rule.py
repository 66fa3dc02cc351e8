"""The vLLM rule end to end against a real vLLM server (vllm-cpu) serving a real instruction-tuned
model, SmolLM2-135M-Instruct (tests/vllm_cpu.py: real text, chat template and log-probabilities), and
its failure paths: the server dies mid-run, never becomes healthy, or the job is killed.

Skipped with the reason where vLLM cannot be installed (not x86-64 with AVX2, no disk). Each real server
start costs 35-60 s on two cores, so the tests share one work tree and keep starts few.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from vllm_cpu import smollm2_entry, smollm2_or_skip
from workspace import copy_workflow

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# two countries, ~340 distinct prompts: at SmolLM2's few prompts a second on two cores the run lasts
# long enough to kill the server in the middle of it
CONFIG = ["studies=[wvs_stance]", "models=[uniform,smol]", "countries=[US,GB]",
          "conditions=[default,cross_national]", "paraphrases=1"]

pytestmark = [pytest.mark.vllm, pytest.mark.e2e]


def server_processes() -> list[str]:
    out = subprocess.run(["pgrep", "-af", "vllm.entrypoints.openai.api_server"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def wait_no_server(timeout=15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while server_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    return server_processes()


# the vLLM serving job alone (its inputs are known once the survey is imported: a checkpoint)
SERVED = "results/answers/smol/served.json"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    smollm2_or_skip()
    work = tmp_path_factory.mktemp("vllm")
    copy_workflow(work)
    model = smollm2_entry({"method": "logprobs", "top_logprobs": 5})
    (work / "vllm.yaml").write_text(yaml.safe_dump({"catalog": {"models": {"smol": model}}}))
    broken = {**model, "serve": {**model["serve"], "health_timeout_s": 8}}
    (work / "never_ready.yaml").write_text(yaml.safe_dump({"catalog": {"models": {"smol": broken}}}))
    return work


def snakemake(work, extra_config="vllm.yaml", *args, wait=True):
    # targets and --forcerun first: --configfile would take a target after it for a config file
    cmd = [SNAKEMAKE, "--cores", "2", *args, "--configfile", "config/config.yaml", extra_config, "--config", *CONFIG]
    if not wait:
        return subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=1200)


def stored(work) -> int:
    return sum(len(p.read_text().splitlines()) for p in (work / "store/smol").glob("*.jsonl"))


def test_server_dies_mid_run_then_resume(work):
    """Kill the server once responses flow: the job fails, what arrived stays, a rerun resumes."""
    proc = snakemake(work, "vllm.yaml", SERVED, wait=False)
    deadline = time.monotonic() + 600
    while stored(work) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stored(work) >= 5, proc.stdout.read() if proc.poll() is not None else "no responses within 600 s"
    for line in server_processes():
        os.kill(int(line.split()[0]), signal.SIGKILL)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode != 0, out
    log = (work / "logs/answers/smol/served.log").read_text()
    assert "ServerDied" in log or "server_died" in log or "died" in log, log[-2000:]
    assert not wait_no_server()
    kept = stored(work)
    assert kept >= 5
    # resume: only what is missing is sent
    done = snakemake(work, "vllm.yaml")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    responses = pd.read_parquet(work / "results/wvs_stance/responses/smol.parquet")
    assert (responses.status == "ok").all()
    log = (work / "logs/answers/smol/served.log").read_text()
    assert f"{kept} from the store" in log or kept >= responses.key.nunique(), log[-1500:]


def test_results_in_the_store_and_no_process_left(work):
    """After the full run above: logprob answers through the engine, stored, server gone."""
    responses = pd.read_parquet(work / "results/wvs_stance/responses/smol.parquet")
    assert len(responses) > 50 and (responses.status == "ok").all()
    payload = json.loads(responses.payload.iloc[0])
    top = payload["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert len(top) == 5 and all(t["logprob"] <= 0 for t in top)
    records = [json.loads(line) for p in (work / "store/smol").glob("*.jsonl") for line in p.read_text().splitlines()]
    assert {r["identity"]["provider"] for r in records} == {"vllm"}
    assert all(r["request"]["logprobs"] and r["request"]["top_logprobs"] == 5 for r in records)
    alignment = pd.read_parquet(work / "results/wvs_stance/alignment.parquet")
    invalid = pd.read_parquet(work / "results/wvs_stance/distributions/smol.invalid.parquet")
    # every prompt is either aligned or reported; a real chat model puts mass on the labels
    dist = pd.read_parquet(work / "results/wvs_stance/distributions/smol.parquet")
    assert len(invalid) + dist.drop_duplicates(["prompt_id", "condition", "country"]).shape[0] == len(responses)
    assert "smol" in set(alignment.model) and len(invalid) < len(responses) / 10
    assert any(t["token"].strip() in ("A", "B") for t in top)     # real text: the labels among the first tokens
    assert not wait_no_server()


def test_server_never_healthy(work):
    shutil.rmtree(work / "store/smol", ignore_errors=True)
    result = snakemake(work, "never_ready.yaml", SERVED, "--forcerun", "query_vllm")
    assert result.returncode != 0
    log = (work / "logs/answers/smol/served.log").read_text()
    assert "ServerNotReady" in log or "not ready" in log.lower(), log[-2000:]
    assert not wait_no_server()


def test_job_killed_leaves_no_server(work):
    proc = snakemake(work, "vllm.yaml", SERVED, "--forcerun", "query_vllm", wait=False)
    deadline = time.monotonic() + 300
    while not server_processes() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert server_processes(), "the server never started"
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGTERM)   # what a cluster or Ctrl-C does to the job
    proc.communicate(timeout=120)
    assert not wait_no_server(30)
