"""A reference respondent's inference job, before and after reference answers stopped going to the store.

What `workflow/scripts/query_model.py` does for `provider: reference` (open the store, build the
respondent from the study's targets, `engine.run` over the study's prompts), run twice (a first run
and a rerun) in a fresh process per variant, measuring the process's CPU time (user + system), peak
resident memory and the bytes written to the store:

- before: `src/` of commit cdb0239 (every reference answer written to store/<model>/*.jsonl and
  read back by the rerun), extracted with `git archive`;
- after: this worktree's `src/` (answered locally every time, nothing stored).

The study is GOQA-like: the shipped GlobalOpinionQA sample's items asked in --countries countries
(synthetic, seeded survey distributions for every (item, country), so the oracle answers every
cross-national and linguistic prompt), rendered with the default conditions, 2 paraphrases × 2
option orders (benchmarks/bench_render.py's set-up). The responses tables of both variants are
checked to be identical (but for latency_s and `cached` on the rerun).

    .venv/bin/python benchmarks/bench_reference.py [--countries 25] [--model oracle]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402
import bench_render  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from culturelens import prompts, templates  # noqa: E402

BEFORE = "cdb0239"
SPECS = {
    "oracle": {"provider": "reference", "respondent": "oracle", "n": 1000, "seed": 20231,
               "elicitation": {"method": "logprobs"}},
    "uniform": {"provider": "reference", "respondent": "uniform", "elicitation": {"method": "logprobs"}},
}

CHILD = r"""
import asyncio, json, resource, sys, time
from pathlib import Path
import pandas as pd
sys.path.insert(0, sys.argv[1])
from culturelens import backends, engine
from culturelens.store import ResponseStore
work, model, spec = Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
prompts = pd.read_parquet(work / "prompts.parquet")
targets = pd.read_parquet(work / "targets.parquet")
out = {}
for run in ("first", "rerun"):
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with ResponseStore(work / "store", model) as store:
        backend = backends.make(model, spec, targets=targets)
        table, stats = engine.run(prompts, backend, store)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    table.drop(columns=["latency_s"]).to_parquet(work / f"responses-{run}.parquet")
    out[run] = {"cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
                "wall_s": time.perf_counter() - t0, "maxrss_mb": r1.ru_maxrss / 1024,
                "store_mb": sum(p.stat().st_size for p in (work / "store").rglob("*") if p.is_file()) / 1e6,
                "line": stats.line()}
print(json.dumps(out))
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--countries", type=int, default=25)
    ap.add_argument("--model", default="oracle", choices=sorted(SPECS))
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="culturelens-bench-reference-"))
    try:
        items, codes = bench_render.study(args.countries)
        rng = np.random.default_rng(7)
        targets = pd.DataFrame([
            {"study": "goqa", "item_id": rec.item_id, "country": c, "option_index": i, "share": s, "n": np.nan,
             "survey_name": c}
            for rec in items.drop_duplicates("item_id").itertuples() for c in codes
            for i, s in enumerate(rng.dirichlet(np.ones(len(rec.options))))])
        shipped = templates.load_dir(_bench.ROOT / "resources" / "templates")
        table, _ = prompts.render(items, {i: codes for i in items["item_id"].unique()}, study="goqa", stance=False,
                                  conditions=bench_render.CONDITIONS, templates=shipped, paraphrases=2,
                                  option_orders=["listed", "reversed"], survey_sha="bench", phrase_templates=shipped)
        print(f"bench_reference: {args.model} over {len(table):,} prompt rows ({table['prompt_id'].nunique():,} "
              f"distinct prompts; {len(codes)} countries), one process per variant")
        print(f"  {_bench.machine()}")
        print()
        old_src = tmp / "before-src"
        old_src.mkdir()
        archive = subprocess.run(["git", "-C", str(_bench.ROOT), "archive", BEFORE, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive, check=True)
        results = {}
        for variant, src in (("before", old_src / "src"), ("after", _bench.ROOT / "src")):
            work = tmp / variant
            work.mkdir()
            table.to_parquet(work / "prompts.parquet")
            targets.to_parquet(work / "targets.parquet")
            proc = subprocess.run([sys.executable, "-c", CHILD, str(src), str(work), args.model,
                                   json.dumps(SPECS[args.model])], capture_output=True, text=True, check=True)
            results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
        header = f"{'variant':<7}  {'run':<5}  {'CPU s':>6}  {'wall s':>6}  {'peak RSS MB':>11}  {'store MB':>8}  RunStats line"
        print(header)
        print("-" * len(header))
        for variant, runs in results.items():
            for run, r in runs.items():
                print(f"{variant:<7}  {run:<5}  {r['cpu_s']:>6.2f}  {r['wall_s']:>6.2f}  {r['maxrss_mb']:>11,.0f}  "
                      f"{r['store_mb']:>8,.1f}  {r['line'].split(': ', 1)[1]}")
        b, a = results["before"], results["after"]
        print()
        for run in ("first", "rerun"):
            print(f"{run}: CPU {b[run]['cpu_s'] / a[run]['cpu_s']:.1f}× less after "
                  f"({b[run]['cpu_s']:.2f} → {a[run]['cpu_s']:.2f} s)")
        print(f"peak RSS of the job (both runs): {b['rerun']['maxrss_mb']:,.0f} → {a['rerun']['maxrss_mb']:,.0f} MB; "
              f"store: {b['rerun']['store_mb']:,.1f} → {a['rerun']['store_mb']:,.1f} MB "
              f"(~{b['rerun']['store_mb'] / len(table) * 1e3:,.2f} KB per prompt row before)")
        for run in ("first", "rerun"):
            old = pd.read_parquet(tmp / "before" / f"responses-{run}.parquet").drop(columns=["cached"])
            new = pd.read_parquet(tmp / "after" / f"responses-{run}.parquet").drop(columns=["cached"])
            same = old.equals(new)
            print(f"responses tables identical before/after ({run}, but for `cached`): {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
