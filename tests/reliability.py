"""Helpers of the reliability suite (tests/test_reliability.py) and its benchmark
(benchmarks/bench_reliability.py): a workspace whose API model is the local test server, Snakemake
runs that may fail, be rerun or be killed, and the checks made afterwards (what the store holds,
what the server answered, which processes are left)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from workspace import copy_workflow

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
MODEL = "fake-api"
STUDY = "wvs_stance"
#: The limits the suite runs with: a 2 s client timeout (a mixed-in hang lasts longer), fast backoff.
LIMITS = {"max_concurrency": 8, "timeout_s": 2, "backoff_base_s": 0.05, "max_attempts": 8}
#: What each run builds: inference, the distributions and the alignment table (not stats or figures).
TARGETS = (f"results/{STUDY}/alignment.parquet", f"results/{STUDY}/distributions/{MODEL}.parquet")
TABLES = (f"{STUDY}/alignment.parquet", f"{STUDY}/distributions/{MODEL}.parquet")
ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def workspace(path: Path, api_base: str) -> Path:
    """A copy of the workflow in `path` whose model `fake-api` is the server at `api_base`."""
    path.mkdir(parents=True, exist_ok=True)
    copy_workflow(path)
    api = {"catalog": {"models": {MODEL: {
        "provider": "litellm", "model": "openai/fake-model", "api_base": api_base,
        "elicitation": {"method": "logprobs", "top_logprobs": 10}, "limits": LIMITS}}}}
    (path / "api.yaml").write_text(yaml.safe_dump(api))
    return path


def command(*args: str, countries, config=(), cores: int = 2) -> list[str]:
    """The snakemake command line of one run (targets and options in `args`, before --config)."""
    return [SNAKEMAKE, "--cores", str(cores), *args, "--configfile", "config/config.yaml", "api.yaml",
            "--config", f"studies=[{STUDY}]", f"countries=[{','.join(countries)}]", "paraphrases=1",
            f"models=[{MODEL}]", *config]


def snakemake(work: Path, *args: str, countries, config=(), check: bool = True,
              timeout: float = 900) -> subprocess.CompletedProcess:
    """Run Snakemake in `work` to the end; with `check`, fail with its output's tail if it failed."""
    proc = subprocess.run(command(*args, countries=countries, config=config), cwd=work, capture_output=True,
                          text=True, timeout=timeout, env=ENV)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def run_until_done(work: Path, *args: str, countries, max_runs: int = 4) -> list[subprocess.CompletedProcess]:
    """Plain reruns of the same command until one succeeds (README: a job whose requests failed for a
    retryable reason fails after storing what arrived, and the next run retries only those).
    Returns every run; the last one failed if `max_runs` were not enough."""
    runs = []
    for _ in range(max_runs):
        runs.append(snakemake(work, *args, *TARGETS, countries=countries, check=False))
        if runs[-1].returncode == 0:
            break
    return runs


def start(work: Path, *args: str, countries, config=()) -> subprocess.Popen:
    """Start Snakemake in a session (and so a process group) of its own, so it can be killed whole."""
    return subprocess.Popen(command(*args, countries=countries, config=config), cwd=work, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def store_lines(work: Path, store: str = "store") -> int:
    """Complete lines (records) in the model's store segments, read without opening the store."""
    total = 0
    for seg in (work / store / MODEL).glob("*.jsonl"):
        with open(seg, "rb") as fh:
            total += fh.read().count(b"\n")
    return total


def wait_for(condition, timeout: float, interval: float = 0.05, what: str = "a condition") -> None:
    """Poll `condition()` until it holds; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def kill_when_stored(proc: subprocess.Popen, work: Path, records: int, timeout: float = 300) -> None:
    """SIGKILL the whole process group of `proc` once the store holds `records` records (inference
    under way), and reap it."""
    wait_for(lambda: store_lines(work) >= records or proc.poll() is not None, timeout, 0.02,
             f"{records} stored records")
    if proc.poll() is not None:
        raise AssertionError(f"snakemake ended (exit {proc.returncode}) before {records} records were stored")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def unlock_if_locked(work: Path) -> bool:
    """What README says after a SIGKILL: `snakemake --unlock --cores 1` if a lock was left behind."""
    if not list((work / ".snakemake/locks").glob("*.lock")):
        return False
    subprocess.run([SNAKEMAKE, "--unlock", "--cores", "1"], cwd=work, env=ENV, capture_output=True, check=True,
                   timeout=300)
    return True


def processes_in(work: Path) -> list[str]:
    """`pid: command line` of every process (but this one) whose working directory is in `work`."""
    found, root = [], str(work.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:   # gone, a zombie, or not ours to read
            continue
        if cwd == root or cwd.startswith(root + "/"):
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


def answers(work: Path) -> pd.DataFrame:
    """Every shard's answers of the model (results/answers/fake-api/*.parquet)."""
    files = sorted((work / "results/answers" / MODEL).glob("*.parquet"))
    return pd.concat([pd.read_parquet(f, columns=["key", "status"]) for f in files], ignore_index=True)


def unreadable_parquets(work: Path) -> list[str]:
    """results/ parquet files that do not read back whole (a truncated file would be among them)."""
    bad = []
    for path in sorted((work / "results").rglob("*.parquet")):
        try:
            pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any failure to read is what is reported
            bad.append(f"{path.relative_to(work)}: {type(exc).__name__}: {exc}")
    return bad


def tables(work: Path) -> dict[str, pd.DataFrame]:
    """The tables a run's results are compared by: alignment and the model's distributions."""
    return {name: pd.read_parquet(work / "results" / name) for name in TABLES}


def assert_same_tables(work: Path, reference: Path) -> None:
    """The alignment and distributions tables of `work` equal those of `reference`."""
    for name, table in tables(work).items():
        pd.testing.assert_frame_equal(table, pd.read_parquet(reference / "results" / name), obj=name)
