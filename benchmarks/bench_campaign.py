"""A synthetic campaign through the real workflow at 1×, 2×, 4× the countries: planning, run, per rule.

For each scale, a fresh temporary work directory gets a copy of the workflow (Snakefile, workflow/,
config/, envs/, resources/, src/, uv.lock, as tests/test_end_to_end.py does), three generated
generic-format studies (--items four-option items each, default 200; seeded random target shares
for the scale's countries: real ISO codes, the first ones alternating between countries whose main
language has a shipped template and countries whose has none) and a generated --configfile that
replaces studies, models and countries: --models reference respondents (default 20: uniform,
pooled, five fixed_country respondents, the rest oracles with different seeds), the shipped
conditions (default, cross_national, linguistic), 2 paraphrases, option orders listed + reversed,
the shipped analyses. Then, on --cores cores:

- `snakemake -n`: wall and CPU time (planning; before the surveys are imported it cannot list the
  per-country jobs: `import_survey` is a checkpoint), and after the run `snakemake -n --forceall`
  (the whole DAG, every job planned again); the number of jobs the run took;
- the full run: wall time and CPU time of snakemake and all its children (getrusage), and, from
  polling the process tree every 0.2 s (psutil), every job's process: its rule (read from the
  job's script preamble), lifetime, CPU time and peak RSS (the job's process and its children);
- jobs that run inside Snakemake (`run:` local rules: rendering a shard, combining a study's
  prompts, a slice table) have no process: their wall time comes from the last line of their log
  (culturelens.jobs), counted as their CPU time too (an upper bound) and marked `*`;
- per rule: jobs, summed job time and CPU, median job time, largest peak RSS; the dominant rule;
  per-job overhead (median job time of the cheapest rule); results/ and store/ sizes on disk;
- the ratios between scales for planning, rendering (render_prompts), inference (query_model),
  alignment (alignment) and statistics (mixed_model): goal linear in the countries or better.

    .venv/bin/python benchmarks/bench_campaign.py [--countries 5 10 20] [--models 20] [--items 200]
    .venv/bin/python benchmarks/bench_campaign.py --countries 25 50 100      # bigger

Nothing is asserted: the issue's goals are printed beside the measurements as PASS / MISS, judged
at the sizes run (a goal stated for the full campaign is marked as such when it was not run).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import pickle
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import yaml  # noqa: E402

ROOT = _bench.ROOT
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
COPY = ("Snakefile", "workflow", "profiles", "config", "envs", "resources", "src", "uv.lock")
STUDIES = ("camp_a", "camp_b", "camp_c")
OPTIONS = ["Very important", "Rather important", "Not very important", "Not at all important"]
# Countries first used, alternating: main language with a shipped template / without one.
FIRST = ["US", "NL", "JP", "TR", "DE", "SE", "BR", "PL", "EG", "KR", "IN", "IT", "RU", "FR", "KE", "VN",
         "CN", "TH", "MX", "ID"]
FIXED = 5  # fixed_country respondents (for the first countries)
PHASES = [("planning", None), ("rendering", ("render_prompts", "prompts")),
          ("inference", ("reference_distributions", "query_model")),
          ("alignment", ("alignment",)), ("statistics", ("mixed_model",))]
SCRIPT_RE = re.compile(r"\.snakemake/scripts/tmp[^/]*?\.(\w+)\.py$")
PICKLE_RE = re.compile(rb"pickle\.loads\((b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\")\)", re.S)
GIB = 1024 ** 3
# Goals of issue 8 (the full campaign: 100 countries × 200 items × 10 prompt languages × 20 models × 3 studies).
GOAL_RUN_S, GOAL_RSS, GOAL_JOBS, GOAL_PLAN_S = 15 * 60, 2 * GIB, 5000, 15.0


def country_codes(n: int) -> list[str]:
    with open(ROOT / "resources/countries/survey_names.csv", encoding="utf-8") as fh:
        national = sorted({r["code"] for r in csv.DictReader(fh) if r["sample"] == "national" and len(r["code"]) == 2})
    codes = [c for c in FIRST if c in national] + [c for c in national if c not in FIRST]
    if n > len(codes):
        raise SystemExit(f"at most {len(codes)} countries (national codes of resources/countries/survey_names.csv)")
    return codes[:n]


def write_surveys(data: Path, codes: list[str], n_items: int, seed: int) -> dict:
    """Three generic-format studies (items.csv, targets.csv); returns catalog.studies entries."""
    rng = np.random.default_rng(seed)
    catalog = {}
    for s, study in enumerate(STUDIES):
        d = data / study
        d.mkdir(parents=True)
        with open(d / "items.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["item_id", "question", "options", "scale", "source", "topic"])
            for i in range(n_items):
                w.writerow([f"{study}_{i:04d}", f"Study {s + 1}, question {i + 1}: how important is aspect {i + 1} "
                            f"of life to you ({study})?", json.dumps(OPTIONS), "ordinal" if i % 2 else "nominal",
                            "synthetic campaign", f"topic {i % 10}"])
        with open(d / "targets.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["item_id", "country", "option", "share", "n"])
            for i in range(n_items):
                shares = rng.dirichlet(np.ones(len(OPTIONS)), size=len(codes))
                for c, code in enumerate(codes):
                    for k, opt in enumerate(OPTIONS):
                        w.writerow([f"{study}_{i:04d}", code, opt, f"{shares[c, k]:.6f}", 1000])
        catalog[study] = {"format": "generic", "paths": {"items": f"bench_data/{study}/items.csv",
                                                         "targets": f"bench_data/{study}/targets.csv"}}
    return catalog


def models(n: int, codes: list[str]) -> dict:
    """uniform (the analyses' reference level), pooled, fixed_country for the first countries, oracles."""
    out = {"uniform": {"provider": "reference", "respondent": "uniform", "elicitation": {"method": "logprobs"}}}
    if n > 1:
        out["pooled"] = {"provider": "reference", "respondent": "pooled", "elicitation": {"method": "logprobs"}}
    for code in codes[:min(FIXED, len(codes), max(0, (n - 2) // 2))]:
        out[f"fixed-{code}"] = {"provider": "reference", "respondent": "fixed_country", "country": code,
                                "elicitation": {"method": "logprobs"}}
    k = 0
    while len(out) < n:
        k += 1
        out[f"oracle-s{k}"] = {"provider": "reference", "respondent": "oracle", "n": 1000, "seed": 1000 + k,
                               "elicitation": {"method": "logprobs"}}
    return out


def prepare(work: Path, codes: list[str], n_models: int, n_items: int, seed: int) -> Path:
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    catalog = write_surveys(work / "bench_data", codes, n_items, seed)
    cat_models = models(n_models, codes)
    cfg = {"studies": list(STUDIES), "models": list(cat_models), "countries": list(codes),
           "conditions": ["default", "cross_national", "linguistic"], "paraphrases": 2,
           "option_orders": ["listed", "reversed"],
           "catalog": {"studies": catalog, "models": cat_models}}  # merged into config/config.yaml's catalog
    path = work / "bench_config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def snakemake_cmd(cores: int, configfile: Path, *extra: str) -> list[str]:
    return [SNAKEMAKE, "--cores", str(cores), "--configfile", str(configfile), *extra]


def plan(work: Path, cores: int, configfile: Path, *extra: str) -> dict:
    c0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(snakemake_cmd(cores, configfile, "-n", *extra), cwd=work, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, children_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"snakemake -n failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    m = re.findall(r"^total\s+(\d+)", proc.stdout + proc.stderr, re.M)
    return {"wall": wall, "cpu": cpu, "jobs": int(m[-1]) if m else None}


def rule_of(script: str, fallback: str) -> str:
    """The rule of a job, from the pickled `snakemake` object in its script's preamble."""
    try:
        text = Path(script).read_bytes()
        m = PICKLE_RE.search(text)
        return pickle.loads(ast.literal_eval(m.group(1).decode("latin-1"))).rule
    except Exception:  # noqa: BLE001 - script gone or another preamble layout: name the script instead
        return f"{fallback}.py"


class Poller:
    """Every job process (python …/.snakemake/scripts/tmpXXXX.<script>.py) below snakemake: rule,
    first and last time seen, CPU (with its children) and peak RSS (with its children)."""

    def __init__(self, root_pid: int, work: Path):
        self.root, self.work = psutil.Process(root_pid), work
        self.jobs: dict[tuple[int, float], dict] = {}
        self.not_jobs: set[tuple[int, float]] = set()
        self.root_cpu = 0.0

    def poll(self) -> None:
        now = time.time()
        try:
            t = self.root.cpu_times()
            self.root_cpu = t.user + t.system
            procs = self.root.children(recursive=True)
        except psutil.Error:
            return
        for p in procs:
            try:
                key = (p.pid, p.create_time())
                if key in self.not_jobs:
                    continue
                job = self.jobs.get(key)
                if job is None:
                    script = next((a for a in p.cmdline() if SCRIPT_RE.search(a)), None)
                    if script is None:
                        self.not_jobs.add(key)
                        continue
                    path = script if os.path.isabs(script) else str(Path(p.cwd()) / script)
                    job = self.jobs[key] = {"rule": rule_of(path, SCRIPT_RE.search(script).group(1)),
                                            "start": key[1], "last": now, "cpu": 0.0, "rss": 0}
                with p.oneshot():
                    rss, t = p.memory_info().rss, p.cpu_times()
                cpu = t.user + t.system + t.children_user + t.children_system
                for c in p.children(recursive=True):
                    try:
                        rss += c.memory_info().rss
                        ct = c.cpu_times()
                        cpu += ct.user + ct.system
                    except psutil.Error:
                        pass
                job["rss"] = max(job["rss"], rss)
                job["cpu"] = max(job["cpu"], cpu)
                job["last"] = now
            except psutil.Error:
                continue


def run(work: Path, cores: int, configfile: Path, interval: float) -> dict:
    log = open(work / "bench_run.log", "w")
    c0, t0, p0 = children_cpu(), time.perf_counter(), time.process_time()
    proc = subprocess.Popen(snakemake_cmd(cores, configfile), cwd=work, stdout=log, stderr=subprocess.STDOUT)
    poller = Poller(proc.pid, work)
    while proc.poll() is None:
        poller.poll()
        time.sleep(interval)
    wall, cpu, poll_cpu = time.perf_counter() - t0, children_cpu() - c0, time.process_time() - p0
    log.close()
    text = (work / "bench_run.log").read_text()
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed (rc {proc.returncode}), {work / 'bench_run.log'}:\n{text[-4000:]}")
    done = re.findall(r"(\d+) of (\d+) steps \(100%\) done", text)
    rules: dict[str, dict] = {}
    for job in poller.jobs.values():
        r = rules.setdefault(job["rule"], {"jobs": 0, "time": 0.0, "cpu": 0.0, "rss": 0, "times": []})
        dur = job["last"] - job["start"] + interval / 2  # seen until the last poll: half an interval on average
        r["jobs"] += 1
        r["time"] += dur
        r["cpu"] += job["cpu"]
        r["rss"] = max(r["rss"], job["rss"])
        r["times"].append(dur)
    for r in rules.values():
        r["median"] = statistics.median(r["times"])
    inprocess_jobs(work, rules)
    return {"wall": wall, "cpu": cpu, "poll_cpu": poll_cpu, "snakemake_cpu": poller.root_cpu,
            "steps": int(done[-1][1]) if done else None, "rules": rules}


INPROCESS = [("logs/*/prompts/*.log", "render_prompts*"), ("logs/*/prompts.log", "prompts*"),
             ("logs/slices/*/*.log", "slices*")]


def inprocess_jobs(work: Path, rules: dict) -> None:
    """Add the jobs that ran inside Snakemake (wall time from their logs) to `rules`."""
    from culturelens.jobs import JOB_TIME

    for pattern, rule in INPROCESS:
        times = []
        for log in work.glob(pattern):
            last = log.read_text(encoding="utf-8").strip().splitlines()[-1:] or [""]
            if JOB_TIME in last[0]:
                times.append(float(last[0].split(JOB_TIME)[1].split()[0]))
        if times:
            rules[rule] = {"jobs": len(times), "time": sum(times), "cpu": sum(times), "rss": 0, "times": times,
                           "median": statistics.median(times)}


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def prompt_facts(work: Path) -> dict:
    import pandas as pd

    rows, langs = 0, set()
    for study in STUDIES:
        rows += len(pd.read_parquet(work / f"results/{study}/prompts.parquet", columns=["prompt_id"]))
        cl = pd.read_csv(work / f"results/{study}/country_languages.csv")
        col = next((c for c in cl.columns if "lang" in c.lower()), None)
        if col is not None:
            langs |= set(cl[col].dropna().astype(str))
    return {"prompt_rows": rows, "langs": len(langs | {"en"})}


def one_scale(n: int, args) -> dict:
    codes = country_codes(n)
    work = Path(tempfile.mkdtemp(prefix=f"bench_campaign_{n}_", dir=args.tmp))
    try:
        configfile = prepare(work, codes, args.models, args.items, args.seed)
        out = {"countries": n, "plan": plan(work, args.cores, configfile)}
        out["run"] = run(work, args.cores, configfile, args.interval)
        # the whole DAG, now that the surveys are imported (the checkpoint is resolved)
        out["plan_all"] = plan(work, args.cores, configfile, "--forceall")
        out["results_bytes"], out["store_bytes"] = du(work / "results"), du(work / "store")
        out.update(prompt_facts(work))
        return out
    finally:
        if args.keep:
            print(f"  (kept {work})", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def phase(res: dict, rules) -> tuple[float, float]:
    """(wall, CPU) seconds of a phase: planning, or the summed jobs of its rules."""
    if rules is None:   # planning the whole DAG (snakemake -n --forceall after the import)
        return res["plan_all"]["wall"], res["plan_all"]["cpu"]
    found = res["run"]["rules"]
    rs = [found[r] for r in rules if r in found] + [found[r + "*"] for r in rules if r + "*" in found]
    return sum(r["time"] for r in rs), sum(r["cpu"] for r in rs)


def report(results: list[dict], args) -> None:
    T = _bench.table
    print("Per scale (wall on the shared cores; CPU = snakemake and all its children, getrusage):")
    rows = []
    for res in results:
        r = res["run"]
        top = max(r["rules"].items(), key=lambda kv: kv[1]["cpu"])
        cheap = min(((k, v) for k, v in r["rules"].items() if not k.endswith("*")), key=lambda kv: kv[1]["median"])
        big = max(r["rules"].items(), key=lambda kv: kv[1]["rss"])
        rows.append({"n": res["countries"], "rows": res["prompt_rows"], "langs": res["langs"],
                     "pw": res["plan"]["wall"], "pc": res["plan"]["cpu"], "aw": res["plan_all"]["wall"],
                     "ac": res["plan_all"]["cpu"], "jobs": res["run"]["steps"],
                     "rw": r["wall"], "rc": r["cpu"], "smk": r["snakemake_cpu"],
                     "dom": f"{top[0]} ({top[1]['cpu'] / max(sum(x['cpu'] for x in r['rules'].values()), 1e-9):.0%})",
                     "ovh": f"{cheap[1]['median']:.2f} ({cheap[0]})",
                     "rss": f"{big[1]['rss'] / 2**20:,.0f} ({big[0]})",
                     "res": res["results_bytes"] / 2**20, "store": res["store_bytes"] / 2**20})
    print(T(rows, [("n", "countries", "d"), ("rows", "prompt rows", ",d"), ("langs", "prompt langs", "d"),
                   ("pw", "-n wall s", ".1f"), ("pc", "-n CPU s", ".1f"), ("aw", "-n all wall s", ".1f"),
                   ("ac", "-n all CPU s", ".1f"), ("jobs", "jobs", "d"),
                   ("rw", "run wall s", ".1f"), ("rc", "run CPU s", ".1f"), ("smk", "snakemake CPU s", ".1f"),
                   ("dom", "dominant rule (CPU share)", ""), ("ovh", "job overhead s", ""),
                   ("rss", "largest peak RSS MB", ""), ("res", "results MB", ".1f"), ("store", "store MB", ".1f")]))
    print()
    for res in results:
        print(f"Per rule at {res['countries']} countries (job time = job process lifetime, polled every "
              f"{args.interval} s; CPU and RSS include the job's children):")
        rules = res["run"]["rules"]
        tot_cpu = sum(r["cpu"] for r in rules.values())
        rows = [{"rule": k, "jobs": v["jobs"], "time": v["time"], "cpu": v["cpu"], "share": 100 * v["cpu"] / tot_cpu,
                 "med": v["median"], "rss": v["rss"] / 2**20}
                for k, v in sorted(rules.items(), key=lambda kv: -kv[1]["cpu"])]
        rows.append({"rule": "(all jobs)", "jobs": sum(v["jobs"] for v in rules.values()),
                     "time": sum(v["time"] for v in rules.values()), "cpu": tot_cpu, "share": 100.0,
                     "med": None, "rss": max(v["rss"] for v in rules.values()) / 2**20})
        print(T(rows, [("rule", "rule", ""), ("jobs", "jobs", "d"), ("time", "Σ job s", ".1f"),
                       ("cpu", "Σ CPU s", ".1f"), ("share", "CPU %", ".0f"), ("med", "median job s", ".2f"),
                       ("rss", "peak RSS MB", ",.0f")]))
        r = res["run"]
        inside = sum(v["time"] for k, v in rules.items() if k.endswith("*"))
        print(f"  jobs seen (processes polled + in-process logs): {rows[-1]['jobs']}; snakemake's steps: {r['steps']}; "
              f"this benchmark's polling CPU: {r['poll_cpu']:.1f} s")
        print(f"  * = in-process job (wall time from its log: {inside:.1f} s in all; snakemake's process used "
              f"{r['snakemake_cpu']:.1f} s CPU with them)")
        print()
    base = results[0]
    print(f"Ratios to {base['countries']} countries (CPU time; wall in brackets; linear = the countries' ratio):")
    rows = []
    for name, rules in PHASES:
        bw, bc = phase(base, rules)
        row = {"phase": name + (f" ({', '.join(rules)})" if rules else " (snakemake -n --forceall)")}
        for res in results[1:]:
            w, c = phase(res, rules)
            k = res["countries"] / base["countries"]
            row[res["countries"]] = (f"{c / bc:.2f} [{w / bw:.2f}] {'≤' if c / bc <= k else '>'} {k:g}"
                                     if bc > 0 and bw > 0 else "-")
        rows.append(row)
    print(T(rows, [("phase", "phase", "")] + [(r["countries"], f"{r['countries']} countries", "")
                                             for r in results[1:]]))
    print()
    last = results[-1]
    full = last["countries"] >= 100 and args.models >= 20 and args.items >= 200 and last["langs"] >= 10
    size = (f"{last['countries']} countries × {args.items} items × {last['langs']} prompt languages × "
            f"{args.models} models × {len(STUDIES)} studies")
    peak = max(max(v["rss"] for v in res["run"]["rules"].values()) for res in results)
    v = _bench.verdict
    print(f"Goals of issue 8 (measured, not asserted; largest size run: {size}):")
    if full:
        print(f"  {v(last['run']['wall'] < GOAL_RUN_S)}  full campaign on {args.cores} cores in < 15 min: "
              f"{last['run']['wall'] / 60:.1f} min wall ({last['run']['cpu'] / 60:.1f} min CPU)")
    else:
        extra = ""
        if len(results) > 1:  # two-point linear fit of the run's CPU over the countries (an extrapolation)
            prev = results[-2]
            slope = (last["run"]["cpu"] - prev["run"]["cpu"]) / (last["countries"] - prev["countries"])
            cpu100 = last["run"]["cpu"] + slope * (100 - last["countries"])
            extra = (f"; CPU extrapolated linearly from the two largest runs to 100 countries, {args.models} models: "
                     f"~{cpu100 / 60:.0f} min CPU = ~{cpu100 / 60 / args.cores:.0f} min on {args.cores} idle cores "
                     "(an extrapolation, not a measurement)")
        print(f"  n/a   full campaign (100 countries × 200 items × 10 languages × 20 models × 3 studies) on 2 cores "
              f"in < 15 min: not run; largest run {last['run']['wall'] / 60:.1f} min wall, "
              f"{last['run']['cpu'] / 60:.1f} min CPU{extra}")
    print(f"  {v(peak <= GOAL_RSS)}  no job > 2 GiB peak RSS: largest {peak / 2**20:,.0f} MB (at the sizes run)")
    steps = last["run"]["steps"] or 0
    extra = ""
    if len(results) > 1 and last["countries"] < 100:  # jobs grow linearly in the countries (renders per shard)
        prev = results[-2]
        per = (steps - (prev["run"]["steps"] or 0)) / (last["countries"] - prev["countries"])
        extra = f"; ~{steps + per * (100 - last['countries']):,.0f} at 100 countries, extrapolated linearly"
    print(f"  {v(steps <= GOAL_JOBS)}  jobs in the low thousands: {steps} jobs at {last['countries']} countries "
          f"× {args.models} models (studies × (countries + 1) renders, studies × models answer/cells jobs{extra})")
    print(f"  {v(last['plan_all']['wall'] < GOAL_PLAN_S)}  snakemake -n < 15 s: {last['plan_all']['wall']:.1f} s wall, "
          f"{last['plan_all']['cpu']:.1f} s CPU for the whole DAG (`-n --forceall` once the surveys are imported; "
          f"on a fresh tree `-n` sees only up to the import checkpoint: {last['plan']['wall']:.1f} s) "
          f"at {last['countries']} countries")
    for name, rules in PHASES:
        ok = all(phase(res, rules)[1] / phase(base, rules)[1] <= res["countries"] / base["countries"]
                 for res in results[1:] if phase(base, rules)[1] > 0)
        print(f"  {v(ok)}  {name}: CPU time linear in the countries or better")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--countries", type=int, nargs="+", default=[5, 10, 20], help="countries per scale")
    ap.add_argument("--models", type=int, default=20, help="reference respondents (≥ 1; the first is uniform)")
    ap.add_argument("--items", type=int, default=200, help="four-option items per study")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between polls of the job processes")
    ap.add_argument("--tmp", default=None, help="where the work directories go (default: the system's)")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    ap.add_argument("--report", default=None, metavar="JSON", help="only print the tables of an earlier --json")
    args = ap.parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        report(saved["results"], argparse.Namespace(**{**vars(args), **saved["args"], "report": None}))
        return
    print(f"bench_campaign: {len(STUDIES)} generic studies × {args.items} four-option items; "
          f"{args.models} reference respondents; conditions default, cross_national, linguistic; 2 paraphrases × "
          f"2 option orders; countries {', '.join(map(str, args.countries))}; --cores {args.cores}")
    print(f"  {_bench.machine()}")
    print(f"  countries at the largest scale: {' '.join(country_codes(max(args.countries)))}")
    print(flush=True)
    results = []
    for n in args.countries:
        t0 = time.perf_counter()
        results.append(one_scale(n, args))
        print(f"  {n} countries done in {time.perf_counter() - t0:.0f} s (load average "
              f"{os.getloadavg()[0]:.2f})", flush=True)
    print()
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    report(results, args)


if __name__ == "__main__":
    main()
