"""Faults and crashes, measured (issue 9): the real workflow with one API model (the local test
server) under (a) a 20 % mix of retryable provider faults, rerun plainly until done, and (b) a
SIGKILL of the whole Snakemake run half-way through inference, then a plain rerun; plus a few of
tests/test_bad_input.py's bad inputs. Prints measured figures only (no pass/fail thresholds).

    python benchmarks/bench_reliability.py [--countries NL,US,DE] [--bad-cases 4]   # or: make reliability
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "src", ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from openai_server import FakeOpenAIServer, ServerConfig  # noqa: E402

import reliability as rel  # noqa: E402

MIX = ("429", "500", "503", "hang", "disconnect", "malformed", "truncated")


def same_tables(work: Path, reference: Path) -> bool:
    """Do the alignment and distributions tables equal the quiet run's?"""
    try:
        rel.assert_same_tables(work, reference)
        return True
    except AssertionError:
        return False


def outcome(server: FakeOpenAIServer, work: Path, reference: Path) -> dict:
    """The figures every scenario reports, from the server's counts and the run's answers."""
    got = rel.answers(work)
    status = got.drop_duplicates("key").status
    return {"requests received": server.count(), "unique prompts": got.key.nunique(),
            "duplicates (answered OK more than once)": server.duplicates(),
            "responses lost (no answer at the end)": int((status != "ok").sum()),
            "result parquet unreadable": len(rel.unreadable_parquets(work)),
            "tables equal the quiet run's": same_tables(work, reference)}


def scenario_faults(base: Path, countries, reference: Path, seed: int) -> dict:
    """(a) 20 % of requests fail with a random retryable fault; plain reruns until the study is done."""
    cfg = ServerConfig(fault_rate=0.2, fault_mix=MIX, fault_seed=seed, fault_retry_after=0.1,
                       fault_hang_s=rel.LIMITS["timeout_s"] + 3)
    with FakeOpenAIServer(cfg) as server:
        work = rel.workspace(base / "faults", server.url)
        t0 = time.monotonic()
        runs = rel.run_until_done(work, countries=countries, max_runs=5)
        figures = {"faults injected": dict(sorted(server.faults_injected.items())),
                   "faults injected, total": sum(server.faults_injected.values()),
                   "runs (1 + reruns needed)": len(runs), "last run succeeded": runs[-1].returncode == 0,
                   "wall time, s": round(time.monotonic() - t0)}
        figures.update(outcome(server, work, reference))
    return figures


def scenario_kill(base: Path, countries, reference: Path) -> dict:
    """(b) SIGKILL of Snakemake's process group once a third of the requests are stored, then
    `snakemake --unlock` (if the lock was left) and the same command again."""
    with FakeOpenAIServer(ServerConfig(latency_s=0.25)) as server:
        work = rel.workspace(base / "kill", server.url)
        expected = rel.answers(reference).key.nunique()
        proc = rel.start(work, *rel.TARGETS, countries=countries)
        rel.kill_when_stored(proc, work, records=expected // 3)
        rel.wait_for(lambda: not rel.processes_in(work), 30, what="the killed run's processes to go")
        figures = {"stored at the kill": rel.store_lines(work), "requests received at the kill": server.count(),
                   "lock left (unlocked)": rel.unlock_if_locked(work)}
        server.config.latency_s = 0.0
        rerun = rel.snakemake(work, *rel.TARGETS, countries=countries, check=False)
        figures.update({"rerun succeeded": rerun.returncode == 0,
                        "processes left in the workspace": len(rel.processes_in(work))})
        figures.update(outcome(server, work, reference))
    return figures


def bad_inputs(base: Path, n: int) -> dict:
    """A handful of tests/test_bad_input.py's cases, run as that test runs them: refused (exit code
    non-zero, no traceback, the expected words in the message, nothing left under results/)?"""
    try:
        import test_bad_input as bad
    except ImportError:
        return {"bad-input table": "tests/test_bad_input.py not in this checkout"}
    from workspace import copy_workflow

    (base / "bad").mkdir()
    work = copy_workflow(base / "bad")
    picked = bad.CASES[:: max(1, len(bad.CASES) // n)][:n]
    lines = {}
    for case in picked:
        code, out, left = bad.run_case(work, case)
        missing = [m for m in case[2] if m not in out]
        ok = code != 0 and "Traceback" not in out and not missing and not left
        lines[case[0]] = "refused with a clear message" if ok else f"NOT as expected (exit {code}, lacks {missing})"
    return {"bad-input cases in the table": len(bad.CASES), f"run here ({len(picked)})": lines}


def show(title: str, figures: dict) -> None:
    print(f"\n{title}")
    for name, value in figures.items():
        if isinstance(value, dict) and name.startswith("run here"):
            print(f"  {name}:")
            for case, verdict in value.items():
                print(f"    {case}: {verdict}")
        else:
            print(f"  {name}: {value}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--countries", default="NL,US,DE", help="country shards of the wvs_stance study")
    ap.add_argument("--seed", type=int, default=9, help="seed of the fault mix")
    ap.add_argument("--bad-cases", type=int, default=4, help="bad-input cases to run (0: only count them)")
    args = ap.parse_args(argv)
    countries = args.countries.split(",")
    print(f"culturelens reliability: study {rel.STUDY}, countries {countries}, model {rel.MODEL} (local test "
          f"server), limits {rel.LIMITS}, snakemake --cores 2")
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as tmp:
        base = Path(tmp)
        with FakeOpenAIServer() as quiet:
            reference = rel.workspace(base / "reference", quiet.url)
            rel.snakemake(reference, *rel.TARGETS, countries=countries)
            print(f"quiet reference run: {rel.answers(reference).key.nunique()} unique prompts, "
                  f"{quiet.count()} requests")
        show("(a) 20 % of requests answered with a random retryable fault, plain reruns until done",
             scenario_faults(base, countries, reference, args.seed))
        show("(b) SIGKILL of the Snakemake process group during inference, unlock, plain rerun",
             scenario_kill(base, countries, reference))
        if args.bad_cases:
            show("bad inputs (tests/test_bad_input.py)", bad_inputs(base, args.bad_cases))


if __name__ == "__main__":
    main()
