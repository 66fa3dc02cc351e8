"""Hofstede's six dimension indices from VSM 2013 answers, and comparison with published scores.

Formulas from Hofstede & Minkov, *Values Survey Module 2013 Manual* (section 6): each index is a
weighted sum of differences between mean answers (1..5) to content items, plus a free constant C.
We use C = 0; only differences between samples are meaningful, so comparisons with published
scores centre both sides (which cancels C) or use correlations (which ignore it).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from culturelens.metrics import normalise

__all__ = [
    "DIMENSIONS",
    "FORMULAS",
    "item_key",
    "mean_answer",
    "indices",
    "indices_table",
    "compare_with_published",
]

#: dimension → [(weight, item_plus, item_minus), …]; index = Σ weight·(m_plus − m_minus) (+ C = 0).
#: Hofstede's published column ``ltowvs`` corresponds to ``lto``.
FORMULAS: dict[str, list[tuple[int, str, str]]] = {
    "pdi": [(35, "07", "02"), (25, "20", "23")],
    "idv": [(35, "04", "01"), (35, "09", "06")],
    "mas": [(35, "05", "03"), (35, "08", "10")],
    "uai": [(40, "18", "15"), (25, "21", "24")],
    "lto": [(40, "13", "14"), (25, "19", "22")],
    "ivr": [(35, "12", "11"), (40, "17", "16")],
}
DIMENSIONS: tuple[str, ...] = tuple(FORMULAS)

_N_OPTIONS = 5


def item_key(item) -> str:
    """Canonical VSM item key: 7, "7", "07" → "07" (non-numeric ids are returned unchanged)."""
    text = str(item).strip()
    return text.zfill(2) if text.isdigit() else text


def mean_answer(probs) -> float:
    """Expected answer on the 1..5 scale from a distribution over the 5 options in scale order.

    Index 0 is answer 1. The distribution is normalised first (counts work too).
    """
    p = normalise(probs, "probs")
    if p.size != _N_OPTIONS:
        raise ValueError(f"VSM items have {_N_OPTIONS} options, got a distribution over {p.size}")
    return float(np.dot(np.arange(1, _N_OPTIONS + 1), p))


def indices(means: Mapping[str, float]) -> dict[str, float]:
    """The six indices (C = 0) from item means keyed "01".."24".

    A dimension whose items are missing or NaN is NaN; the others are still computed.
    """
    m = {item_key(k): float(v) for k, v in means.items() if v is not None}
    out: dict[str, float] = {}
    for dim, terms in FORMULAS.items():
        total = 0.0
        for weight, plus, minus in terms:
            a, b = m.get(plus, math.nan), m.get(minus, math.nan)
            total += weight * (a - b)
        out[dim] = float(total)  # NaN propagates from any missing item
    return out


def indices_table(item_means: pd.DataFrame) -> pd.DataFrame:
    """Long table [groups…, item_id, mean] → [groups…, dimension, index], one row per group × dimension.

    Group columns are all columns other than item_id and mean (e.g. model, persona, prompt_lang,
    condition). Raises ValueError if an item appears twice within a group.
    """
    missing = {"item_id", "mean"} - set(item_means.columns)
    if missing:
        raise ValueError(f"item_means lacks columns {sorted(missing)}")
    groups = [c for c in item_means.columns if c not in ("item_id", "mean")]
    df = item_means.assign(item_id=item_means["item_id"].map(item_key))
    dup = df.duplicated(groups + ["item_id"], keep=False)
    if dup.any():
        raise ValueError(
            "item_means has more than one mean per group and item, e.g. "
            f"{df.loc[dup, groups + ['item_id']].iloc[0].to_dict()}"
        )
    out_cols = groups + ["dimension", "index"]
    if df.empty:
        return pd.DataFrame(columns=out_cols)

    rows = []
    if groups:
        grouped = df.groupby(groups, dropna=False, sort=True)
    else:
        grouped = [((), df)]
    for key, sub in grouped:
        key = key if isinstance(key, tuple) else (key,)
        idx = indices(dict(zip(sub["item_id"], sub["mean"])))
        for dim in DIMENSIONS:
            rows.append((*key, dim, idx[dim]))
    return pd.DataFrame(rows, columns=out_cols)


def _is_constant(x: np.ndarray) -> bool:
    """True when all values are equal up to floating rounding."""
    scale = max(1.0, float(np.max(np.abs(x))))
    return float(np.ptp(x)) <= 1e-12 * scale


def compare_with_published(
    model_indices: pd.DataFrame, scores: pd.DataFrame, by: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Correlate model indices with Hofstede's published country scores, per (by…, dimension).

    ``model_indices``: by + [country, dimension, index]; ``scores``: [country, dimension, score].
    Only countries present (non-NaN) on both sides count.

    Returns ``(correlations, errors)``:

    - correlations: by…, dimension, n, pearson_r, pearson_p, spearman_rho, spearman_p, note —
      statistics are NaN (not an error) when n < 3 or either side is constant, and ``note``
      says why (empty string otherwise).
    - errors: by…, dimension, country, model_index, published_score, model_centred,
      published_centred, abs_error — each side centred on its mean over the countries in common,
      so the free constant C cancels; abs_error = |model_centred − published_centred|
      (NaN when fewer than 2 countries are in common, where centring is trivially 0).
    """
    by = list(by)
    need_m = set(by) | {"country", "dimension", "index"}
    need_s = {"country", "dimension", "score"}
    if need_m - set(model_indices.columns):
        raise ValueError(f"model_indices lacks columns {sorted(need_m - set(model_indices.columns))}")
    if need_s - set(scores.columns):
        raise ValueError(f"scores lacks columns {sorted(need_s - set(scores.columns))}")

    mi = model_indices[by + ["country", "dimension", "index"]]
    sc = scores[["country", "dimension", "score"]]
    if mi.duplicated(by + ["country", "dimension"]).any():
        raise ValueError(
            "model_indices has several rows per (by…, country, dimension); add the distinguishing "
            f"columns to by (now {by})"
        )
    if sc.duplicated(["country", "dimension"]).any():
        raise ValueError("scores has several rows per (country, dimension)")

    keys = by + ["dimension"]
    merged = mi.merge(sc, on=["country", "dimension"], how="inner")
    merged = merged.dropna(subset=["index", "score"])
    merged = merged.sort_values(keys + ["country"], kind="stable").reset_index(drop=True)

    corr_cols = keys + ["n", "pearson_r", "pearson_p", "spearman_rho", "spearman_p", "note"]
    err_cols = keys + [
        "country",
        "model_index",
        "published_score",
        "model_centred",
        "published_centred",
        "abs_error",
    ]
    if merged.empty:
        return pd.DataFrame(columns=corr_cols), pd.DataFrame(columns=err_cols)

    corr_rows, err_parts = [], []
    for key, sub in merged.groupby(keys, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        x = sub["index"].to_numpy(dtype=float)
        y = sub["score"].to_numpy(dtype=float)
        n = len(sub)
        r = rp = rho = sp = math.nan
        if n < 3:
            note = f"n = {n} countries in common (< 3)"
        elif _is_constant(x):
            note = "model index is constant across countries"
        elif _is_constant(y):
            note = "published score is constant across countries"
        else:
            note = ""
            r, rp = (float(v) for v in stats.pearsonr(x, y))
            rho, sp = (float(v) for v in stats.spearmanr(x, y))
        corr_rows.append((*key, n, r, rp, rho, sp, note))

        xc, yc = x - x.mean(), y - y.mean()
        err = np.abs(xc - yc) if n >= 2 else np.full(n, math.nan)
        part = sub[keys + ["country"]].copy()
        part["model_index"] = x
        part["published_score"] = y
        part["model_centred"] = xc
        part["published_centred"] = yc
        part["abs_error"] = err
        err_parts.append(part)

    correlations = pd.DataFrame(corr_rows, columns=corr_cols)
    errors = pd.concat(err_parts, ignore_index=True)[err_cols]
    return correlations, errors
