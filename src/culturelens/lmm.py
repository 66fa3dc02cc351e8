"""Exact REML/ML for linear mixed models with crossed random intercepts, on sufficient statistics.

Model: ``y = Xβ + Z₁b₁ + … + Z_Kb_K + ε`` with ``b_k ~ N(0, σ²θ_k² I)`` and ``ε ~ N(0, σ² I)``;
each ``Z_k`` is the indicator matrix of one grouping factor (items, countries, …), the factors
crossed (or nested, when their levels are coded uniquely).

The algorithm is lme4's (Bates, Mächler, Bolker & Walker 2015, J. Stat. Softw. 67(1), section 3):
with the relative covariance factor ``Λ_θ = diag(θ_k I_{q_k})`` and the Cholesky factor
``L L' = Λ'Z'ZΛ + I``, the deviance profiled over β and σ² is

* ML:   ``log|L|² + n [1 + log(2π r²/n)]``
* REML: ``log|L|² + log|R_X|² + (n−p) [1 + log(2π r²/(n−p))]``

where ``r²`` is the minimum penalised residual sum of squares and ``R_X'R_X = X'V⁻¹X`` (Schur
complement of the blocked system). It is minimised over θ ≥ 0, derivative-free like lme4's
BOBYQA (scipy's COBYQA; Nelder–Mead and Powell as fallbacks). Everything the deviance needs is a
function of ``Z'Z``, ``Z'[X y]`` and ``[X y]'[X y]``, formed once in O(n); each evaluation then
costs O(q·q_rest² + q·p²) with q the number of levels, independent of n.

Then β̂ = R_X⁻¹c_β, σ² = r²/(n−p) (REML) or r²/n (ML), variance components σ²θ_k², and
Cov(β̂) = σ²(X'V⁻¹X)⁻¹ = σ²R_X⁻¹R_X⁻ᵀ, as lme4's ``fixef``, ``sigma``, ``VarCorr`` and ``vcov``.

The Cholesky factor is blocked (as in MixedModels.jl): the factor with the most levels comes
first, its block of ``Λ'Z'ZΛ + I`` is diagonal and is eliminated exactly; only the Schur complement
on the remaining factors' levels (countries, models: ~100s) is factorised densely. When the other
factors have too many levels for a dense factorisation, the whole matrix goes to a sparse LU
(``scipy.sparse.linalg.splu``, symmetric mode, natural ordering: largest factor first).
"""

from __future__ import annotations

import ctypes
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
from scipy import linalg as sla
from scipy import optimize, sparse
from scipy import stats as sps
from scipy.sparse import linalg as spla

__all__ = [
    "ENGINE",
    "LmmFit",
    "CrossedStatistics",
    "RankDeficientError",
    "FormulaError",
    "fit_lmm",
    "fit_arrays",
    "design_matrices",
    "crossed_statistics",
    "profiled_deviance",
    "solve_at",
]

ENGINE = "culturelens exact REML/ML on sufficient statistics (lme4 algorithm)"
#: Optimisers tried in turn until one converges (all derivative-free, all respect θ ≥ 0). COBYQA
#: (Powell's successor to BOBYQA, which lme4 uses) needs the fewest evaluations; L-BFGS-B with
#: finite-difference gradients was measured less reliable (spurious line-search failures, and
#: stuck at θ_k = 0 where the even deviance has zero slope), so it is only available on request.
OPTIMIZERS: tuple[str, ...] = ("COBYQA", "Nelder-Mead", "Powell")
#: Dense Cholesky of the Schur complement up to this many levels outside the largest factor;
#: above it the whole q×q matrix goes to a sparse LU.
DENSE_REST_MAX = 3000
#: Z₁'Z_rest is kept sparse when fewer than this fraction of its cells are non-empty.
_SPARSE_CROSS_FILL = 0.1
_Z975 = float(sps.norm.ppf(0.975))
_LOG_2PI = math.log(2 * math.pi)


class RankDeficientError(ValueError):
    """The fixed-effects design has aliased columns (``aliased``: their names)."""

    def __init__(self, aliased: Sequence[str]):
        self.aliased = list(aliased)
        super().__init__(f"fixed-effects design is rank deficient; aliased columns: {self.aliased}")


class FormulaError(ValueError):
    """patsy could not build the design from the formula and the data."""


# ---------------------------------------------------------------- BLAS threads
def _thread_functions(lib: ctypes.CDLL) -> tuple[Callable, Callable] | None:
    """(get, set) number-of-threads functions of one OpenBLAS build (names vary by packager)."""
    for prefix in ("scipy_openblas_", "openblas_"):
        for suffix in ("64_", ""):
            get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, put
    return None


@lru_cache(maxsize=1)
def _openblas_thread_controls() -> tuple[tuple[Callable, Callable], ...]:
    """(get, set) pairs of every OpenBLAS loaded in this process (numpy and scipy wheels each
    bundle one). Linux only (reads /proc/self/maps); empty elsewhere or with another BLAS."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower() and ".so" in ln})
    except OSError:
        return ()
    controls = []
    for path in paths:
        try:
            functions = _thread_functions(ctypes.CDLL(path))
        except OSError:
            continue
        if functions is not None:
            controls.append(functions)
    return tuple(controls)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with OpenBLAS on one thread, then restore the previous counts.

    The matrices here are small (q_rest × q_rest, p × p): threading them buys little, and when
    another process keeps a core busy OpenBLAS threads spin-wait on each other — measured 30×
    slower (0.34 s → 10 s for 200k rows on 2 cores with one busy). lme4 (R's reference BLAS)
    runs on one thread too.
    """
    controls = _openblas_thread_controls()
    before = [get() for get, _ in controls]
    try:
        for _, put in controls:
            put(1)
        yield
    finally:
        for (_, put), n in zip(controls, before):
            put(n)


# ---------------------------------------------------------------- sufficient statistics
@dataclass(frozen=True)
class CrossedStatistics:
    """Everything the profiled deviance needs, in blocked order (largest factor first).

    ``first_counts``: diagonal of Z₁'Z₁; ``first_cross``: Z₁'Z_rest (q₁ × q_rest, dense or
    sparse); ``rest_gram``: Z_rest'Z_rest (dense, or None when the sparse path is used);
    ``zt_xy``: Z'[X y] (q × (p+1)); ``xy_gram``: [X y]'[X y]; ``ztz``: full sparse Z'Z, kept
    only for the sparse path.
    """

    n: int
    p: int
    factors: tuple[str, ...]  # blocked order
    n_levels: tuple[int, ...]  # blocked order
    first_counts: np.ndarray
    first_cross: object
    rest_gram: np.ndarray | None
    zt_xy: np.ndarray
    xy_gram: np.ndarray
    ztz: sparse.csr_array | None = None

    @property
    def q(self) -> int:
        return int(sum(self.n_levels))

    @property
    def dense(self) -> bool:
        return self.rest_gram is not None

    def level_scale(self, theta: np.ndarray, first: int = 0) -> np.ndarray:
        """Diagonal of Λ_θ: θ_k repeated over factor k's levels (factors ``first`` onwards)."""
        return np.repeat(np.asarray(theta, dtype=float)[first:], self.n_levels[first:])


def _cross_counts(a: np.ndarray, qa: int, b: np.ndarray, qb: int) -> np.ndarray:
    """Z_a'Z_b (dense): how many rows fall in each (level of a, level of b) cell."""
    return np.bincount(a * qb + b, minlength=qa * qb).reshape(qa, qb).astype(float)


def _level_sums(codes: np.ndarray, q: int, xy: np.ndarray) -> np.ndarray:
    """Z_k'[X y]: column sums of [X y] within each level of factor k."""
    return np.column_stack([np.bincount(codes, weights=xy[:, j], minlength=q) for j in range(xy.shape[1])])


def _largest_first(codes, factors):
    """(codes, levels, names) reordered so the factor with the most levels comes first."""
    levels = [int(np.max(c)) + 1 for c in codes]
    order = sorted(range(len(codes)), key=lambda k: -levels[k])
    return (
        [np.asarray(codes[k], dtype=np.int64) for k in order],
        [levels[k] for k in order],
        tuple(factors[k] for k in order),
    )


def crossed_statistics(
    X: np.ndarray, y: np.ndarray, codes: Sequence[np.ndarray], factors: Sequence[str]
) -> CrossedStatistics:
    """Form Z'Z, Z'[X y] and [X y]'[X y] once (O(n)); ``codes[k]`` are 0-based level codes."""
    X = np.asarray(X, dtype=float)
    xy = np.column_stack([X, np.asarray(y, dtype=float)])
    codes, levels, factors = _largest_first(codes, factors)
    common = dict(
        n=len(xy), p=X.shape[1], factors=factors, n_levels=tuple(levels),
        first_counts=np.bincount(codes[0], minlength=levels[0]).astype(float),
        zt_xy=np.vstack([_level_sums(c, q, xy) for c, q in zip(codes, levels)]),
        xy_gram=xy.T @ xy,
    )
    if sum(levels[1:]) > DENSE_REST_MAX:
        return CrossedStatistics(
            first_cross=None, rest_gram=None, ztz=_full_gram(codes, levels), **common
        )
    return CrossedStatistics(
        first_cross=_first_cross(codes, levels),
        rest_gram=_rest_gram(codes[1:], levels[1:]),
        **common,
    )


def _first_cross(codes: Sequence[np.ndarray], levels: Sequence[int]):
    """Z₁'Z_rest (q₁ × q_rest): sparse when few of its cells are non-empty, else dense.

    It enters each evaluation as Z_rest'Z₁ W Z₁'Z_rest; measured with q_rest = 1000–3000 and
    1–5 % of cells filled, the sparse product is 2.5–6× faster, with 60 % filled 10× slower.
    """
    q1, q_rest = levels[0], sum(levels[1:])
    if q_rest == 0:
        return np.zeros((q1, 0))
    offsets = np.cumsum([0, *levels[1:-1]])
    cols = np.concatenate([c + o for c, o in zip(codes[1:], offsets)])
    rows = np.tile(codes[0], len(codes) - 1)
    cross = sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(q1, q_rest))
    if cross.nnz < _SPARSE_CROSS_FILL * q1 * q_rest:
        return cross
    return cross.toarray()


def _rest_gram(codes: Sequence[np.ndarray], levels: Sequence[int]) -> np.ndarray:
    """Dense Z_rest'Z_rest over all factors but the first."""
    offsets = np.cumsum([0, *levels])
    gram = np.zeros((offsets[-1], offsets[-1]))
    for k, (ck, qk) in enumerate(zip(codes, levels)):
        ok = slice(offsets[k], offsets[k + 1])
        gram[ok, ok] = np.diag(np.bincount(ck, minlength=qk).astype(float))
        for m in range(k + 1, len(codes)):
            om = slice(offsets[m], offsets[m + 1])
            block = _cross_counts(ck, qk, codes[m], levels[m])
            gram[ok, om], gram[om, ok] = block, block.T
    return gram


def _full_gram(codes: Sequence[np.ndarray], levels: Sequence[int]) -> sparse.csr_array:
    """Sparse Z'Z over all factors (the sparse-LU path)."""
    offsets = np.cumsum([0, *levels])
    n = len(codes[0])
    cols = np.concatenate([c + o for c, o in zip(codes, offsets[:-1])])
    rows = np.tile(np.arange(n), len(codes))
    z = sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, int(offsets[-1])))
    return sparse.csr_array(z.T @ z)


# ---------------------------------------------------------------- the deviance
def _schur_xy(theta: np.ndarray, st: CrossedStatistics) -> tuple[float, np.ndarray]:
    """(log|L|², [X y]'V⁻¹[X y]) for A = Λ'Z'ZΛ + I = LL' (Woodbury: [X y]'[X y] − B'A⁻¹B)."""
    if st.dense:
        return _schur_xy_blocked(theta, st)
    return _schur_xy_sparse(theta, st)


def _schur_xy_blocked(theta: np.ndarray, st: CrossedStatistics) -> tuple[float, np.ndarray]:
    """Blocked Cholesky: the first factor's block of A is diagonal and is eliminated exactly."""
    q1, t1 = st.n_levels[0], float(theta[0])
    a1 = t1 * t1 * st.first_counts + 1.0  # A₁₁ (diagonal) = L₁₁²
    b1 = t1 * st.zt_xy[:q1]  # B₁ = θ₁Z₁'[X y]
    w1 = b1 / np.sqrt(a1)[:, None]  # L₁₁⁻¹B₁
    logdet, quad = float(np.log(a1).sum()), w1.T @ w1
    if len(st.n_levels) > 1:
        logdet_rest, quad_rest = _rest_block(theta, st, a1, b1)
        logdet, quad = logdet + logdet_rest, quad + quad_rest
    return logdet, st.xy_gram - quad


def _rest_block(
    theta: np.ndarray, st: CrossedStatistics, a1: np.ndarray, b1: np.ndarray
) -> tuple[float, np.ndarray]:
    """(log|L₂₂|², W₂'W₂) of the other factors' block after eliminating the first factor.

    S = A₂₂ − A₂₁A₁₁⁻¹A₁₂ = L₂₂L₂₂' (dense Cholesky), W₂ = L₂₂⁻¹(B₂ − A₂₁A₁₁⁻¹B₁), with
    A₂₁ = Λ₂ Z₂'Z₁ θ₁ and A₂₂ = Λ₂ Z₂'Z₂ Λ₂ + I.
    """
    q1, t1 = st.n_levels[0], float(theta[0])
    lam = st.level_scale(theta, first=1)
    cross = st.first_cross  # Z₁'Z₂
    if sparse.issparse(cross):
        eliminated = (cross.T @ (sparse.diags_array(t1 * t1 / a1) @ cross)).toarray()
    else:
        eliminated = cross.T @ (cross * (t1 * t1 / a1)[:, None])
    schur = (st.rest_gram - eliminated) * np.outer(lam, lam)
    schur[np.diag_indices_from(schur)] += 1.0
    chol = sla.cholesky(schur, lower=True, check_finite=False)
    rhs = lam[:, None] * (st.zt_xy[q1:] - t1 * np.asarray(cross.T @ (b1 / a1[:, None])))
    w2 = sla.solve_triangular(chol, rhs, lower=True, check_finite=False)
    return 2.0 * float(np.log(np.diag(chol)).sum()), w2.T @ w2


def _schur_xy_sparse(theta: np.ndarray, st: CrossedStatistics) -> tuple[float, np.ndarray]:
    """Sparse LU (symmetric mode, diagonal pivots) of the whole q×q matrix.

    Natural order = largest factor first, whose block is diagonal: its elimination only fills
    the other factors' block, which is what the blocked path does densely. Measured at 200k rows
    (2,000 × 100 levels): natural 13 ms per factorisation, COLAMD 15 ms, minimum degree 204 ms.
    """
    lam = st.level_scale(theta)
    scale = sparse.diags_array(lam)
    a = sparse.csc_array(scale @ st.ztz @ scale + sparse.eye_array(st.q))
    lu = spla.splu(
        a, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True}
    )
    b = lam[:, None] * st.zt_xy
    logdet = float(np.log(np.abs(lu.U.diagonal())).sum())
    return logdet, st.xy_gram - b.T @ lu.solve(b)


@dataclass
class _Solution:
    """The profiled quantities at one θ."""

    deviance: float
    beta: np.ndarray
    r_x: np.ndarray  # upper triangular, R_X'R_X = X'V⁻¹X
    pwrss: float  # r²
    logdet_l: float  # log|L|²


def solve_at(theta: np.ndarray, st: CrossedStatistics, reml: bool = True) -> _Solution:
    """Profiled deviance, β̂ and R_X at θ (θ in blocked factor order)."""
    logdet_l, g = _schur_xy(np.asarray(theta, dtype=float), st)
    chol = sla.cholesky(g, lower=True, check_finite=False)  # [X y]'V⁻¹[X y] = LL'
    p = st.p
    r_x = chol[:p, :p].T
    c_beta = chol[p, :p]
    pwrss = float(chol[p, p]) ** 2
    if not pwrss > 0:  # y in the column space of [X ZΛ]: a perfect fit, no likelihood
        raise np.linalg.LinAlgError("zero penalised residual sum of squares")
    beta = sla.solve_triangular(r_x, c_beta, lower=False, check_finite=False) if p else np.zeros(0)
    if reml:
        dof = st.n - p
        logdet_rx = 2.0 * float(np.log(np.abs(np.diag(r_x))).sum())
        dev = logdet_l + logdet_rx + dof * (1.0 + _LOG_2PI + math.log(pwrss / dof))
    else:
        dev = logdet_l + st.n * (1.0 + _LOG_2PI + math.log(pwrss / st.n))
    return _Solution(dev, beta, r_x, pwrss, logdet_l)


def profiled_deviance(theta: np.ndarray, st: CrossedStatistics, reml: bool = True) -> float:
    """The REML criterion or ML deviance (−2 log-likelihood, lme4's scale) at θ; inf if singular."""
    try:
        return solve_at(theta, st, reml).deviance
    except np.linalg.LinAlgError:  # not positive definite (θ far out, or a perfect fit)
        return math.inf


# ---------------------------------------------------------------- optimisation
def _minimise(fun: Callable, x0: np.ndarray, method: str) -> optimize.OptimizeResult:
    """One derivative-free run over θ ≥ 0 with tolerances tight enough for 1e-6 relative θ."""
    bounds = [(0.0, None)] * len(x0)
    options = {
        "COBYQA": {"final_tr_radius": 1e-8, "maxfev": 200 * len(x0) + 400},
        "Nelder-Mead": {"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000, "adaptive": True},
        "Powell": {"xtol": 1e-8, "ftol": 1e-13},
        "L-BFGS-B": {"ftol": 1e-14, "gtol": 1e-7, "maxiter": 500},
    }[method]
    jac = "3-point" if method == "L-BFGS-B" else None
    return optimize.minimize(fun, x0, method=method, jac=jac, bounds=bounds, options=options)


def _snap_to_boundary(
    theta: np.ndarray, deviance: float, fun: Callable, below: float = 1e-4
) -> tuple[np.ndarray, float]:
    """Set θ_k < ``below`` to exactly 0 when that does not raise the deviance (beyond rounding).

    A derivative-free optimiser stops a trust-region radius away from the bound (θ ≈ 5e-7,
    i.e. a variance 1e-13 of the residual's); the deviance is even in each θ_k, so zero is the
    boundary optimum whenever the small value is.
    """
    small = (theta > 0) & (theta < below)
    if not small.any():
        return theta, deviance
    snapped = np.where(small, 0.0, theta)
    value = fun(snapped)
    if value <= deviance + 1e-10 * max(1.0, abs(deviance)):
        return snapped, value
    return theta, deviance


def optimise_theta(
    st: CrossedStatistics,
    reml: bool = True,
    x0: Sequence[float] | None = None,
    optimizers: Sequence[str] | None = None,
) -> tuple[np.ndarray, optimize.OptimizeResult, str, list[str]]:
    """Minimise the profiled deviance over θ ≥ 0; ``optimizers`` (default ``OPTIMIZERS``) are
    tried in turn until one converges, else the lowest deviance found is kept (noted).

    Returns (θ̂ in blocked order, the optimiser's result, its name, notes).
    """
    x0 = np.ones(len(st.n_levels)) if x0 is None else np.asarray(x0, dtype=float)
    fun = lambda th: profiled_deviance(th, st, reml)  # noqa: E731
    notes: list[str] = []
    best: tuple[optimize.OptimizeResult, str] | None = None
    methods = list(OPTIMIZERS if optimizers is None else optimizers)
    for i, method in enumerate(methods):
        nxt = f"; retrying with {methods[i + 1]}" if i + 1 < len(methods) else ""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = _minimise(fun, x0, method)
        except ValueError as exc:
            if "unknown solver" not in str(exc).lower():
                raise
            notes.append(f"{method} unavailable in this scipy (COBYQA needs >= 1.14){nxt}")
            continue
        if res.success and np.isfinite(res.fun):
            best = (res, method)
            break
        notes.append(f"{method} did not converge ({str(res.message).strip()}){nxt}")
        if best is None or res.fun < best[0].fun:
            best = (res, method)
    if best is None:
        raise RuntimeError(f"no optimiser could run: {notes}")
    res, method = best
    theta, res.fun = _snap_to_boundary(np.clip(res.x, 0.0, None), float(res.fun), fun)
    return theta, res, method, notes


# ---------------------------------------------------------------- result
@dataclass
class LmmFit:
    """A fitted crossed random-intercept model (factor order as the caller gave it)."""

    fixed_effects: pd.Series  # β̂, indexed by design column name
    cov_fixed: pd.DataFrame  # σ² (X'V⁻¹X)⁻¹
    variance_components: pd.Series  # σ²θ_k² per factor, then "Residual": σ²
    theta: pd.Series  # relative SDs θ_k = σ_k/σ per factor
    sigma2: float
    objective: float  # REML criterion or ML deviance (−2 log-likelihood), lme4's scale
    method: str  # "REML" / "ML"
    converged: bool
    optimizer: str
    n_evals: int
    n_obs: int
    n_groups: dict[str, int]
    message: str = ""
    notes: list[str] = field(default_factory=list)
    dropped_rows: int = 0
    engine: str = ENGINE

    @property
    def se(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov_fixed.to_numpy())), index=self.fixed_effects.index)

    def coef_table(self) -> pd.DataFrame:
        """term, estimate, se, 95 % Wald interval, z, two-sided p."""
        est, se = self.fixed_effects.to_numpy(), self.se.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            z = est / se
        return pd.DataFrame(
            {
                "term": list(self.fixed_effects.index), "estimate": est, "se": se,
                "ci_low": est - _Z975 * se, "ci_high": est + _Z975 * se,
                "z": z, "p": 2 * sps.norm.sf(np.abs(z)),
            }
        )


# ---------------------------------------------------------------- fixed-effects design
def aliased_columns(X: np.ndarray, names: Sequence[str]) -> list[str]:
    """Design columns that are linear combinations of earlier ones (QR of column-scaled X)."""
    X = np.asarray(X, dtype=float)
    if X.shape[1] == 0:
        return []
    norms = np.linalg.norm(X, axis=0)
    norms[norms == 0] = 1.0
    r = np.linalg.qr(X / norms, mode="r")
    tol = max(X.shape) * np.finfo(float).eps * 10
    return [str(names[j]) for j in range(X.shape[1]) if abs(r[j, j]) <= tol]


def _patsy_ready(data: pd.DataFrame, formula: str) -> pd.DataFrame:
    """String columns as pandas Categoricals with Python-sorted categories.

    patsy walks string columns element by element (~1 s per 200k rows); a Categorical whose
    categories are ``sorted(unique values)`` is read from its codes, with the same levels, order
    and column names as patsy would infer.
    """
    out = {}
    for col in data.columns:
        s = data[col]
        if not isinstance(col, str) or col not in formula:
            continue
        if isinstance(s.dtype, pd.StringDtype) or (
            s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "string"
        ):
            uniques = pd.unique(s.dropna())
            try:
                cats = sorted(uniques)
            except TypeError:
                continue
            out[col] = pd.Categorical(s, categories=cats)
    return data.assign(**out) if out else data


def design_matrices(formula: str, data: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Response and fixed-effects design from patsy, as statsmodels builds them (rows with
    missing values dropped; the index says which rows were kept)."""
    import patsy

    try:
        y, X = patsy.dmatrices(formula, _patsy_ready(data, formula), return_type="dataframe")
    except Exception:  # anything the Categorical shortcut might break: patsy on the data as is
        try:
            y, X = patsy.dmatrices(formula, data, return_type="dataframe")
        except Exception as exc:  # PatsyError, NameError for an unknown column, …
            raise FormulaError(f"{formula!r}: {type(exc).__name__}: {exc}") from exc
    if y.shape[1] != 1:
        raise FormulaError(f"{formula!r}: the response must be a single numeric column")
    return y.iloc[:, 0], X


# ---------------------------------------------------------------- fitting
def fit_arrays(
    X: np.ndarray,
    y: np.ndarray,
    codes: Sequence[np.ndarray],
    factors: Sequence[str],
    names: Sequence[str] | None = None,
    reml: bool = True,
    optimizers: Sequence[str] | None = None,
) -> LmmFit:
    """Fit from a dense design X (n × p), response y and 0-based level codes per factor
    (factor names in ``factors``, design column names in ``names``)."""
    X = np.asarray(X, dtype=float)
    names = [f"x{j}" for j in range(X.shape[1])] if names is None else list(names)
    _check_shapes(X, y, codes, factors)
    aliased = aliased_columns(X, names)
    if aliased:
        raise RankDeficientError(aliased)
    with single_threaded_blas():
        st = crossed_statistics(X, y, codes, factors)
        theta_b, res, optimizer, notes = optimise_theta(st, reml, optimizers=optimizers)
        sol = solve_at(theta_b, st, reml)
    notes = _identifiability_notes(st) + notes
    return _assemble(st, theta_b, sol, res, optimizer, notes, names, list(factors), reml)


def _check_shapes(X: np.ndarray, y, codes: Sequence[np.ndarray], factors: Sequence[str]) -> None:
    n, p = X.shape
    if not len(codes) or len(codes) != len(factors):
        raise ValueError("one array of level codes per random-intercept factor (at least one)")
    if len(y) != n or any(len(c) != n for c in codes):
        raise ValueError(f"X has {n} rows; y and every level-code array need as many")
    if n <= p:
        raise ValueError(f"{n} rows cannot estimate {p} fixed effects and a residual variance")


def _identifiability_notes(st: CrossedStatistics) -> list[str]:
    """A factor with one level per row is confounded with the residual (lme4 refuses it)."""
    return [
        f"factor '{f}' has as many levels as rows ({q}): its variance is not identifiable "
        "from the residual's"
        for f, q in zip(st.factors, st.n_levels)
        if q >= st.n
    ]


def _assemble(st, theta_b, sol, res, optimizer, notes, names, factors, reml) -> LmmFit:
    """LmmFit in the caller's factor order from the solution at θ̂ (blocked order)."""
    sigma2 = sol.pwrss / (st.n - st.p if reml else st.n)
    r_inv = sla.solve_triangular(sol.r_x, np.eye(st.p), lower=False) if st.p else np.zeros((0, 0))
    cov = sigma2 * (r_inv @ r_inv.T)
    theta = pd.Series(dict(zip(st.factors, theta_b)), dtype=float).reindex(factors)
    variances = pd.concat([sigma2 * theta**2, pd.Series({"Residual": sigma2})])
    levels = dict(zip(st.factors, st.n_levels))
    return LmmFit(
        fixed_effects=pd.Series(sol.beta, index=names, dtype=float),
        cov_fixed=pd.DataFrame(cov, index=names, columns=names),
        variance_components=variances,
        theta=theta,
        sigma2=float(sigma2),
        objective=float(sol.deviance),
        method="REML" if reml else "ML",
        converged=bool(res.success),
        optimizer=optimizer,
        n_evals=int(getattr(res, "nfev", 0)),
        n_obs=st.n,
        n_groups={f: int(levels[f]) for f in factors},
        message=str(res.message),
        notes=notes,
    )


def fit_lmm(
    data: pd.DataFrame,
    formula: str,
    random: Sequence[str],
    reml: bool = True,
    optimizers: Sequence[str] | None = None,
    drop_columns: Sequence[str] = (),
) -> LmmFit:
    """Fit ``formula`` (patsy/statsmodels syntax) with crossed random intercepts for ``random``.

    Rows with a missing value in the response, a fixed-effect variable or a random factor are
    dropped (``dropped_rows``). Design columns named in ``drop_columns`` are removed (aliased
    columns, as R drops them). Raises RankDeficientError when fixed effects are aliased.
    """
    random = list(random)
    clean = data.dropna(subset=random).reset_index(drop=True)
    y, X = design_matrices(formula, clean)
    X = X.drop(columns=list(drop_columns))
    rows = X.index.to_numpy()
    codes = [pd.factorize(clean[r].iloc[rows])[0] for r in random]
    fit = fit_arrays(X.to_numpy(), y.to_numpy(), codes, random, list(X.columns), reml, optimizers)
    fit.dropped_rows = len(data) - len(rows)
    return fit
