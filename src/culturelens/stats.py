"""Linear mixed models with crossed random intercepts (statsmodels MixedLM, or exact REML on
sufficient statistics for large tables), and logistic ones for 0/1 responses (``family="binomial"``,
statsmodels BinomialBayesMixedGLM; see the end of this docstring).

Alignment scores are repeated measures on items and countries, so a model comparing conditions,
prompt languages or models needs random intercepts for both *crossed* factors. statsmodels has no
direct crossed syntax; the standard idiom is one constant group spanning all rows, no group-level
random effect (``re_formula="0"``), and one variance component per factor
(``vc_formula={f: "0 + C(f)"}``).

The fixed-effects formula comes from the config. Terms whose variables have fewer than two
distinct values in the data (e.g. ``C(condition)`` when only one condition ran) are removed with
a note instead of crashing; the same goes for random factors with a single level. Design columns
the data cannot separate (aliased with earlier ones, e.g. the interaction column of a model with a
condition it never answered) are dropped one by one, as R's lm/lmer do, and named in the notes; the
other columns of their terms stay.

statsmodels' variance-components MixedLM works on n × q matrices and slows down super-linearly
(73 s for 5,000 rows with 2,000 items × 100 countries), so beyond small tables ``fit_mixed``
uses ``culturelens.lmm``: the same model, same patsy design and term names, fitted exactly with
lme4's profiled-deviance algorithm on Z'Z, Z'X, Z'y, X'X, X'y, y'y (agrees with statsmodels and
lme4; see tests/test_lmm.py and benchmarks/bench_mixed.py). ``MixedFit.engine`` says which one
fitted a table.

``family="binomial"`` fits a logistic mixed model for a 0/1 response (e.g. ``correct``) with the
same crossed random intercepts: statsmodels ``BinomialBayesMixedGLM`` (one variance component per
random factor, as ``vc_formulas={f: "0 + C(f)"}``) fitted by mean-field variational Bayes with weak
priors (``BINOMIAL_FE_PRIOR_SD``, ``BINOMIAL_VC_PRIOR_SD``). Its posterior means of the fixed
effects agree with lme4::glmer's Laplace ML estimates to ~0.002 on the log-odds scale
(tests/test_binomial_mixed.py); its own posterior SDs of the fixed effects are far too small (the
mean-field approximation ignores their correlation with the random effects), so the standard errors
come from the Laplace curvature of the joint posterior of fixed and random effects at the VB means
with the variances held there (lme4's ``vcov(use.hessian = FALSE)``). Levels of categorical fixed
factors whose response is all 0 or all 1 (perfect separation: an infinite log-odds) are left out
with a note before fitting. With no random factor of two levels it falls back to a logistic GLM.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from culturelens import lmm
from culturelens.formulas import treatment_pattern, treatment_reference
from culturelens.errors import InputError

__all__ = [
    "MixedFit",
    "fit_mixed",
    "choose_engine",
    "write_fit",
    "fit_table",
    "report_text",
    "parse_formula",
    "prune_formula",
    "formula_variables",
    "FAMILIES",
]

ENGINE = "statsmodels MixedLM (variance components)"
ENGINE_OLS = "statsmodels OLS (no random factor with >= 2 levels)"
ENGINE_SUFFICIENT = lmm.ENGINE
#: ``fit_mixed(family=…)`` values.
FAMILIES: tuple[str, ...] = ("gaussian", "binomial")
#: Priors of the binomial mixed model: fixed effects ~ N(0, BINOMIAL_FE_PRIOR_SD²) on the log-odds
#: scale (weak: a coefficient of ±3 is already a 20-fold odds ratio), log(SD of a random factor) ~
#: N(0, BINOMIAL_VC_PRIOR_SD²) (statsmodels defaults to 1, which pulls the SD of a factor with few
#: levels towards 1: language SD 0.46 for glmer's 0.41 with 8 languages; 0.44 with prior sd 2).
BINOMIAL_FE_PRIOR_SD = 10.0
BINOMIAL_VC_PRIOR_SD = 2.0


def binomial_engine(fe_prior_sd: float | None = None, vc_prior_sd: float | None = None) -> str:
    """``MixedFit.engine`` of the binomial mixed model, naming its priors (default: the current
    ``BINOMIAL_FE_PRIOR_SD`` and ``BINOMIAL_VC_PRIOR_SD``)."""
    fe = BINOMIAL_FE_PRIOR_SD if fe_prior_sd is None else fe_prior_sd
    vc = BINOMIAL_VC_PRIOR_SD if vc_prior_sd is None else vc_prior_sd
    return (f"statsmodels BinomialBayesMixedGLM (variational Bayes; priors: fixed effects N(0, sd {fe:g}), "
            f"log random-effect SD N(0, sd {vc:g}); Laplace SEs)")


ENGINE_BINOMIAL = binomial_engine()
ENGINE_LOGIT = "statsmodels GLM binomial, logit link (no random factor with >= 2 levels)"
METHOD_VB = "variational Bayes"
#: scipy optimisers tried in turn for the VB fit, each starting where the previous one stopped.
#: L-BFGS-B first: BFGS's dense inverse-Hessian update dominates beyond a few hundred levels
#: (96k rows, 1,020 levels: 50 s against 370 s, same estimates).
VB_OPTIMIZERS: tuple[str, ...] = ("L-BFGS-B", "BFGS")
#: ``fit_mixed(engine=…)`` values.
ENGINES: tuple[str, ...] = ("auto", "statsmodels", "sufficient")
#: engine="auto" keeps statsmodels (the reference) only for tables it fits in a few seconds:
#: fewer than SUFFICIENT_FROM_ROWS rows *and* fewer than SUFFICIENT_FROM_CELLS rows × random
#: levels (the size of the Z it works on). Measured (2 CPUs, tables of 1k–5k rows, 120–2,100
#: levels): 1.3 s at 1.2e5 cells, 4.7 s at 3e5, 10 s at 7e5, 73 s at 1e7 (5,000 rows × 2,100
#: levels); the sufficient-statistics solver needs 0.1–0.2 s on each, so rows alone would not do.
#: With a third factor of ~3,500 levels (answer_id, 3,600 rows) statsmodels took 292 s of CPU and
#: the solver 10 s (lme4: 0.3 s); 774 s and 12 s at 5,000 rows (benchmarks/README.md).
SUFFICIENT_FROM_ROWS = 5_000
SUFFICIENT_FROM_CELLS = 200_000
#: Optimisers tried in order until one reports convergence.
OPTIMIZERS: tuple[str, ...] = ("lbfgs", "powell", "nm")
_Z975 = float(sps.norm.ppf(0.975))
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
#: Use sparse random-effect design matrices above this many rows × levels (dense cells).
_SPARSE_ABOVE = 2_000_000


# ---------------------------------------------------------------- formula handling
def _split_top(text: str, seps: str) -> list[tuple[str, str]]:
    """Split ``text`` on characters in ``seps`` outside brackets and quotes.

    Returns [(separator_before, piece), …]; the first separator is "".
    """
    pieces: list[tuple[str, str]] = []
    depth, quote, sep, start = 0, "", "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in seps:
            pieces.append((sep, text[start:i].strip()))
            sep, start = ch, i + 1
    pieces.append((sep, text[start:].strip()))
    return pieces


def _expand_star(term: str) -> list[str]:
    """``a*b`` → [a, b, a:b] (all interactions); other terms unchanged."""
    if "**" in term:
        return [term]
    factors = [p for _, p in _split_top(term, "*")]
    if len(factors) == 1:
        return [term]
    out = []
    for r in range(1, len(factors) + 1):
        out.extend(":".join(c) for c in combinations(factors, r))
    return out


def parse_formula(formula: str) -> tuple[str, list[str], list[str]]:
    """Split ``"y ~ a*b + C(c) - 1"`` into (lhs, added terms, removed terms).

    ``*`` is expanded into main effects and interactions so single terms can be dropped.
    """
    if formula.count("~") != 1:
        raise InputError("config", "formula", "one '~' separating response and terms", formula)
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not lhs:
        raise InputError("config", "formula", "a response left of '~'", formula)
    added, removed = [], []
    for sign, piece in _split_top(rhs, "+-"):
        if not piece:
            continue
        if sign == "-":
            removed.append(piece)
        else:
            for term in _expand_star(piece):
                if term not in added:
                    added.append(term)
    return lhs, added, removed


def formula_variables(text: str, columns) -> list[str]:
    """Data columns named in a formula fragment (identifiers outside quotes), in order."""
    cols = set(columns)
    found = []
    for name in _IDENT.findall(_QUOTED.sub(" ", text)):
        if name in cols and name not in found:
            found.append(name)
    return found


def prune_formula(formula: str, data: pd.DataFrame) -> tuple[str, list[str]]:
    """Remove right-hand-side terms that use a column with fewer than 2 distinct values.

    Returns (formula as it will be fitted, notes). A term without data columns (``1``, ``0``)
    is kept. If every term goes, the formula becomes ``lhs ~ 1``.
    """
    lhs, added, removed = parse_formula(formula)
    notes, kept = [], []
    for term in added:
        single = [v for v in formula_variables(term, data.columns) if data[v].nunique() < 2]
        if single:
            values = {v: data[v].dropna().unique().tolist()[:1] for v in single}
            notes.append(
                f"dropped fixed term '{term}': "
                + ", ".join(f"column '{v}' has a single value {values[v]}" for v in single)
            )
        else:
            kept.append(term)
    if not kept:
        if removed:
            notes.append(f"no fixed term left; also ignored removals {removed}")
        return f"{lhs} ~ 1", notes
    rhs = " + ".join(kept) + "".join(f" - {t}" for t in removed)
    return f"{lhs} ~ {rhs}", notes


# ---------------------------------------------------------------- result
@dataclass
class MixedFit:
    """A fitted mixed model in tidy form (what the stats rule writes out)."""

    coefficients: pd.DataFrame  # term, estimate, se, ci_low, ci_high, z, p (95 % Wald)
    variance_components: pd.DataFrame  # component, variance, sd (random factors + Residual)
    n_obs: int
    n_groups: dict[str, int]
    converged: bool
    method: str  # "REML" / "ML" / "variational Bayes" ("OLS" if no random factor could be fitted)
    optimizer: str
    engine: str
    formula: str  # as fitted, after pruning
    notes: list[str] = field(default_factory=list)
    dropped_rows: int = 0
    #: REML criterion (REML) or deviance −2 log L (ML) at the optimum, lme4's scale; the negative
    #: evidence lower bound for variational Bayes; NaN for OLS.
    objective: float = float("nan")
    #: "gaussian" (estimates on the response scale) or "binomial" (log-odds scale; variance
    #: components are variances of the random intercepts on the log-odds scale, no residual).
    family: str = "gaussian"


def _coef_table(est: pd.Series, se: pd.Series) -> pd.DataFrame:
    """95 % Wald table from estimates and standard errors."""
    est = est.astype(float)
    se = se.reindex(est.index).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    return pd.DataFrame(
        {
            "term": est.index.astype(str),
            "estimate": est.to_numpy(),
            "se": se.to_numpy(),
            "ci_low": (est - _Z975 * se).to_numpy(),
            "ci_high": (est + _Z975 * se).to_numpy(),
            "z": z.to_numpy(),
            "p": 2 * sps.norm.sf(np.abs(z.to_numpy())),
        }
    )


def _variance_table(names: Sequence[str], variances: Sequence[float]) -> pd.DataFrame:
    var = np.asarray(variances, dtype=float)
    return pd.DataFrame(
        {"component": list(names), "variance": var, "sd": np.sqrt(np.clip(var, 0, None))}
    )


#: statsmodels warns "boundary" whenever a variance is below 0.01 in absolute terms, which is
#: most variances for scores in [0, 1]; we drop it and check relative to the residual instead.
_IGNORED_WARNINGS = ("The MLE may be on the boundary of the parameter space",)
#: A variance component below this fraction of the residual variance is reported as ~zero.
_BOUNDARY_RELATIVE = 1e-6


def _warning_notes(caught, optimizer: str) -> list[str]:
    """Distinct warning messages, prefixed with the optimiser that raised them."""
    out = []
    for w in caught:
        if any(str(w.message).startswith(m) for m in _IGNORED_WARNINGS):
            continue
        text = f"{optimizer}: {w.category.__name__}: {str(w.message).strip()}"
        if text not in out:
            out.append(text)
    return out


# ---------------------------------------------------------------- fitting
def fit_mixed(
    data: pd.DataFrame,
    formula: str,
    random: Sequence[str] = ("item_id", "country"),
    reml: bool = True,
    engine: str = "auto",
    family: str = "gaussian",
) -> MixedFit:
    """Fit ``formula`` with crossed random intercepts for each column in ``random``.

    Rows with NaN in any column the formula or ``random`` uses are dropped first (counted in
    ``dropped_rows``). Single-level fixed terms and random factors are dropped with a note.
    With no usable random factor the model falls back to OLS (noted).

    ``engine``: "statsmodels" (MixedLM with variance components; optimisers in ``OPTIMIZERS``
    tried in turn, warnings captured into ``notes``), "sufficient" (``culturelens.lmm``: exact
    REML/ML on sufficient statistics, lme4's algorithm, O(n) once then independent of n), or
    "auto": statsmodels for small tables (below ``SUFFICIENT_FROM_ROWS`` rows and
    ``SUFFICIENT_FROM_CELLS`` rows × random levels), the sufficient-statistics solver otherwise.
    ``MixedFit.engine`` names the one used.

    ``family``: "gaussian" (linear mixed model; a 0/1 response is fitted as a linear probability
    model, with a note saying so) or "binomial" (logistic mixed model of a 0/1 response column:
    ``ENGINE_BINOMIAL``, or ``ENGINE_LOGIT`` without a usable random factor; ``reml`` does not
    apply, ``engine`` must be "auto" or "statsmodels"). Estimates are then on the log-odds scale;
    levels of categorical fixed factors whose response is all 0 or all 1 are left out first, with
    a note naming them (perfect separation).
    """
    if engine not in ENGINES:
        raise InputError("config", "engine", f"one of {list(ENGINES)}", engine)
    if family not in FAMILIES:
        raise InputError("config", "family", f"one of {list(FAMILIES)}", family)
    if family == "binomial" and engine == "sufficient":
        raise InputError("config", "engine", "'auto' or 'statsmodels' for family binomial "
                         "(the sufficient-statistics solver is for Gaussian models)", engine)
    random = list(random)
    absent = [r for r in random if r not in data.columns]
    if absent:
        raise InputError(
            "<analysis table>", "random", f"columns of the data {list(data.columns)}", absent
        )
    lhs, added, removed = parse_formula(formula)
    used = formula_variables(formula, data.columns)
    if not formula_variables(lhs, data.columns):
        raise InputError("config", "formula", f"a response column from {list(data.columns)}", lhs)
    used_all = list(dict.fromkeys(used + random))

    clean = data.dropna(subset=used_all).reset_index(drop=True)
    dropped = len(data) - len(clean)
    notes: list[str] = []
    if dropped:
        notes.append(f"dropped {dropped} of {len(data)} rows with missing values in {used_all}")
    if clean.empty:
        raise InputError("<analysis table>", ",".join(used_all), "at least one complete row", 0)

    clean = _numeric_response(clean, lhs)
    if family == "binomial":
        clean, fitted_formula, more_notes = _binomial_rows(clean, formula, lhs)
        notes += more_notes
    else:
        fitted_formula, prune_notes = prune_formula(formula, clean)
        notes += prune_notes + _linear_probability_note(clean, lhs)

    n_groups = {r: int(clean[r].nunique()) for r in random}
    usable = []
    for r in random:
        if n_groups[r] < 2:
            notes.append(f"dropped random factor '{r}': it has a single level")
        else:
            usable.append(r)

    if family == "binomial":
        fit = _fit_binomial if usable else _fit_logit
    elif not usable:
        return _fit_ols(clean, fitted_formula, n_groups, notes, dropped)
    else:
        n_levels = sum(n_groups[r] for r in usable)
        fit = _ENGINE_FITTERS[choose_engine(engine, len(clean), n_levels)]
    drop: list[str] = []
    while True:
        try:
            result = fit(clean, fitted_formula, usable, reml, drop)
            break
        except AliasedError as err:  # as R's lm/lmer: drop the aliased columns, keep the rest of their terms
            new = [c for c in err.aliased if c not in drop]
            if not new:
                raise
            drop += new
    if drop:
        notes.append(f"dropped {len(drop)} fixed-effect column(s) aliased with earlier columns in this data "
                     f"(rank-deficient design; as R's lm/lmer, the other columns of their terms are kept): "
                     + ", ".join(drop))
    result.n_groups, result.dropped_rows = n_groups, int(dropped)
    result.notes = notes + result.notes
    return result


def _numeric_response(data: pd.DataFrame, lhs: str) -> pd.DataFrame:
    """A boolean response column as 0/1 integers (the formula engine would make it a factor)."""
    if lhs in data.columns and pd.api.types.is_bool_dtype(data[lhs]):
        data = data.assign(**{lhs: data[lhs].astype(int)})
    return data


def _is_binary(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and bool(values.isin([0, 1]).all())


def _linear_probability_note(data: pd.DataFrame, lhs: str) -> list[str]:
    """A note if a Gaussian model is fitted to a 0/1 response (never silently)."""
    if lhs in data.columns and _is_binary(data[lhs]):
        return [f"response '{lhs}' is 0/1: fitted as a linear probability model (Gaussian, identity "
                "link; estimates are differences in proportions); family: binomial fits a logistic "
                "mixed model"]
    return []


def _categorical_variables(formula: str, data: pd.DataFrame) -> list[str]:
    """Right-hand-side columns the formula engine treats as factors: non-numeric (or boolean)
    columns, and numeric ones wrapped in ``C(…)``."""
    _, rhs = formula.split("~", 1)
    out = []
    for v in formula_variables(rhs, data.columns):
        col = data[v]
        wrapped = re.search(rf"\bC\(\s*{re.escape(v)}\s*[,)]", rhs) is not None
        if wrapped or pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            out.append(v)
    return out


def _binomial_rows(data: pd.DataFrame, formula: str, lhs: str) -> tuple[pd.DataFrame, str, list[str]]:
    """(rows to fit, formula to fit, notes) for a logistic model of the 0/1 column ``lhs``.

    Checks the response, then repeatedly leaves out the rows of every level of a categorical fixed
    factor whose response is all 0 or all 1 (perfect separation: the maximum-likelihood log-odds of
    that level is infinite, and a prior would only make up a finite number) and prunes single-level
    terms, until nothing changes. A treatment reference level that is left out is replaced by the
    first remaining level (noted).
    """
    if lhs not in data.columns:
        raise InputError("config", "formula", "a single 0/1 response column left of '~' for family "
                         "binomial", lhs)
    if not _is_binary(data[lhs]):
        bad = data.loc[~data[lhs].isin([0, 1]), lhs].unique().tolist()[:5]
        raise InputError("<analysis table>", lhs, "0/1 (or boolean) values for family binomial", bad)
    notes: list[str] = []
    while True:
        if data[lhs].nunique() < 2:
            raise InputError("<analysis table>", lhs, "both 0 and 1 in the rows to fit for family "
                             f"binomial (notes so far: {notes})", data[lhs].iloc[:1].tolist())
        fitted, prune_notes = prune_formula(formula, data)
        separated = []
        for var in _categorical_variables(fitted, data):
            rates = data.groupby(data[var], observed=True, sort=True)[lhs].agg(["mean", "size"])
            for level, row in rates.iterrows():
                if row["mean"] in (0.0, 1.0):
                    separated.append((var, level, int(row["mean"]), int(row["size"])))
        if not separated:
            return data.reset_index(drop=True), fitted, notes + prune_notes
        keep = pd.Series(True, index=data.index)
        for var, level, value, size in separated:
            keep &= data[var] != level
            notes.append(f"{var}={level} left out: {lhs}={value} in every one of its {size} rows "
                         "(perfect separation: its log-odds would be infinite)")
        data = data[keep]
        for var in dict.fromkeys(v for v, *_ in separated):
            reference = treatment_reference(formula, var)
            remaining = data[var].astype(str)
            if reference is not None and not remaining.eq(reference).any() and len(remaining):
                new = sorted(remaining.unique())[0]
                formula = treatment_pattern(var).sub(f"C({var}, Treatment('{new}'))", formula)
                notes.append(f"reference level {var}={reference} was left out: {var} is compared "
                             f"with '{new}' instead")
        if data.empty:
            raise InputError("<analysis table>", lhs, "rows left after leaving out perfectly "
                             f"separated levels ({notes})", 0)


def choose_engine(engine: str, n_rows: int, n_levels: int = 0) -> str:
    """"statsmodels" or "sufficient" for ``engine``; "auto" decides by the table's size
    (``n_rows``, and ``n_levels`` = levels summed over the random factors)."""
    if engine != "auto":
        return engine
    small = n_rows < SUFFICIENT_FROM_ROWS and n_rows * n_levels < SUFFICIENT_FROM_CELLS
    return "statsmodels" if small else "sufficient"


def _fit_statsmodels(data: pd.DataFrame, formula: str, random: list[str], reml: bool,
                     drop: Sequence[str] = ()) -> MixedFit:
    """statsmodels MixedLM (variance components), optimisers in ``OPTIMIZERS`` in turn."""
    model = _build_model(formula, data, random, drop)
    result, optimizer, notes = _fit_with_fallbacks(model, reml)
    vc_names = list(model.exog_vc.names)
    variances = list(np.asarray(result.vcomp, dtype=float))
    scale = float(result.scale)
    return MixedFit(
        coefficients=_coef_table(result.fe_params, result.bse_fe),
        variance_components=_variance_table(vc_names + ["Residual"], variances + [scale]),
        n_obs=int(result.nobs),
        n_groups={},
        converged=bool(result.converged),
        method="REML" if reml else "ML",
        optimizer=optimizer,
        engine=ENGINE,
        formula=formula,
        notes=notes + _boundary_notes(vc_names, variances, scale),
        objective=-2.0 * float(result.llf),
    )


def _fit_with_fallbacks(model, reml: bool):
    """(result, optimiser name, notes): the first optimiser that converges, else the last result."""
    result, optimizer, fit_notes, last_warnings = None, "", [], []
    for i, opt in enumerate(OPTIMIZERS):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                candidate = model.fit(reml=reml, method=opt)
            except Exception as exc:  # singular matrices etc.: try the next optimiser
                fit_notes.append(f"{opt} failed: {type(exc).__name__}: {exc}")
                continue
        result, optimizer = candidate, opt
        if candidate.converged:
            fit_notes += _warning_notes(caught, opt)
            break
        fit_notes.append(
            f"{opt} did not converge"
            + (f"; retrying with {OPTIMIZERS[i + 1]}" if i + 1 < len(OPTIMIZERS) else "")
        )
        last_warnings = _warning_notes(caught, opt)
    else:
        if result is None:
            raise RuntimeError(f"MixedLM failed with every optimiser: {fit_notes}")
        fit_notes += last_warnings
    return result, optimizer, fit_notes


def _fit_sufficient(data: pd.DataFrame, formula: str, random: list[str], reml: bool,
                    drop: Sequence[str] = ()) -> MixedFit:
    """culturelens.lmm: exact REML/ML on sufficient statistics (same design, same term names)."""
    try:
        fit = lmm.fit_lmm(data, formula, random, reml=reml, drop_columns=drop)
    except lmm.FormulaError as exc:
        raise InputError("config", "formula", "a formula over the data columns", formula) from exc
    except lmm.RankDeficientError as exc:
        raise _rank_error(exc.aliased, formula) from exc
    names = sorted(random)  # the order statsmodels reports its variance components in
    variances = [float(fit.variance_components[r]) for r in names]
    return MixedFit(
        coefficients=fit.coef_table(),
        variance_components=_variance_table(names + ["Residual"], variances + [fit.sigma2]),
        n_obs=fit.n_obs,
        n_groups={},
        converged=fit.converged,
        method=fit.method,
        optimizer=fit.optimizer,
        engine=fit.engine,
        formula=formula,
        notes=fit.notes + _boundary_notes(names, variances, fit.sigma2),
        objective=fit.objective,
    )


_ENGINE_FITTERS = {"statsmodels": _fit_statsmodels, "sufficient": _fit_sufficient}


def _boundary_notes(names: Sequence[str], variances: Sequence[float], scale: float) -> list[str]:
    """A note per variance component at (or within ``_BOUNDARY_RELATIVE`` of) zero."""
    return [
        f"variance of '{name}' is estimated at (or near) zero (boundary of the parameter space)"
        for name, v in zip(names, variances)
        if v <= _BOUNDARY_RELATIVE * scale
    ]


def _design(formula: str, data: pd.DataFrame, drop: Sequence[str] = ()):
    """Response and fixed-effects design (columns ``drop`` removed) from the formula engine, as an
    unfitted OLS model."""
    import statsmodels.formula.api as smf
    import statsmodels.api as sm

    try:
        design = smf.ols(formula, data)
    except Exception as exc:  # patsy/formulaic: unknown column, bad syntax …
        raise InputError("config", "formula", "a formula over the data columns", formula) from exc
    if not drop:
        return design
    exog = pd.DataFrame(design.exog, columns=design.exog_names).drop(columns=list(drop))
    return sm.OLS(pd.Series(design.endog, name=design.endog_names), exog)


def _check_rank(exog: np.ndarray, names: Sequence[str], formula: str) -> None:
    """InputError naming the aliased columns if the fixed-effects design is rank deficient.

    (E.g. ``C(condition) + C(prompt_lang)`` when every linguistic prompt is the only non-English
    one: the two effects cannot be separated and the fit would fail with a singular matrix.)
    """
    if np.linalg.matrix_rank(exog) == exog.shape[1]:
        return
    aliased, rank = [], 0
    for j in range(exog.shape[1]):
        r = np.linalg.matrix_rank(exog[:, : j + 1])
        if r == rank:
            aliased.append(names[j])
        rank = r
    raise _rank_error(aliased, formula)


class AliasedError(InputError):
    """The fixed-effects design is rank deficient; `aliased` names the redundant columns."""

    def __init__(self, aliased: Sequence[str], formula: str):
        self.aliased = list(aliased)
        super().__init__("config", "formula", "fixed effects that the data can separate (design is rank "
                         f"deficient; aliased with earlier columns: {self.aliased})", formula)


def _rank_error(aliased: Sequence[str], formula: str) -> InputError:
    return AliasedError(aliased, formula)


def _build_model(formula: str, data: pd.DataFrame, random: Sequence[str], drop: Sequence[str] = ()):
    """MixedLM with one group spanning all rows and one variance component per random factor.

    Equivalent to ``smf.mixedlm(formula, data, groups=<constant>, re_formula="0",
    vc_formula={f: "0 + C(f)"})`` but builds the indicator matrices directly (sparse when large),
    because the formula route materialises a dense rows × levels matrix first.
    """
    from scipy import sparse
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    design = _design(formula, data, drop)
    _check_rank(design.exog, design.exog_names, formula)
    n = len(data)
    exog = pd.DataFrame(design.exog, columns=design.exog_names)
    endog = pd.Series(design.endog, name=design.endog_names)
    levels = {r: pd.factorize(data[r].astype(str), sort=True) for r in random}
    use_sparse = n * sum(len(u) for _, u in levels.values()) > _SPARSE_ABOVE
    names, colnames, mats = [], [], []
    for r in sorted(random):  # statsmodels keeps components in sorted order
        codes, uniques = levels[r]
        mat = sparse.csr_array((np.ones(n), (np.arange(n), codes)), shape=(n, len(uniques)))
        names.append(r)
        colnames.append([[f"C({r})[{u}]" for u in uniques]])
        mats.append([mat if use_sparse else mat.toarray()])
    return MixedLM(endog, exog, groups=np.zeros(n, dtype=int), exog_vc=VCSpec(names, colnames, mats))


def _indicators(data: pd.DataFrame, random: Sequence[str]):
    """Sparse rows × levels indicator matrix of the random factors (sorted by name, levels sorted),
    the factor index of each column, the factor names and the column names: what
    ``vc_formulas={f: "0 + C(f)"}`` builds, without the dense intermediate."""
    from scipy import sparse

    n = len(data)
    mats, ident, names, columns = [], [], [], []
    for j, r in enumerate(sorted(random)):
        codes, uniques = pd.factorize(data[r].astype(str), sort=True)
        mats.append(sparse.csr_array((np.ones(n), (np.arange(n), codes)), shape=(n, len(uniques))))
        ident += [j] * len(uniques)
        names.append(r)
        columns += [f"C({r})[{u}]" for u in uniques]
    return sparse.hstack(mats, format="csr"), np.asarray(ident, dtype=int), names, columns


def _fit_binomial(data: pd.DataFrame, formula: str, random: list[str], reml: bool,
                  drop: Sequence[str] = ()) -> MixedFit:
    """statsmodels BinomialBayesMixedGLM, variational Bayes (optimisers in ``VB_OPTIMIZERS``)."""
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    design = _design(formula, data, drop)
    _check_rank(design.exog, design.exog_names, formula)
    exog = np.asarray(design.exog, dtype=float)
    endog = np.asarray(design.endog, dtype=float)
    exog_vc, ident, names, columns = _indicators(data, random)
    model = BinomialBayesMixedGLM(endog, exog, exog_vc, ident, vcp_p=BINOMIAL_VC_PRIOR_SD,
                                  fe_p=BINOMIAL_FE_PRIOR_SD, fep_names=list(design.exog_names),
                                  vcp_names=names, vc_names=columns)
    k = exog.shape[1] + len(names) + exog_vc.shape[1]
    # deterministic start (statsmodels would draw the starting SDs at random): means 0, SDs e^-0.5
    mean, sd = None, np.full(k, np.exp(-0.5))
    result, optimizer, notes = None, "", []
    for i, opt in enumerate(VB_OPTIMIZERS):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                candidate = model.fit_vb(mean=mean, sd=sd, fit_method=opt)
            except Exception as exc:  # numerical failure: try the next optimiser
                notes.append(f"{opt} failed: {type(exc).__name__}: {exc}")
                continue
        result, optimizer = candidate, opt
        caught_notes = _warning_notes(caught, opt)
        if candidate.optim_retvals.success:
            notes += caught_notes
            break
        retry = f"; continuing with {VB_OPTIMIZERS[i + 1]} from there" if i + 1 < len(VB_OPTIMIZERS) else ""
        notes.append(f"{opt} did not converge ({candidate.optim_retvals.message}){retry}")
        if not retry:
            notes += caught_notes
        mean, sd = candidate.params, np.sqrt(np.asarray(candidate._cov_params, dtype=float))
    if result is None:
        raise RuntimeError(f"BinomialBayesMixedGLM failed with every optimiser: {notes}")
    se = _laplace_se(exog, exog_vc, ident, result.fe_mean, result.vc_mean, result.vcp_mean)
    names_fe = pd.Index(design.exog_names)
    sds = np.exp(np.asarray(result.vcp_mean, dtype=float))
    notes.append("binomial mixed model: estimates are variational posterior means on the log-odds "
                 "scale; SEs and 95 % Wald intervals from the Laplace curvature of the posterior of "
                 "fixed and random effects at those means (random-effect SDs held there, as lme4's "
                 "vcov(use.hessian = FALSE)); variance components are variances (and SDs, "
                 "exp(posterior mean of the log SD)) of the random intercepts on the log-odds "
                 "scale; no residual variance")
    notes += [f"SD of '{name}' is estimated near zero ({v:.3g})" for name, v in zip(names, sds) if v < 0.01]
    return MixedFit(
        coefficients=_coef_table(pd.Series(result.fe_mean, index=names_fe), pd.Series(se, index=names_fe)),
        variance_components=_variance_table(names, sds**2),
        n_obs=len(endog),
        n_groups={},
        converged=bool(result.optim_retvals.success),
        method=METHOD_VB,
        optimizer=optimizer,
        engine=binomial_engine(),
        formula=formula,
        notes=notes,
        objective=float(result.optim_retvals.fun),
        family="binomial",
    )


def _laplace_se(exog, exog_vc, ident, beta, b, log_sd) -> np.ndarray:
    """Fixed-effect standard errors: the fixed-effects block of the inverse negative Hessian of
    the log posterior over (fixed effects, random intercepts) at (``beta``, ``b``) with the random
    SDs held at exp(``log_sd``), i.e. (X'WX + I/σ_fe² − X'WZ (Z'WZ + D⁻¹)⁻¹ Z'WX)⁻¹ with
    W = μ(1 − μ). This is lme4's ``vcov(use.hessian = FALSE)`` (plus the weak prior)."""
    from scipy import sparse
    from scipy.sparse.linalg import splu
    from scipy.special import expit

    mu = expit(exog @ beta + exog_vc @ b)
    w = mu * (1.0 - mu)
    xw = exog * w[:, None]
    a = exog.T @ xw + np.eye(exog.shape[1]) / BINOMIAL_FE_PRIOR_SD**2
    zt_wx = np.asarray(exog_vc.T @ xw)
    c = (exog_vc.T @ sparse.csr_array(exog_vc.multiply(w[:, None]))
         + sparse.diags_array(np.exp(-2.0 * np.asarray(log_sd)[ident])))
    schur = a - zt_wx.T @ splu(sparse.csc_matrix(c)).solve(zt_wx)
    cov = np.linalg.inv(schur)
    return np.sqrt(np.clip(np.diag(cov), 0, None))


def _fit_logit(data: pd.DataFrame, formula: str, random: list[str], reml: bool,
               drop: Sequence[str] = ()) -> MixedFit:
    """Fallback of family binomial when no random factor has two levels: a logistic GLM (ML)."""
    import statsmodels.api as sm

    design = _design(formula, data, drop)
    _check_rank(design.exog, design.exog_names, formula)
    exog = pd.DataFrame(np.asarray(design.exog, dtype=float), columns=design.exog_names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sm.GLM(np.asarray(design.endog, dtype=float), exog, family=sm.families.Binomial()).fit()
    return MixedFit(
        coefficients=_coef_table(result.params, result.bse),
        variance_components=_variance_table([], []),
        n_obs=int(result.nobs),
        n_groups={},
        converged=bool(getattr(result, "converged", True)),
        method="ML",
        optimizer="IRLS",
        engine=ENGINE_LOGIT,
        formula=formula,
        notes=["no random factor with >= 2 levels: fitted a logistic GLM instead of a mixed model; "
               "estimates on the log-odds scale"] + _warning_notes(caught, "IRLS"),
        objective=float(result.deviance),
        family="binomial",
    )


def _fit_ols(data, formula, n_groups, notes, dropped) -> MixedFit:
    """Fallback when no random factor has two levels: ordinary least squares."""
    notes = notes + ["no random factor with >= 2 levels: fitted OLS instead of a mixed model"]
    design = _design(formula, data)
    _check_rank(design.exog, design.exog_names, formula)
    result = design.fit()
    return MixedFit(
        coefficients=_coef_table(result.params, result.bse),
        variance_components=_variance_table(["Residual"], [float(result.scale)]),
        n_obs=int(result.nobs),
        n_groups=n_groups,
        converged=True,
        method="OLS",
        optimizer="pinv",
        engine=ENGINE_OLS,
        formula=formula,
        notes=notes,
        dropped_rows=int(dropped),
    )


# ---------------------------------------------------------------- output
CSV_COLUMNS = ["kind", "term", "estimate", "se", "ci_low", "ci_high", "z", "p", "engine", "method"]


def fit_table(fit: MixedFit) -> pd.DataFrame:
    """Tidy table: fixed-effect rows (kind=fixed) then variance rows (kind=variance, estimate=variance);
    every row names the engine that fitted it and the estimation method (REML / ML)."""
    fixed = fit.coefficients.assign(kind="fixed")
    var = pd.DataFrame(
        {
            "kind": "variance",
            "term": fit.variance_components["component"].to_numpy(),
            "estimate": fit.variance_components["variance"].to_numpy(),
        }
    )
    table = pd.concat([fixed, var], ignore_index=True) if len(var) else fixed
    return table.assign(engine=fit.engine, method=fit.method).reindex(columns=CSV_COLUMNS)


def report_text(fit: MixedFit) -> str:
    """Human-readable report of a fit."""
    groups = ", ".join(f"{k}: {v}" for k, v in fit.n_groups.items()) or "none"
    lines = [
        f"formula:     {fit.formula}",
        f"family:      {_FAMILY_TEXT.get(fit.family, fit.family)}",
        f"engine:      {fit.engine}",
        f"method:      {fit.method}",
        f"objective:   {_objective_text(fit)}",
        f"optimizer:   {fit.optimizer}",
        f"converged:   {'yes' if fit.converged else 'NO'}",
        f"n obs:       {fit.n_obs} (dropped rows with missing values: {fit.dropped_rows})",
        f"groups:      {groups}",
        "notes:",
        *([f"  - {n}" for n in fit.notes] or ["  (none)"]),
        "",
        "fixed effects (95 % Wald intervals"
        + ("; log-odds scale):" if fit.family == "binomial" else "):"),
        fit.coefficients.to_string(index=False, float_format=lambda x: f"{x:.4g}"),
        "",
        "variance components" + (" (random intercepts, log-odds scale):" if fit.family == "binomial" else ":"),
        fit.variance_components.to_string(index=False, float_format=lambda x: f"{x:.4g}")
        if len(fit.variance_components) else "  (none)",
        "",
    ]
    return "\n".join(lines)


_FAMILY_TEXT = {"gaussian": "gaussian (identity link)", "binomial": "binomial (logit link)"}


def _objective_text(fit: MixedFit) -> str:
    if fit.method == METHOD_VB:
        return f"{fit.objective:.6f} (negative evidence lower bound)"
    if fit.method == "REML":
        return f"{fit.objective:.6f} (REML criterion)"
    if fit.method == "ML":
        return f"{fit.objective:.6f} (deviance, -2 log-likelihood)"
    return "n/a"


def write_fit(fit: MixedFit, csv_path, txt_path) -> None:
    """Write the tidy CSV (columns ``CSV_COLUMNS``) and the text report, creating directories."""
    csv_path, txt_path = Path(csv_path), Path(txt_path)
    for p in (csv_path, txt_path):
        p.parent.mkdir(parents=True, exist_ok=True)
    fit_table(fit).to_csv(csv_path, index=False)
    txt_path.write_text(report_text(fit), encoding="utf-8")
