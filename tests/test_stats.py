"""Mixed models: recovery of simulated truth, term pruning, NaN handling, fallbacks, output files."""

import numpy as np
import pandas as pd
import pytest

from culturelens import stats
from culturelens.errors import InputError

TRUTH = {"intercept": 0.6, "effect": 0.1, "sd_item": 0.15, "sd_country": 0.05, "sd_noise": 0.03}


def simulate(seed=7, n_items=30, n_countries=12, conditions=("default", "cross_national")):
    """y = 0.6 + 0.1·[cross_national] + item effect + country effect + noise (crossed design)."""
    rng = np.random.default_rng(seed)
    item_eff = rng.normal(0, TRUTH["sd_item"], n_items)
    country_eff = rng.normal(0, TRUTH["sd_country"], n_countries)
    rows = []
    for i in range(n_items):
        for c in range(n_countries):
            for cond in conditions:
                y = (
                    TRUTH["intercept"]
                    + TRUTH["effect"] * (cond == "cross_national")
                    + item_eff[i]
                    + country_eff[c]
                    + rng.normal(0, TRUTH["sd_noise"])
                )
                rows.append((f"q{i:02d}", f"C{c:02d}", cond, "en", y))
    return pd.DataFrame(rows, columns=["item_id", "country", "condition", "prompt_lang", "js_sim"])


FORMULA = "js_sim ~ C(condition, Treatment('default'))"
EFFECT = "C(condition, Treatment('default'))[T.cross_national]"


@pytest.fixture(scope="module")
def sim_fit():
    return stats.fit_mixed(simulate(), FORMULA)


# ---------------------------------------------------------------- recovery
def test_recovers_fixed_effects(sim_fit):
    coef = sim_fit.coefficients.set_index("term")
    assert list(coef.columns) == ["estimate", "se", "ci_low", "ci_high", "z", "p"]
    # intercept: SE ≈ sqrt(.15²/30 + .05²/12) ≈ 0.030, so allow 3 SE around 0.6
    assert abs(coef.loc["Intercept", "estimate"] - 0.6) < 3 * coef.loc["Intercept", "se"]
    assert coef.loc["Intercept", "se"] == pytest.approx(0.030, rel=0.35)
    # effect: within-cell contrast, SE ≈ .03·sqrt(2/360) ≈ 0.0022
    assert coef.loc[EFFECT, "estimate"] == pytest.approx(0.1, abs=0.008)
    assert coef.loc[EFFECT, "se"] == pytest.approx(0.03 * np.sqrt(2 / 360), rel=0.2)
    # the Wald columns are consistent: ci = est ± 1.96·se, z = est/se
    row = coef.loc[EFFECT]
    assert row["ci_low"] == pytest.approx(row["estimate"] - 1.959964 * row["se"])
    assert row["z"] == pytest.approx(row["estimate"] / row["se"])
    assert row["p"] < 1e-10
    assert sim_fit.converged and sim_fit.optimizer == "lbfgs" and sim_fit.method == "REML"


def test_recovers_variance_components(sim_fit):
    vc = sim_fit.variance_components.set_index("component")
    assert list(vc.index) == ["country", "item_id", "Residual"]
    # SD estimates from 30 items / 12 countries carry ~15 % / ~25 % sampling error
    assert vc.loc["item_id", "sd"] == pytest.approx(TRUTH["sd_item"], rel=0.3)
    assert vc.loc["country", "sd"] == pytest.approx(TRUTH["sd_country"], rel=0.5)
    # 720 residuals: SD known to within a few per cent
    assert vc.loc["Residual", "sd"] == pytest.approx(TRUTH["sd_noise"], rel=0.1)
    assert vc["sd"].to_numpy() == pytest.approx(np.sqrt(vc["variance"].to_numpy()))
    assert sim_fit.n_obs == 720 and sim_fit.n_groups == {"item_id": 30, "country": 12}


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning")
def test_matches_statsmodels_formula_idiom(sim_fit):
    """The directly built model equals smf.mixedlm with the crossed variance-components idiom."""
    import statsmodels.formula.api as smf

    data = simulate()
    ref = smf.mixedlm(
        FORMULA,
        data,
        groups=np.ones(len(data)),
        re_formula="0",
        vc_formula={"item_id": "0 + C(item_id)", "country": "0 + C(country)"},
    ).fit(reml=True, method="lbfgs")
    ours = sim_fit.coefficients.set_index("term")["estimate"]
    assert ours.to_numpy() == pytest.approx(ref.fe_params.to_numpy(), abs=1e-6)
    vc = sim_fit.variance_components.set_index("component")["variance"]
    assert [vc["country"], vc["item_id"]] == pytest.approx(list(ref.vcomp), rel=1e-4)
    assert vc["Residual"] == pytest.approx(ref.scale, rel=1e-4)


def test_sparse_path_gives_same_fit(monkeypatch, sim_fit):
    monkeypatch.setattr(stats, "_SPARSE_ABOVE", 0)
    sparse_fit = stats.fit_mixed(simulate(), FORMULA)
    assert sparse_fit.coefficients["estimate"].to_numpy() == pytest.approx(
        sim_fit.coefficients["estimate"].to_numpy(), abs=1e-6
    )


def test_ml_is_passed_through():
    data = simulate(n_items=12, n_countries=6)
    ml = stats.fit_mixed(data, FORMULA, reml=False)
    reml = stats.fit_mixed(data, FORMULA)
    assert ml.method == "ML" and reml.method == "REML"
    # ML ignores the degrees of freedom spent on fixed effects, so its variances come out smaller
    ml_var = ml.variance_components.set_index("component")["variance"]
    reml_var = reml.variance_components.set_index("component")["variance"]
    assert ml_var["item_id"] < reml_var["item_id"]
    assert ml_var["Residual"] < reml_var["Residual"]


# ---------------------------------------------------------------- pruning
def test_parse_formula_expands_star_and_keeps_removals():
    lhs, added, removed = stats.parse_formula("y ~ a*b + C(c, Treatment('x-y+z')) - 1")
    assert lhs == "y"
    assert added == ["a", "b", "a:b", "C(c, Treatment('x-y+z'))"]
    assert removed == ["1"]


def test_formula_variables_ignores_functions_and_quoted_levels():
    cols = ["condition", "default", "x"]
    assert stats.formula_variables("C(condition, Treatment('default')) + np.log(x)", cols) == [
        "condition",
        "x",
    ]


def test_prune_formula_drops_single_level_terms():
    df = pd.DataFrame({"y": [1.0, 2, 3], "a": ["u", "u", "u"], "b": ["p", "q", "p"]})
    formula, notes = stats.prune_formula("y ~ C(a)*C(b)", df)
    # C(a), C(a):C(b) go (a is constant); C(b) stays
    assert formula == "y ~ C(b)"
    assert len(notes) == 2 and all("'a'" in n for n in notes)
    formula, notes = stats.prune_formula("y ~ C(a)", df)
    assert formula == "y ~ 1"


def test_single_level_fixed_factor_is_dropped_with_note():
    data = simulate(n_items=12, n_countries=6, conditions=("default",))
    fit = stats.fit_mixed(data, "js_sim ~ C(condition) + C(prompt_lang)")
    assert fit.formula == "js_sim ~ 1"
    assert any("C(condition)" in n and "single value" in n for n in fit.notes)
    assert any("C(prompt_lang)" in n for n in fit.notes)
    assert list(fit.coefficients["term"]) == ["Intercept"]
    assert fit.coefficients["estimate"].iloc[0] == pytest.approx(0.6, abs=0.15)


def test_single_level_random_factor_is_dropped_with_note():
    data = simulate(n_items=12, n_countries=1)
    fit = stats.fit_mixed(data, FORMULA)
    assert fit.n_groups == {"item_id": 12, "country": 1}
    assert any("random factor 'country'" in n for n in fit.notes)
    assert list(fit.variance_components["component"]) == ["item_id", "Residual"]
    assert fit.engine == stats.ENGINE


def test_no_random_factor_left_falls_back_to_ols():
    data = simulate(n_items=1, n_countries=1, conditions=("default", "cross_national"))
    data = pd.concat([data] * 5, ignore_index=True)
    data["js_sim"] += np.arange(len(data)) * 0.001  # not perfectly fit
    fit = stats.fit_mixed(data, FORMULA)
    assert fit.method == "OLS" and fit.engine == stats.ENGINE_OLS
    assert any("OLS" in n for n in fit.notes)
    assert list(fit.variance_components["component"]) == ["Residual"]


# ---------------------------------------------------------------- missing values
def test_nan_rows_dropped_and_counted():
    data = simulate(n_items=12, n_countries=6)  # 144 rows
    data["unused"] = np.nan  # NaN in a column the model does not use: no rows lost
    data.loc[[0, 1, 2], "js_sim"] = np.nan
    data.loc[[2, 3], "condition"] = None  # row 2 already counted
    data.loc[[10], "country"] = None
    fit = stats.fit_mixed(data, FORMULA)
    # rows 0, 1, 2, 3, 10 → 5 dropped, 144 − 5 = 139 fitted
    assert fit.dropped_rows == 5
    assert fit.n_obs == 139
    assert any("dropped 5 of 144 rows" in n for n in fit.notes)


# ---------------------------------------------------------------- errors and fallbacks
@pytest.mark.parametrize("engine", ["statsmodels", "sufficient"])
def test_confounded_fixed_effects_are_dropped_with_a_note(engine):
    """As R drops aliased columns: the later, redundant column goes and the fit says so."""
    data = simulate(n_items=12, n_countries=6)
    data["prompt_lang"] = np.where(data["condition"] == "default", "en", "de")
    fit = stats.fit_mixed(data, "js_sim ~ C(condition) + C(prompt_lang)", engine=engine)
    assert any("C(prompt_lang)[T.en]" in n and "aliased" in n for n in fit.notes)
    assert "C(prompt_lang)[T.en]" not in set(fit.coefficients["term"])
    reference = stats.fit_mixed(data, "js_sim ~ C(condition)", engine=engine)
    assert fit.coefficients["estimate"].tolist() == pytest.approx(reference.coefficients["estimate"].tolist())


@pytest.mark.parametrize("engine", ["statsmodels", "sufficient"])
def test_an_empty_cell_of_an_interaction_drops_one_column_not_the_term(engine):
    """The oracle abstains under default prompting: model × condition has an empty cell. R's lmer
    drops the one aliased column; the other interaction columns stay estimable and are reported."""
    conditions = ("default", "cross_national", "linguistic")
    frames = []
    for k, model in enumerate(["uniform", "pooled", "oracle"]):
        part = simulate(seed=k, n_items=12, n_countries=6, conditions=conditions).assign(model=model)
        part["js_sim"] += 0.05 * k + 0.03 * k * (part["condition"] == "linguistic")
        frames.append(part)
    data = pd.concat(frames, ignore_index=True)
    data = data[~((data["model"] == "oracle") & (data["condition"] == "default"))]
    formula = "js_sim ~ C(model, Treatment('uniform')) * C(condition, Treatment('default'))"
    fit = stats.fit_mixed(data, formula, engine=engine)
    terms = list(fit.coefficients["term"])
    dropped = [n for n in fit.notes if "aliased" in n]
    assert len(dropped) == 1 and "dropped 1 fixed-effect column" in dropped[0]
    # 1 + 2 models + 2 conditions + 4 interactions = 9 columns, one aliased: 8 estimated
    assert len(terms) == 8
    assert sum(":" in t for t in terms) == 3  # the pooled × condition columns and one of the oracle's
    pooled_ling = "C(model, Treatment('uniform'))[T.pooled]:C(condition, Treatment('default'))[T.linguistic]"
    est = fit.coefficients.set_index("term")["estimate"]
    assert est[pooled_ling] == pytest.approx(0.03, abs=0.03)


def test_missing_random_column_raises_input_error():
    with pytest.raises(InputError, match="random"):
        stats.fit_mixed(simulate(n_items=4, n_countries=3), FORMULA, random=("item_id", "model"))


def test_optimizer_fallback_recorded(monkeypatch):
    from statsmodels.regression.mixed_linear_model import MixedLM

    original = MixedLM.fit

    def lbfgs_never_converges(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if kwargs.get("method") == "lbfgs":
            result.converged = False
        return result

    monkeypatch.setattr(MixedLM, "fit", lbfgs_never_converges)
    fit = stats.fit_mixed(simulate(n_items=12, n_countries=6), FORMULA)
    assert fit.optimizer == "powell" and fit.converged
    assert "lbfgs did not converge; retrying with powell" in fit.notes
    assert fit.coefficients.set_index("term").loc[EFFECT, "estimate"] == pytest.approx(0.1, abs=0.02)


# ---------------------------------------------------------------- output
def test_write_fit(tmp_path, sim_fit):
    csv, txt = tmp_path / "out" / "fit.csv", tmp_path / "out" / "fit.txt"
    stats.write_fit(sim_fit, csv, txt)
    table = pd.read_csv(csv)
    assert list(table.columns) == ["kind", "term", "estimate", "se", "ci_low", "ci_high", "z", "p", "engine", "method"]
    assert set(table["engine"]) == {sim_fit.engine} and set(table["method"]) == {"REML"}  # every row names them
    assert list(table["kind"]) == ["fixed", "fixed", "variance", "variance", "variance"]
    assert list(table["term"])[2:] == ["country", "item_id", "Residual"]
    assert table["estimate"].iloc[4] == pytest.approx(sim_fit.variance_components["variance"].iloc[2])
    report = txt.read_text(encoding="utf-8")
    for expected in [FORMULA, stats.ENGINE, "REML", "lbfgs", "converged:   yes", "item_id: 30"]:
        assert expected in report
