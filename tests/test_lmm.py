"""Exact REML/ML on sufficient statistics (culturelens.lmm): closed forms, statsmodels, lme4.

The lme4 test needs R with lme4 (Debian: ``apt-get install -y --no-install-recommends r-base-core
r-cran-lme4``); it is skipped, saying why, when ``Rscript`` or lme4 is missing.
"""

import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

from culturelens import lmm, stats
from culturelens.errors import InputError

TRUTH = {"beta": (0.5, 0.1, -0.05, 0.2), "sd_item": 0.3, "sd_country": 0.15, "sd": 0.2}


def simulate(seed=3, n_items=40, n_countries=12, keep=0.7, sd_country=None):
    """Crossed items × countries × 2 conditions, ``keep`` of the cells observed (unbalanced).

    y = 0.5 + 0.1·[cond=b] − 0.05·[group=y] + 0.2·x + item + country + noise
    """
    rng = np.random.default_rng(seed)
    sd_country = TRUTH["sd_country"] if sd_country is None else sd_country
    item = rng.normal(0, TRUTH["sd_item"], n_items)
    country = rng.normal(0, sd_country, n_countries)
    i, c, k = np.meshgrid(np.arange(n_items), np.arange(n_countries), np.arange(2), indexing="ij")
    i, c, k = i.ravel(), c.ravel(), k.ravel()
    rows = rng.random(len(i)) < keep
    i, c, k = i[rows], c[rows], k[rows]
    n = len(i)
    group = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    b0, b_cond, b_group, b_x = TRUTH["beta"]
    y = b0 + b_cond * k + b_group * group + b_x * x + item[i] + country[c]
    y = y + rng.normal(0, TRUTH["sd"], n)
    return pd.DataFrame(
        {
            "item": [f"q{j:03d}" for j in i],
            "country": [f"c{j:02d}" for j in c],
            "cond": np.array(["a", "b"])[k],
            "group": np.array(["x", "y"])[group],
            "x": x,
            "y": y,
        }
    )


FORMULA = "y ~ C(cond) + C(group) + x"


def statsmodels_fit(data, formula, random, reml):
    """The reference we already trust: fit_mixed's statsmodels MixedLM (variance components)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return stats.fit_mixed(data, formula, random=random, reml=reml, engine="statsmodels")


# ---------------------------------------------------------------- statsmodels agreement
@pytest.mark.parametrize("reml", [True, False])
def test_agrees_with_statsmodels(reml):
    data = simulate()
    ref = statsmodels_fit(data, FORMULA, ["item", "country"], reml)
    ours = lmm.fit_lmm(data, FORMULA, ["item", "country"], reml=reml)
    coef = ref.coefficients.set_index("term")
    assert list(ours.fixed_effects.index) == list(coef.index)  # same patsy term names
    assert ours.fixed_effects.to_numpy() == pytest.approx(coef["estimate"].to_numpy(), abs=1e-4)
    assert ours.se.to_numpy() == pytest.approx(coef["se"].to_numpy(), rel=1e-3)
    vc = ref.variance_components.set_index("component")["variance"]
    for name in ["item", "country", "Residual"]:
        assert ours.variance_components[name] == pytest.approx(vc[name], rel=1e-3)
    # same likelihood, constants included: statsmodels' -2 llf is our objective; ours is no worse
    assert ours.objective == pytest.approx(ref.objective, abs=1e-5 * abs(ref.objective))
    assert ours.objective <= ref.objective + 1e-7
    assert ours.converged and ours.method == ("REML" if reml else "ML")
    assert ours.n_obs == len(data) and ours.n_groups == {"item": 40, "country": 12}


def test_three_crossed_factors_agree_with_statsmodels():
    data = simulate(seed=11, n_items=20, n_countries=6, keep=0.9)
    data["model"] = np.random.default_rng(0).choice(["m1", "m2", "m3", "m4"], len(data))
    data["y"] += data["model"].map({"m1": 0.0, "m2": 0.1, "m3": -0.1, "m4": 0.05})
    random = ["item", "country", "model"]
    ref = statsmodels_fit(data, "y ~ x", random, True)
    ours = lmm.fit_lmm(data, "y ~ x", random)
    assert ours.fixed_effects.to_numpy() == pytest.approx(ref.coefficients["estimate"].to_numpy(), abs=1e-4)
    vc = ref.variance_components.set_index("component")["variance"]
    for name in random + ["Residual"]:
        assert ours.variance_components[name] == pytest.approx(vc[name], rel=1e-3)
    assert list(ours.variance_components.index) == random + ["Residual"]  # caller's order


# ---------------------------------------------------------------- closed forms
def one_way(group_means_sd, seed=5, a=8, b=6):
    """Balanced one-way layout: a groups × b replicates."""
    rng = np.random.default_rng(seed)
    effects = rng.normal(0, group_means_sd, a)
    y = 2.0 + np.repeat(effects, b) + rng.normal(0, 1.0, a * b)
    return pd.DataFrame({"g": np.repeat([f"g{i}" for i in range(a)], b), "y": y}), a, b


def anova_one_way(data, a, b):
    """Mean squares between and within groups (by hand)."""
    y = data["y"].to_numpy().reshape(a, b)
    grand, means = y.mean(), y.mean(axis=1)
    msb = b * ((means - grand) ** 2).sum() / (a - 1)
    msw = ((y - means[:, None]) ** 2).sum() / (a * (b - 1))
    return grand, msb, msw


def test_balanced_one_way_matches_anova_closed_forms():
    data, a, b = one_way(group_means_sd=1.0)
    grand, msb, msw = anova_one_way(data, a, b)
    assert msb > msw  # interior solution
    reml = lmm.fit_lmm(data, "y ~ 1", ["g"])
    # REML = ANOVA estimators for balanced data: σ² = MSW, σ²_g = (MSB − MSW)/b
    assert reml.variance_components["Residual"] == pytest.approx(msw, rel=1e-6)
    assert reml.variance_components["g"] == pytest.approx((msb - msw) / b, rel=1e-6)
    assert reml.fixed_effects["Intercept"] == pytest.approx(grand, abs=1e-10)
    # Var(ȳ) = (σ²_g + σ²/b)/a = MSB/(ab)
    assert reml.se["Intercept"] == pytest.approx(np.sqrt(msb / (a * b)), rel=1e-6)
    ml = lmm.fit_lmm(data, "y ~ 1", ["g"], reml=False)
    # ML: σ² = MSW, σ²_g = ((a−1)/a·MSB − MSW)/b
    assert ml.variance_components["Residual"] == pytest.approx(msw, rel=1e-6)
    assert ml.variance_components["g"] == pytest.approx(((a - 1) / a * msb - msw) / b, rel=1e-6)


def test_boundary_estimate_is_exactly_zero():
    """MSB < MSW: the REML variance of the groups is 0 and σ² is the total variance."""
    data, a, b = one_way(group_means_sd=0.0, seed=2)
    grand, msb, msw = anova_one_way(data, a, b)
    assert msb < msw
    fit = lmm.fit_lmm(data, "y ~ 1", ["g"])
    assert fit.theta["g"] == 0.0 and fit.variance_components["g"] == 0.0
    assert fit.variance_components["Residual"] == pytest.approx(data["y"].var(ddof=1), rel=1e-8)
    mixed = stats.fit_mixed(data, "y ~ 1", random=["g"], engine="sufficient")
    assert any("'g' is estimated at (or near) zero" in n for n in mixed.notes)


def test_balanced_two_way_crossed_matches_anova_closed_forms():
    """One observation per (row, column) cell: σ² = MSE, σ²_r = (MSR − MSE)/c, σ²_c = (MSC − MSE)/r."""
    rng = np.random.default_rng(8)
    r, c = 15, 10
    y = 1.0 + rng.normal(0, 1.0, (r, 1)) + rng.normal(0, 0.7, (1, c)) + rng.normal(0, 0.5, (r, c))
    data = pd.DataFrame(
        {"row": np.repeat(np.arange(r), c), "col": np.tile(np.arange(c), r), "y": y.ravel()}
    )
    grand, rows, cols = y.mean(), y.mean(axis=1), y.mean(axis=0)
    msr = c * ((rows - grand) ** 2).sum() / (r - 1)
    msc = r * ((cols - grand) ** 2).sum() / (c - 1)
    mse = ((y - rows[:, None] - cols[None, :] + grand) ** 2).sum() / ((r - 1) * (c - 1))
    assert msr > mse and msc > mse
    fit = lmm.fit_lmm(data, "y ~ 1", ["row", "col"])
    assert fit.variance_components["Residual"] == pytest.approx(mse, rel=1e-6)
    assert fit.variance_components["row"] == pytest.approx((msr - mse) / c, rel=1e-6)
    assert fit.variance_components["col"] == pytest.approx((msc - mse) / r, rel=1e-6)
    # Var(ȳ) = σ²_r/r + σ²_c/c + σ²/(rc) = (MSR + MSC − MSE)/(rc)
    assert fit.se["Intercept"] == pytest.approx(np.sqrt((msr + msc - mse) / (r * c)), rel=1e-6)


def test_objective_is_the_dense_reml_criterion():
    """The profiled deviance equals −2 log L_REML computed from V = σ²(I + ZΛΛ'Z') directly."""
    data = simulate(n_items=6, n_countries=4, keep=0.8)
    fit = lmm.fit_lmm(data, FORMULA, ["item", "country"])
    _, X = lmm.design_matrices(FORMULA, data)
    X, y, n, p = X.to_numpy(), data["y"].to_numpy(), len(data), X.shape[1]
    V = fit.variance_components["Residual"] * np.eye(n)
    for f in ["item", "country"]:
        z = pd.get_dummies(data[f]).to_numpy(float)
        V += fit.variance_components[f] * z @ z.T
    vi = np.linalg.inv(V)
    xvx = X.T @ vi @ X
    beta = np.linalg.solve(xvx, X.T @ vi @ y)
    res = y - X @ beta
    crit = (
        (n - p) * np.log(2 * np.pi)
        + np.linalg.slogdet(V)[1]
        + np.linalg.slogdet(xvx)[1]
        + res @ vi @ res
    )
    assert fit.objective == pytest.approx(crit, abs=1e-8 * abs(crit))
    assert fit.fixed_effects.to_numpy() == pytest.approx(beta, abs=1e-10)
    assert fit.cov_fixed.to_numpy() == pytest.approx(np.linalg.inv(xvx), rel=1e-8)


# ---------------------------------------------------------------- numerical paths
def test_sparse_paths_give_the_same_fit(monkeypatch):
    data = simulate()
    dense = lmm.fit_lmm(data, FORMULA, ["item", "country"])
    monkeypatch.setattr(lmm, "_SPARSE_CROSS_FILL", 2.0)  # sparse Z₁'Z₂ in the blocked Cholesky
    sparse_cross = lmm.fit_lmm(data, FORMULA, ["item", "country"])
    monkeypatch.setattr(lmm, "DENSE_REST_MAX", 0)  # whole matrix through splu
    splu = lmm.fit_lmm(data, FORMULA, ["item", "country"])
    for other in (sparse_cross, splu):
        assert other.objective == pytest.approx(dense.objective, abs=1e-9 * abs(dense.objective))
        assert other.fixed_effects.to_numpy() == pytest.approx(dense.fixed_effects.to_numpy(), abs=1e-7)
        assert other.variance_components.to_numpy() == pytest.approx(
            dense.variance_components.to_numpy(), rel=1e-5
        )


@pytest.mark.parametrize("method", ["Nelder-Mead", "Powell"])
def test_fallback_optimisers_reach_the_same_optimum(method):
    data = simulate()
    best = lmm.fit_lmm(data, FORMULA, ["item", "country"])
    other = lmm.fit_lmm(data, FORMULA, ["item", "country"], optimizers=[method])
    assert other.optimizer == method and other.converged
    assert other.objective == pytest.approx(best.objective, abs=1e-7)
    assert other.variance_components.to_numpy() == pytest.approx(
        best.variance_components.to_numpy(), rel=1e-4
    )


def test_non_convergence_falls_back_and_is_noted(monkeypatch):
    original = lmm._minimise

    def cobyqa_fails(fun, x0, method):
        res = original(fun, x0, method)
        if method == "COBYQA":
            res.success, res.message = False, "simulated failure"
        return res

    monkeypatch.setattr(lmm, "_minimise", cobyqa_fails)
    fit = lmm.fit_lmm(simulate(), FORMULA, ["item", "country"])
    assert fit.optimizer == "Nelder-Mead" and fit.converged
    assert fit.notes == ["COBYQA did not converge (simulated failure); retrying with Nelder-Mead"]


def test_rank_deficient_design_names_the_aliased_column():
    data = simulate(n_items=8, n_countries=4)
    data["copy"] = data["cond"].map({"a": "u", "b": "v"})
    with pytest.raises(lmm.RankDeficientError) as err:
        lmm.fit_lmm(data, "y ~ C(cond) + C(copy)", ["item", "country"])
    assert err.value.aliased == ["C(copy)[T.v]"]


def test_categorical_shortcut_builds_patsy_s_design():
    import patsy

    data = simulate(n_items=8, n_countries=4)
    data["cond"] = data["cond"].map({"a": "zeta", "b": "Alpha"})  # upper case sorts first
    formula = "y ~ C(cond, Treatment('zeta')) * C(group) + x + np.log(x ** 2)"
    y, X = lmm.design_matrices(formula, data)
    y_ref, X_ref = patsy.dmatrices(formula, data, return_type="dataframe")
    assert list(X.columns) == list(X_ref.columns)
    assert X.to_numpy() == pytest.approx(X_ref.to_numpy())
    assert y.to_numpy() == pytest.approx(y_ref.iloc[:, 0].to_numpy())


def test_blas_thread_counts_are_restored():
    controls = lmm._openblas_thread_controls()
    before = [get() for get, _ in controls]
    with lmm.single_threaded_blas():
        assert all(get() == 1 for get, _ in controls)
    assert [get() for get, _ in controls] == before


# ---------------------------------------------------------------- fit_mixed engines
def test_fit_mixed_auto_engine_by_size(monkeypatch):
    assert stats.choose_engine("statsmodels", 10**9, 10**4) == "statsmodels"
    assert stats.choose_engine("auto", 720, 42) == "statsmodels"  # tests/test_stats.py's table
    assert stats.choose_engine("auto", 4_000, 2_100) == "sufficient"  # few rows, many items
    assert stats.choose_engine("auto", 5_000, 10) == "sufficient"
    data = simulate(n_items=10, n_countries=5)
    small = stats.fit_mixed(data, FORMULA, random=["item", "country"])
    assert small.engine == stats.ENGINE
    monkeypatch.setattr(stats, "SUFFICIENT_FROM_ROWS", len(data))
    large = stats.fit_mixed(data, FORMULA, random=["item", "country"])
    assert large.engine == stats.ENGINE_SUFFICIENT == lmm.ENGINE
    assert large.method == "REML" and large.optimizer == "COBYQA" and large.converged
    assert list(large.coefficients["term"]) == list(small.coefficients["term"])
    assert large.coefficients["estimate"].to_numpy() == pytest.approx(
        small.coefficients["estimate"].to_numpy(), abs=1e-4
    )
    assert list(large.variance_components["component"]) == ["country", "item", "Residual"]
    with pytest.raises(InputError, match="engine"):
        stats.fit_mixed(data, FORMULA, random=["item", "country"], engine="fast")


def test_fit_mixed_sufficient_keeps_pruning_nan_and_fallbacks(tmp_path):
    data = simulate(n_items=10, n_countries=5)
    data["lang"] = "en"
    data.loc[[0, 1], "y"] = np.nan
    fit = stats.fit_mixed(data, "y ~ C(cond) + C(lang)", random=["item", "country"], engine="sufficient")
    assert fit.dropped_rows == 2 and fit.n_obs == len(data) - 2
    assert fit.formula == "y ~ C(cond)"
    assert any("C(lang)" in n and "single value" in n for n in fit.notes)
    assert fit.n_groups == {"item": 10, "country": 5}
    one = data[data["country"] == "c00"]
    fit1 = stats.fit_mixed(one, "y ~ C(cond)", random=["item", "country"], engine="sufficient")
    assert any("random factor 'country'" in n for n in fit1.notes)
    assert list(fit1.variance_components["component"]) == ["item", "Residual"]
    single = data[data["item"] == data["item"].iloc[0]].assign(country="c00")
    ols = stats.fit_mixed(single, "y ~ x", random=["item", "country"], engine="sufficient")
    assert ols.method == "OLS" and ols.engine == stats.ENGINE_OLS
    data["copy"] = data["cond"]
    aliased = stats.fit_mixed(data, "y ~ C(cond) + C(copy)", random=["item", "country"], engine="sufficient")
    assert any("aliased" in n and "C(copy)" in n for n in aliased.notes)
    assert not any(t.startswith("C(copy)") for t in aliased.coefficients["term"])
    with pytest.raises(InputError, match="formula"):
        stats.fit_mixed(data, "y ~ nosuchfn(x)", random=["item", "country"], engine="sufficient")
    stats.write_fit(fit, tmp_path / "f.csv", tmp_path / "f.txt")
    report = (tmp_path / "f.txt").read_text(encoding="utf-8")
    assert lmm.ENGINE in report and "REML criterion" in report


# ---------------------------------------------------------------- lme4
LME4_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
rows <- list()
for (reml in c(TRUE, FALSE)) {
  m <- lmer(y ~ cond + group + x + (1 | item) + (1 | country), data = d, REML = reml)
  method <- if (reml) "REML" else "ML"
  fe <- fixef(m)
  se <- sqrt(diag(as.matrix(vcov(m))))
  vc <- as.data.frame(VarCorr(m))
  crit <- if (reml) REMLcrit(m) else deviance(m)
  rows[[length(rows) + 1]] <- data.frame(method = method, kind = "fixed", term = names(fe),
                                         estimate = unname(fe), se = unname(se))
  rows[[length(rows) + 1]] <- data.frame(method = method, kind = "variance", term = vc$grp,
                                         estimate = vc$vcov, se = NA)
  rows[[length(rows) + 1]] <- data.frame(method = method, kind = "objective", term = "objective",
                                         estimate = crit, se = NA)
}
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
"""


def lme4_missing_reason() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript not on PATH (apt-get install -y --no-install-recommends r-base-core r-cran-lme4)"
    probe = subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"R package lme4 not installed (apt-get install -y r-cran-lme4): {probe.stderr.strip()[:200]}"
    return None


@pytest.fixture(scope="module")
def lme4_results(tmp_path_factory):
    reason = lme4_missing_reason()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("lme4")
    data = simulate(seed=21, n_items=60, n_countries=15, keep=0.8)
    data.to_csv(tmp / "data.csv", index=False)
    (tmp / "fit.R").write_text(LME4_SCRIPT, encoding="utf-8")
    run = subprocess.run(
        ["Rscript", str(tmp / "fit.R"), str(tmp / "data.csv"), str(tmp / "out.csv")],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return data, pd.read_csv(tmp / "out.csv")


@pytest.mark.parametrize("reml", [True, False])
def test_agrees_with_lme4(lme4_results, reml):
    data, ref = lme4_results
    ref = ref[ref["method"] == ("REML" if reml else "ML")]
    ours = lmm.fit_lmm(data, "y ~ cond + group + x", ["item", "country"], reml=reml)
    fixed = ref[ref["kind"] == "fixed"]
    # same treatment coding; R names them condb/groupy, patsy cond[T.b]/group[T.y]
    assert len(fixed) == len(ours.fixed_effects) == 4
    assert ours.fixed_effects.to_numpy() == pytest.approx(fixed["estimate"].to_numpy(), rel=1e-4)
    assert ours.se.to_numpy() == pytest.approx(fixed["se"].to_numpy(), rel=1e-4)
    variance = ref[ref["kind"] == "variance"].set_index("term")["estimate"]
    for name in ["item", "country", "Residual"]:
        assert ours.variance_components[name] == pytest.approx(variance[name], rel=1e-3)
    objective = float(ref.loc[ref["kind"] == "objective", "estimate"].iloc[0])
    assert ours.objective == pytest.approx(objective, abs=1e-6 * abs(objective))
