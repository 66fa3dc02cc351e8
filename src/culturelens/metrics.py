"""Alignment metrics between a model's answer distribution and a survey's, plus stability measures.

Every metric takes two 1-D array-likes of non-negative numbers over the same K options in scale
order (``p``: model, ``q``: survey). Each is normalised to sum 1 first, so raw counts work as well
as probabilities. Bad input (negative values, NaN/inf, length mismatch, zero sum) raises
``ValueError``: these are programming errors between modules, not user-file errors.
"""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
from scipy.special import rel_entr

__all__ = [
    "normalise",
    "js_distance",
    "js_similarity",
    "emd_similarity",
    "total_variation",
    "top1_agreement",
    "mean_pairwise_js_distance",
    "alignment_scores",
]

#: Options whose probability is within this of the maximum count as tied modes.
TIE_TOLERANCE = 1e-12


def normalise(x, name: str = "distribution") -> np.ndarray:
    """Return ``x`` as a float vector summing to 1; ValueError if it is not a valid distribution."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values: {arr.tolist()}")
    if np.any(arr < 0):
        raise ValueError(f"{name} contains negative values: {arr.tolist()}")
    total = arr.sum()
    if total <= 0:
        raise ValueError(f"{name} sums to zero; cannot normalise")
    return arr / total


def _pair(p, q) -> tuple[np.ndarray, np.ndarray]:
    """Normalise both distributions and check they cover the same number of options."""
    pn, qn = normalise(p, "p"), normalise(q, "q")
    if pn.size != qn.size:
        raise ValueError(f"p and q have different numbers of options: {pn.size} vs {qn.size}")
    return pn, qn


#: Logarithm bases for the JS distance: 2 (bits; distance in [0, 1], this project's default) or
#: e (nats; scipy's ``jensenshannon`` default, used by many published GlobalOpinionQA
#: reproductions; distance in [0, sqrt(ln 2)] ≈ [0, 0.8326]).
JS_BASES = {"2": 2.0, "e": float(np.e)}


def _js_distance_normalised(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> float:
    """JS distance of already-normalised vectors; clipped so rounding cannot leave its range."""
    m = 0.5 * (p + q)
    divergence = 0.5 * (rel_entr(p, m).sum() + rel_entr(q, m).sum()) / np.log(base)
    return float(np.sqrt(np.clip(divergence, 0.0, np.log(2) / np.log(base))))


def js_distance(p, q, base: float = 2.0) -> float:
    """Jensen–Shannon distance: sqrt of the JS divergence with logs in ``base`` (2: in [0, 1]).

    Same value as ``scipy.spatial.distance.jensenshannon(p, q, base=base)``, but never NaN from
    rounding (identical inputs give exactly 0).
    """
    return _js_distance_normalised(*_pair(p, q), base=base)


def js_similarity(p, q, base: float = 2.0) -> float:
    """1 − JS distance: 1 for identical distributions; 0 for disjoint supports in base 2."""
    return 1.0 - js_distance(p, q, base=base)


def emd_similarity(p, q) -> float:
    """1 − W1(p, q)/(K − 1) with the options placed at positions 0..K−1 (ordinal items only).

    W1 on a line with unit spacing is Σ|CDF_p − CDF_q|; dividing by K − 1 (the largest possible
    W1, all mass moved end to end) puts the similarity in [0, 1]. K = 1 gives 1.0.
    """
    pn, qn = _pair(p, q)
    k = pn.size
    if k == 1:
        return 1.0
    w1 = np.abs(np.cumsum(pn) - np.cumsum(qn))[:-1].sum()
    return float(np.clip(1.0 - w1 / (k - 1), 0.0, 1.0))


def total_variation(p, q) -> float:
    """Total variation distance ½ Σ|p − q|, in [0, 1]."""
    pn, qn = _pair(p, q)
    return float(0.5 * np.abs(pn - qn).sum())


def _modes(x: np.ndarray) -> np.ndarray:
    """Boolean mask of the arg-max options, ties within TIE_TOLERANCE included."""
    return x >= x.max() - TIE_TOLERANCE


def top1_agreement(p, q) -> float:
    """|argmax(p) ∩ argmax(q)| / |argmax(p)|, ties included.

    Equals the probability that the model's top answer is a survey mode when the model's ties
    are broken at random (a uniform p scores 1/K against a single-mode q).
    """
    pn, qn = _pair(p, q)
    mp, mq = _modes(pn), _modes(qn)
    return float((mp & mq).sum() / mp.sum())


def mean_pairwise_js_distance(distributions: Sequence) -> float:
    """Mean JS distance (base 2) over all unordered pairs: spread of a cell's prompt variants.

    NaN for fewer than two distributions; ValueError if they differ in length.
    """
    normed = [normalise(d, f"distributions[{i}]") for i, d in enumerate(distributions)]
    if len(normed) < 2:
        return float("nan")
    sizes = {d.size for d in normed}
    if len(sizes) > 1:
        raise ValueError(f"distributions have different numbers of options: {sorted(sizes)}")
    dists = [_js_distance_normalised(a, b) for a, b in combinations(normed, 2)]
    return float(np.mean(dists))


def alignment_scores(p, q, ordinal: bool, base: float = 2.0) -> dict[str, float]:
    """All per-cell metrics at once: js_sim (logs in ``base``), emd_sim (NaN for nominal items), tv, top1."""
    pn, qn = _pair(p, q)
    return {
        "js_sim": 1.0 - _js_distance_normalised(pn, qn, base=base),
        "emd_sim": emd_similarity(pn, qn) if ordinal else float("nan"),
        "tv": total_variation(pn, qn),
        "top1": top1_agreement(pn, qn),
    }


# ---------------------------------------------------------------- the same metrics, row by row
# For many pairs at once (the alignment table has one pair per prompt variant): rows of ``P`` and
# ``Q`` (n × K) are distributions already normalised to sum 1. Each function equals its scalar
# counterpart above applied to every row (tests/test_metrics.py checks it).


def js_distance_rows(P: np.ndarray, Q: np.ndarray, base: float = 2.0) -> np.ndarray:
    M = 0.5 * (P + Q)
    divergence = 0.5 * (rel_entr(P, M).sum(axis=1) + rel_entr(Q, M).sum(axis=1)) / np.log(base)
    return np.sqrt(np.clip(divergence, 0.0, np.log(2) / np.log(base)))


def emd_similarity_rows(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Rows of P and Q renormalised first (a subset of options may be passed); NaN where either
    row sums to 0."""
    k = P.shape[1]
    sp, sq = P.sum(axis=1), Q.sum(axis=1)
    valid = (sp > 0) & (sq > 0)
    out = np.full(P.shape[0], np.nan)
    if k == 1:
        out[valid] = 1.0
        return out
    pn, qn = P[valid] / sp[valid, None], Q[valid] / sq[valid, None]
    w1 = np.abs(np.cumsum(pn, axis=1) - np.cumsum(qn, axis=1))[:, :-1].sum(axis=1)
    out[valid] = np.clip(1.0 - w1 / (k - 1), 0.0, 1.0)
    return out


def total_variation_rows(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    return 0.5 * np.abs(P - Q).sum(axis=1)


def top1_agreement_rows(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    mp = P >= P.max(axis=1, keepdims=True) - TIE_TOLERANCE
    mq = Q >= Q.max(axis=1, keepdims=True) - TIE_TOLERANCE
    return (mp & mq).sum(axis=1) / mp.sum(axis=1)
