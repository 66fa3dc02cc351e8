"""Crossed random-intercept LMM: culturelens' sufficient-statistics solver vs statsmodels vs lme4.

Synthetic GlobalOpinionQA-shaped data: 2,000 items × 100 countries × 3 models × 3 conditions,
n rows sampled without replacement (5k, 20k, 50k, 200k); fixed effects for the model, the
condition and a binary native-language flag; random intercepts for item and country:

    y ~ model + condition + native + (1 | item_id) + (1 | country)        (REML)

Timed in one run, side by side:

* ours         ``stats.fit_mixed(..., engine="sufficient")`` from the DataFrame (design, sufficient
               statistics, optimisation, tables): best of ``--repeats``;
* statsmodels  ``stats.fit_mixed(..., engine="statsmodels")`` (MixedLM, variance components), once,
               only up to ``--statsmodels-max`` rows (default 5k: on this shape, 2,100 random
               levels, it took 10 s at 2k rows, 71 s at 5k and 462 s at 20k here — pass
               ``--statsmodels-max 20000`` to wait for it; beyond that it is hopeless);
* lme4         ``lmer`` in R, timed inside R with ``system.time`` around ``lmer`` only (best of
               ``--repeats``; this is lme4's time), plus the end-to-end ``Rscript`` subprocess time
               (R start-up, library(lme4), read.csv, all repeats, writing results).

Prints seconds per engine and size, ours/lme4 at the largest size with PASS/MISS against
≤ 2×, and the largest differences of fixed effects, SEs and variance components between ours and
lme4 (both REML). lme4 columns are skipped, saying why, without Rscript + lme4 (Debian:
``apt-get install -y --no-install-recommends r-base-core r-cran-lme4``).

    python benchmarks/bench_mixed.py            # 5k, 20k, 50k, 200k
    python benchmarks/bench_mixed.py --quick    # 2k, 5k
"""

from __future__ import annotations

import argparse
import os
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

FORMULA = "y ~ model + condition + native"
RANDOM = ["item_id", "country"]
N_ITEMS, N_COUNTRIES = 2000, 100
MODELS = ["m_a", "m_b", "m_c"]
CONDITIONS = ["cross", "default", "native_lang"]
TARGET_RATIO = 2.0

R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])  # strings stay character: lmer's factor conversion is inside the timing
repeats <- as.integer(args[3])
best <- Inf
for (r in seq_len(repeats)) {
  tm <- system.time(m <- lmer(y ~ model + condition + native + (1 | item_id) + (1 | country),
                              data = d, REML = TRUE))
  best <- min(best, tm[["elapsed"]])
}
fe <- fixef(m)
vc <- as.data.frame(VarCorr(m))
out <- rbind(
  data.frame(kind = "fixed", term = names(fe), estimate = unname(fe),
             se = unname(sqrt(diag(as.matrix(vcov(m)))))),
  data.frame(kind = "variance", term = vc$grp, estimate = vc$vcov, se = NA),
  data.frame(kind = "objective", term = "REMLcrit", estimate = REMLcrit(m), se = NA),
  data.frame(kind = "seconds", term = "lmer", estimate = best, se = NA),
  data.frame(kind = "info", term = paste("lme4", packageVersion("lme4"), "|", R.version.string,
                                          "| BLAS", extSoftVersion()[["BLAS"]]), estimate = NA, se = NA)
)
write.csv(out, args[2], row.names = FALSE)
"""


def simulate(n: int, seed: int = 2024) -> pd.DataFrame:
    """n distinct (item, country, model, condition) rows; y from known effects plus noise."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(N_ITEMS * N_COUNTRIES * 9, size=n, replace=False)
    item, rest = np.divmod(cells, N_COUNTRIES * 9)
    country, mc = np.divmod(rest, 9)
    model, condition = np.divmod(mc, 3)
    native = rng.integers(0, 2, n)
    y = (
        0.6
        + rng.normal(0, 0.15, N_ITEMS)[item]
        + rng.normal(0, 0.05, N_COUNTRIES)[country]
        + np.array([0.0, 0.02, 0.04])[model]
        + np.array([0.0, -0.05, 0.05])[condition]
        + 0.03 * native
        + rng.normal(0, 0.1, n)
    )
    return pd.DataFrame(
        {
            "item_id": np.char.add("q", np.char.zfill(item.astype(str), 4)),
            "country": np.char.add("c", np.char.zfill(country.astype(str), 3)),
            "model": np.array(MODELS)[model],
            "condition": np.array(CONDITIONS)[condition],
            "native": native,
            "y": y,
        }
    )


def time_ours(data: pd.DataFrame, repeats: int):
    best, fit = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit = stats.fit_mixed(data, FORMULA, random=RANDOM, engine="sufficient")
        best = min(best, time.perf_counter() - t0)
    return best, fit


def time_statsmodels(data: pd.DataFrame):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = stats.fit_mixed(data, FORMULA, random=RANDOM, engine="statsmodels")
    return time.perf_counter() - t0, fit


def lme4_unavailable() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript not found"
    probe = subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "R package lme4 not installed"
    return None


def time_lme4(data: pd.DataFrame, workdir: Path, repeats: int):
    """(seconds inside R around lmer, end-to-end subprocess seconds, results table)."""
    csv, out, script = workdir / f"d{len(data)}.csv", workdir / f"o{len(data)}.csv", workdir / "fit.R"
    data.to_csv(csv, index=False)
    script.write_text(R_SCRIPT, encoding="utf-8")
    t0 = time.perf_counter()
    run = subprocess.run(
        ["Rscript", str(script), str(csv), str(out), str(repeats)], capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if run.returncode != 0:
        raise RuntimeError(f"Rscript failed: {run.stderr[-2000:]}")
    table = pd.read_csv(out)
    inside = float(table.loc[table["kind"] == "seconds", "estimate"].iloc[0])
    return inside, wall, table


def differences(ours: stats.MixedFit, lme4: pd.DataFrame) -> dict[str, float]:
    """Largest absolute (and relative) differences ours − lme4; fixed effects matched by position
    (same treatment coding, R names them modelm_b where patsy says model[T.m_b])."""
    fixed = lme4[lme4["kind"] == "fixed"]
    coef = ours.coefficients
    if len(fixed) != len(coef):
        raise RuntimeError(f"lme4 has {len(fixed)} fixed effects, ours {len(coef)}")
    var_ref = lme4[lme4["kind"] == "variance"].set_index("term")["estimate"]
    var_ours = ours.variance_components.set_index("component")["variance"].reindex(var_ref.index)
    d_fe = np.abs(coef["estimate"].to_numpy() - fixed["estimate"].to_numpy())
    d_se = np.abs(coef["se"].to_numpy() / fixed["se"].to_numpy() - 1)
    d_vc = np.abs(var_ours.to_numpy() - var_ref.to_numpy())
    objective = float(lme4.loc[lme4["kind"] == "objective", "estimate"].iloc[0])
    return {
        "fixed_abs": float(d_fe.max()),
        "fixed_rel": float((d_fe / np.abs(fixed["estimate"].to_numpy())).max()),
        "se_rel": float(d_se.max()),
        "vc_abs": float(d_vc.max()),
        "vc_rel": float((d_vc / var_ref.to_numpy()).max()),
        "objective": ours.objective - objective,
    }


def fmt(x) -> str:
    return f"{'—':>8}" if x is None else f"{x:8.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small run: 2k and 5k rows")
    ap.add_argument("--sizes", type=int, nargs="*", help="row counts (default 5k 20k 50k 200k)")
    ap.add_argument("--statsmodels-max", type=int, default=5_000,
                    help="largest table given to statsmodels (default 5,000: too slow beyond)")
    ap.add_argument("--repeats", type=int, default=3, help="best of N for ours and lme4 (default 3)")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([2_000, 5_000] if args.quick else [5_000, 20_000, 50_000, 200_000])

    print(f"crossed LMM benchmark: {FORMULA} + (1|item_id) + (1|country), REML")
    print(f"data: {N_ITEMS} items × {N_COUNTRIES} countries × 3 models × 3 conditions, sampled rows")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    r_missing = lme4_unavailable()
    if r_missing:
        print(f"lme4: SKIPPED ({r_missing}; Debian: apt-get install -y --no-install-recommends "
              "r-base-core r-cran-lme4)")
    print(f"statsmodels MixedLM: only up to {args.statsmodels_max:,} rows (with 2,100 random levels "
          "it took 71 s at 5k and 462 s at 20k: too slow beyond)\n")

    rows, diffs, info = [], {}, ""
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            data = simulate(n)
            t_ours, fit = time_ours(data, args.repeats)
            t_sm = d_sm = None
            if n <= args.statsmodels_max:
                t_sm, sm_fit = time_statsmodels(data)
                d_sm = (
                    float(np.abs(fit.coefficients["estimate"] - sm_fit.coefficients["estimate"]).max()),
                    float(np.abs(fit.variance_components["variance"]
                                 / sm_fit.variance_components["variance"] - 1).max()),
                )
            t_r = t_wall = None
            if not r_missing:
                t_r, t_wall, table = time_lme4(data, Path(tmp), args.repeats)
                diffs[n] = differences(fit, table)
                info = str(table.loc[table["kind"] == "info", "term"].iloc[0])
            rows.append((n, t_ours, t_sm, t_r, t_wall, fit, d_sm))
            print(f"  {n:>7,} rows done: ours {t_ours:.3f} s"
                  + (f", statsmodels {t_sm:.1f} s" if t_sm is not None else "")
                  + (f", lme4 {t_r:.3f} s (Rscript {t_wall:.1f} s)" if t_r is not None else ""),
                  flush=True)

    print(f"\nseconds (ours and lme4: best of {args.repeats}; statsmodels: one run)")
    if info:
        print(f"R: {info}")
    print(f"{'rows':>8} | {'ours':>8} | {'statsm.':>8} | {'lme4':>8} | {'Rscript':>8} | "
          f"{'ours/lme4':>9} | ours' optimiser")
    for n, t_ours, t_sm, t_r, t_wall, fit, _ in rows:
        ratio = f"{t_ours / t_r:9.2f}" if t_r else f"{'—':>9}"
        print(f"{n:>8,} | {fmt(t_ours)} | {fmt(t_sm)} | {fmt(t_r)} | {fmt(t_wall)} | {ratio} | "
              f"{fit.optimizer}{'' if fit.converged else ' (NOT converged)'}")
    print("  (statsmodels '—': not run above --statsmodels-max; lme4 = system.time(lmer) inside R,"
          " Rscript = whole subprocess incl. start-up, library(lme4), read.csv, all repeats)")

    for n, *_, d_sm in rows:
        if d_sm is not None:
            print(f"ours vs statsmodels at {n:,}: fixed effects max |Δ| {d_sm[0]:.2e}, "
                  f"variance components max rel Δ {d_sm[1]:.1e}")
    if diffs:
        print("\nours − lme4 (REML both):")
        for n, d in diffs.items():
            print(f"  {n:>8,}: fixed effects max |Δ| {d['fixed_abs']:.2e} (rel {d['fixed_rel']:.1e}), "
                  f"SE max rel {d['se_rel']:.1e}, variance components max |Δ| {d['vc_abs']:.2e} "
                  f"(rel {d['vc_rel']:.1e}), REML criterion Δ {d['objective']:+.2e}")
        n, t_ours, _, t_r, *_ = rows[-1]
        ratio = t_ours / t_r
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        print(f"\nat {n:,} rows: ours {t_ours:.3f} s / lme4 {t_r:.3f} s = {ratio:.2f}× "
              f"→ {verdict} (target ≤ {TARGET_RATIO:g}× lme4)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
