"""Crossed random-intercept LMM: culturelens' sufficient-statistics solver vs statsmodels vs lme4.

Synthetic GlobalOpinionQA-shaped data: 2,000 items × 100 countries × 3 models × 3 conditions,
n rows sampled without replacement (3,600 — the default run's scale —, 5k, 20k, 50k, 200k).
The default formula is the shipped config's style (``catalog.analyses.distributions``):
treatment-coded factors with the model × condition interaction, the native-language flag, and
three crossed random intercepts — item, country and the model's answer (``answer_id``: under
default prompting one answer per (model, item), shared by every country; otherwise one per row):

    config    y ~ C(model, Treatment('m_uniform')) * C(condition, Treatment('default')) + native
                  + (1 | item_id) + (1 | country) + (1 | answer_id)                         (REML)
    config2   the same fixed effects + (1 | item_id) + (1 | country)  (the config before answer_id)
    additive  y ~ model + condition + native + (1 | item_id) + (1 | country)                (REML)

``--formula additive`` runs the older, simpler formula (the one the first README figures were
measured with), ``--formula config2`` the config's fixed effects with two random factors,
``--formula all`` the three. lme4 fits the same model:
``y ~ relevel(factor(model), 'm_uniform') * relevel(factor(condition), 'default') + native
+ (1|item_id) + (1|country) + (1|answer_id)``.

Timed in one run, side by side, wall and CPU time:

* ours         ``stats.fit_mixed(..., engine="sufficient")`` from the DataFrame (design, sufficient
               statistics, optimisation, tables): ``time.perf_counter`` and ``time.process_time``,
               each the best of ``--repeats``;
* statsmodels  ``stats.fit_mixed(..., engine="statsmodels")`` (MixedLM, variance components), once,
               only up to ``--statsmodels-max`` rows (default 5k; it slows down super-linearly in
               rows × random levels);
* lme4         ``lmer`` in R, timed inside R with ``system.time`` around ``lmer`` only: elapsed and
               user + system, each the best of ``--repeats`` (this is lme4's time); plus the
               end-to-end ``Rscript`` subprocess wall time (R start-up, library(lme4), read.csv,
               all repeats, writing results).

Prints seconds per engine and size, ours/lme4 per size (wall and CPU), and the largest
differences of fixed effects (matched by name), SEs, variance components and REML criterion
between ours and lme4. No timing is asserted. lme4 columns are skipped, saying why, without
Rscript + lme4 (Debian: ``apt-get install -y --no-install-recommends r-base-core r-cran-lme4``).

    python benchmarks/bench_mixed.py                    # config formula; 3.6k, 5k, 20k, 50k, 200k
    python benchmarks/bench_mixed.py --formula all      # and config2, the older additive formula
    python benchmarks/bench_mixed.py --quick            # 3.6k, 5k
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from culturelens import stats  # noqa: E402

#: name → (our formula, random factors, lme4 formula)
FORMULAS: dict[str, tuple[str, list[str], str]] = {
    "config": (
        "y ~ C(model, Treatment('m_uniform')) * C(condition, Treatment('default')) + native",
        ["item_id", "country", "answer_id"],
        "y ~ relevel(factor(model), 'm_uniform') * relevel(factor(condition), 'default') + native"
        " + (1 | item_id) + (1 | country) + (1 | answer_id)",
    ),
    "config2": (  # the config's fixed effects with the two random factors it ships with today
        "y ~ C(model, Treatment('m_uniform')) * C(condition, Treatment('default')) + native",
        ["item_id", "country"],
        "y ~ relevel(factor(model), 'm_uniform') * relevel(factor(condition), 'default') + native"
        " + (1 | item_id) + (1 | country)",
    ),
    "additive": (
        "y ~ model + condition + native",
        ["item_id", "country"],
        "y ~ model + condition + native + (1 | item_id) + (1 | country)",
    ),
}
CATEGORICAL = ("model", "condition")
N_ITEMS, N_COUNTRIES = 2000, 100
MODELS = ["m_a", "m_b", "m_uniform"]
CONDITIONS = ["cross", "default", "native_lang"]
DEFAULT_SIZES = [3_600, 5_000, 20_000, 50_000, 200_000]

R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])  # strings stay character: lmer's factor conversion is inside the timing
repeats <- as.integer(args[3])
form <- as.formula(args[4])
wall <- Inf; cpu <- Inf; msgs <- character(0)
for (r in seq_len(repeats)) {
  tm <- system.time(m <- withCallingHandlers(
    lmer(form, data = d, REML = TRUE),
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleMessage") }))
  wall <- min(wall, tm[["elapsed"]])
  cpu <- min(cpu, tm[["user.self"]] + tm[["sys.self"]])
}
fe <- fixef(m)
vc <- as.data.frame(VarCorr(m))
msgs <- unique(c(msgs, m@optinfo$conv$lme4$messages))
out <- rbind(
  data.frame(kind = "fixed", term = names(fe), estimate = unname(fe),
             se = unname(sqrt(diag(as.matrix(vcov(m)))))),
  data.frame(kind = "variance", term = vc$grp, estimate = vc$vcov, se = NA),
  data.frame(kind = "objective", term = "REMLcrit", estimate = REMLcrit(m), se = NA),
  data.frame(kind = "seconds", term = c("wall", "cpu"), estimate = c(wall, cpu), se = NA),
  data.frame(kind = "info", term = paste("lme4", packageVersion("lme4"), "|", R.version.string,
                                          "| BLAS", extSoftVersion()[["BLAS"]]), estimate = NA, se = NA)
)
if (length(msgs)) out <- rbind(out, data.frame(kind = "message", term = msgs, estimate = NA, se = NA))
write.csv(out, args[2], row.names = FALSE)
"""


def simulate(n: int, seed: int = 2024) -> pd.DataFrame:
    """n distinct (item, country, model, condition) rows; y from known effects plus noise.

    ``answer_id``: under the 'default' condition the model gives one answer per item whatever the
    country (rows of one (model, item) share it); under the other conditions every row has its
    own answer. Each answer adds its own random intercept (sd 0.05).
    """
    rng = np.random.default_rng(seed)
    cells = rng.choice(N_ITEMS * N_COUNTRIES * 9, size=n, replace=False)
    item, rest = np.divmod(cells, N_COUNTRIES * 9)
    country, mc = np.divmod(rest, 9)
    model, condition = np.divmod(mc, 3)
    native = rng.integers(0, 2, n)
    default = condition == CONDITIONS.index("default")
    answer = np.where(default, model * N_ITEMS + item, 3 * N_ITEMS + np.arange(n))
    interaction = np.array([[0.01, 0.0, 0.03], [-0.02, 0.0, 0.02], [0.0, 0.0, 0.0]])
    y = (
        0.6
        + rng.normal(0, 0.15, N_ITEMS)[item]
        + rng.normal(0, 0.05, N_COUNTRIES)[country]
        + rng.normal(0, 0.05, 3 * N_ITEMS + n)[answer]
        + np.array([0.02, 0.04, 0.0])[model]
        + np.array([0.05, 0.0, -0.05])[condition]
        + interaction[model, condition]
        + 0.03 * native
        + rng.normal(0, 0.1, n)
    )
    return pd.DataFrame(
        {
            "item_id": np.char.add("q", np.char.zfill(item.astype(str), 4)),
            "country": np.char.add("c", np.char.zfill(country.astype(str), 3)),
            "answer_id": np.char.add("a", answer.astype(str)),
            "model": np.array(MODELS)[model],
            "condition": np.array(CONDITIONS)[condition],
            "native": native,
            "y": y,
        }
    )


def time_ours(data: pd.DataFrame, formula: str, random: list[str], repeats: int):
    """(best wall s, best CPU s, fit)."""
    wall, cpu, fit = np.inf, np.inf, None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fit = stats.fit_mixed(data, formula, random=random, engine="sufficient")
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return wall, cpu, fit


def time_statsmodels(data: pd.DataFrame, formula: str, random: list[str]):
    w0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = stats.fit_mixed(data, formula, random=random, engine="statsmodels")
    return time.perf_counter() - w0, time.process_time() - c0, fit


def lme4_unavailable() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript not found"
    probe = subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "R package lme4 not installed"
    return None


def time_lme4(data: pd.DataFrame, r_formula: str, workdir: Path, repeats: int):
    """(wall s and CPU s inside R around lmer, end-to-end subprocess wall s, results table)."""
    csv, out, script = workdir / f"d{len(data)}.csv", workdir / f"o{len(data)}.csv", workdir / "fit.R"
    data.to_csv(csv, index=False)
    script.write_text(R_SCRIPT, encoding="utf-8")
    t0 = time.perf_counter()
    run = subprocess.run(
        ["Rscript", str(script), str(csv), str(out), str(repeats), r_formula],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - t0
    if run.returncode != 0:
        raise RuntimeError(f"Rscript failed: {run.stderr[-2000:]}")
    table = pd.read_csv(out)
    seconds = table[table["kind"] == "seconds"].set_index("term")["estimate"]
    return float(seconds["wall"]), float(seconds["cpu"]), wall, table


_PATSY_C = re.compile(r"^C\((\w+)[^\[]*\)\[T\.(.*)\]$")
_PATSY_BARE = re.compile(r"^(\w+)\[T\.(.*)\]$")
_R_RELEVEL = re.compile(r"""^relevel\(factor\((\w+)\), ["'][^"']*["']\)(.*)$""")


def canonical(term: str) -> str:
    """One name for a fixed-effect column in patsy's and in R's spelling: 'model=m_a:condition=cross'."""
    if term in ("Intercept", "(Intercept)"):
        return "(Intercept)"
    parts = []
    for part in term.split(":"):
        m = _PATSY_C.match(part) or _PATSY_BARE.match(part) or _R_RELEVEL.match(part)
        if m:
            parts.append(f"{m.group(1)}={m.group(2)}")
            continue
        var = next((v for v in CATEGORICAL if part.startswith(v) and len(part) > len(v)), None)
        parts.append(f"{var}={part[len(var):]}" if var else part)
    return ":".join(parts)


def differences(ours: stats.MixedFit, lme4: pd.DataFrame) -> dict:
    """Largest differences ours − lme4; fixed effects matched by name (patsy vs R spelling)."""
    fixed = lme4[lme4["kind"] == "fixed"].assign(key=lambda t: t["term"].map(canonical)).set_index("key")
    coef = ours.coefficients.assign(key=lambda t: t["term"].map(canonical)).set_index("key")
    if set(fixed.index) != set(coef.index):
        raise RuntimeError(f"fixed effects differ: lme4 {sorted(fixed.index)}, ours {sorted(coef.index)}")
    fixed = fixed.reindex(coef.index)
    d_fe = (coef["estimate"] - fixed["estimate"]).abs()
    d_se = (coef["se"] / fixed["se"] - 1).abs()
    var_ref = lme4[lme4["kind"] == "variance"].set_index("term")["estimate"]
    var_ours = ours.variance_components.set_index("component")["variance"].reindex(var_ref.index)
    d_vc = (var_ours - var_ref).abs()
    objective = float(lme4.loc[lme4["kind"] == "objective", "estimate"].iloc[0])
    return {
        "fixed_abs": float(d_fe.max()), "fixed_at": d_fe.idxmax(),
        "se_abs": float((coef["se"] - fixed["se"]).abs().max()),
        "se_rel": float(d_se.max()), "se_at": d_se.idxmax(),
        "vc_abs": float(d_vc.max()), "vc_at": d_vc.idxmax(),
        "vc_rel": float((d_vc / var_ref).max()),
        "objective": ours.objective - objective,
        "vc": {k: (float(var_ours[k]), float(var_ref[k])) for k in var_ref.index},
        "messages": lme4.loc[lme4["kind"] == "message", "term"].tolist(),
    }


def fmt(x, width=8, digits=3) -> str:
    return f"{'—':>{width}}" if x is None else f"{x:{width}.{digits}f}"


def run_formula(name: str, sizes: list[int], args, r_missing: str | None, tmp: Path):
    formula, random, r_formula = FORMULAS[name]
    print(f"\n=== formula '{name}': {formula} + " + " + ".join(f"(1|{r})" for r in random)
          + ", REML")
    if not r_missing:
        print(f"    lme4: {r_formula}")
    rows, diffs, info = [], {}, ""
    for n in sizes:
        data = simulate(n)
        levels = {r: data[r].nunique() for r in random}
        w_ours, c_ours, fit = time_ours(data, formula, random, args.repeats)
        sm = None
        if n <= args.statsmodels_max:
            w_sm, c_sm, sm_fit = time_statsmodels(data, formula, random)
            sm = (w_sm, c_sm,
                  float(np.abs(fit.coefficients["estimate"] - sm_fit.coefficients["estimate"]).max()),
                  float(np.abs(fit.variance_components["variance"]
                               / sm_fit.variance_components["variance"] - 1).max()))
        r = None
        if not r_missing:
            w_r, c_r, w_script, table = time_lme4(data, r_formula, tmp, args.repeats)
            r = (w_r, c_r, w_script)
            diffs[n] = differences(fit, table)
            info = str(table.loc[table["kind"] == "info", "term"].iloc[0])
        rows.append((n, levels, w_ours, c_ours, sm, r, fit))
        print(f"  {n:>7,} rows ({', '.join(f'{k} {v:,}' for k, v in levels.items())}): "
              f"ours {w_ours:.3f} s (CPU {c_ours:.3f})"
              + (f", statsmodels {sm[0]:.1f} s (CPU {sm[1]:.1f})" if sm else "")
              + (f", lme4 {r[0]:.3f} s (CPU {r[1]:.3f}; Rscript {r[2]:.1f} s)" if r else ""),
              flush=True)

    print(f"\nformula '{name}': seconds, wall / CPU (ours and lme4: best of {args.repeats}; "
          "statsmodels: one run)")
    if info:
        print(f"R: {info}")
    print(f"{'rows':>8} | {'ours wall':>9} | {'ours CPU':>8} | {'lme4 wall':>9} | {'lme4 CPU':>8} | "
          f"{'ours/lme4 wall':>14} | {'ours/lme4 CPU':>13} | {'statsm. wall':>12} | {'Rscript':>7} | "
          "ours' optimiser")
    for n, _, w_ours, c_ours, sm, r, fit in rows:
        print(f"{n:>8,} | {fmt(w_ours, 9)} | {fmt(c_ours)} | {fmt(r and r[0], 9)} | "
              f"{fmt(r and r[1])} | {fmt(r and w_ours / r[0], 14, 2)} | "
              f"{fmt(r and c_ours / r[1], 13, 2)} | {fmt(sm and sm[0], 12, 1)} | "
              f"{fmt(r and r[2], 7, 1)} | {fit.optimizer}{'' if fit.converged else ' (NOT converged)'}")
    print("  (ratio < 1: ours faster. lme4 = system.time(lmer) inside R: elapsed, user + system;"
          " Rscript = whole subprocess incl. start-up, library(lme4), read.csv, all repeats;"
          " statsmodels '—': not run above --statsmodels-max)")
    for n, *_, sm, _, _ in rows:
        if sm is not None:
            print(f"ours vs statsmodels at {n:,}: fixed effects max |Δ| {sm[2]:.2e}, "
                  f"variance components max rel Δ {sm[3]:.1e}")
    if diffs:
        print("\nours − lme4 (REML both; fixed effects matched by name):")
        for n, d in diffs.items():
            print(f"  {n:>8,}: fixed effects max |Δ| {d['fixed_abs']:.1e} ({d['fixed_at']}), "
                  f"SE max |Δ| {d['se_abs']:.1e} (rel {d['se_rel']:.1e}), "
                  f"variance components max |Δ| {d['vc_abs']:.1e} ({d['vc_at']}, rel {d['vc_rel']:.1e}), "
                  f"REML criterion Δ {d['objective']:+.1e}")
            print("            variances ours / lme4: " + ", ".join(
                f"{k} {a:.6f} / {b:.6f}" for k, (a, b) in d["vc"].items()))
            for msg in d["messages"]:
                print(f"            lme4 said: {msg}")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--formula", nargs="+", choices=[*FORMULAS, "all"], default=["config"],
                    help="config (default: the shipped config's style, three random factors), "
                         "config2 (its fixed effects, two random factors), additive (the older "
                         "two-factor additive formula), or all")
    ap.add_argument("--quick", action="store_true", help="small run: 3.6k and 5k rows")
    ap.add_argument("--sizes", type=int, nargs="*", help="row counts (default 3.6k 5k 20k 50k 200k)")
    ap.add_argument("--statsmodels-max", type=int, default=5_000,
                    help="largest table given to statsmodels (default 5,000: too slow beyond; with "
                         "the config formula it took ~10 min at 3,600 rows and ~21 min at 5,000; 0 skips it)")
    ap.add_argument("--repeats", type=int, default=3, help="best of N for ours and lme4 (default 3)")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([3_600, 5_000] if args.quick else DEFAULT_SIZES)
    names = list(FORMULAS) if "all" in args.formula else list(dict.fromkeys(args.formula))

    print(f"crossed LMM benchmark, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"data: {N_ITEMS} items × {N_COUNTRIES} countries × 3 models × 3 conditions, sampled rows")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    r_missing = lme4_unavailable()
    if r_missing:
        print(f"lme4: SKIPPED ({r_missing}; Debian: apt-get install -y --no-install-recommends "
              "r-base-core r-cran-lme4)")
    print(f"statsmodels MixedLM: only up to {args.statsmodels_max:,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            run_formula(name, sizes, args, r_missing, Path(tmp))
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
