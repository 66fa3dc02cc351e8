"""Distributions × survey targets → one alignment row per cell.

A cell is (model, item, country, condition, prompt language). Its variants (template paraphrases ×
option orders) are each compared with the country's survey distribution, and the headline metrics
(`js_sim`, `emd_sim`, `tv`, `top1`) are the **mean over variants** of the per-variant metric, so
their range (`js_sim_min`, `js_sim_max`) always contains them and a respondent's score does not
change with the number of variants (a resampling oracle's ceiling does not rise with more
paraphrases). The metric of the variants' **mean distribution** is kept beside them
(`js_sim_of_mean`, …): averaging answers smooths them, so it is usually higher than any single
variant's. The spread across variants is `spread_jsd` (mean pairwise JSD).

Options are matched by index: a model distribution and the survey distribution of a cell must both
have exactly the item's number of options (an InputError names the item otherwise). EMD
similarity is computed over the scale points only: options flagged non-substantive (a kept
"Don't know") are left out and both distributions renormalised over the rest.

Default prompting (no persona, no target country) is compared with every country that has data;
those rows share one answer, which `answer_id` names (same model, same prompts), so that models
of the table can give shared answers a random intercept of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import metrics
from .errors import InputError
from .prompts import language_mode

CELL = ["model", "item_id", "country", "condition", "prompt_lang"]
VARIANT = ["paraphrase", "option_order"]
METRICS = ["js_sim", "emd_sim", "tv", "top1"]
COLUMNS = CELL + ["study", "item_lang", "is_baseline", "native", "language_mode", "scale", "n_options", "n_variants",
                  *METRICS, *(f"{m}_of_mean" for m in METRICS), "js_sim_min", "js_sim_max", "spread_jsd",
                  "js_base", "answer_id", "model_dist", "survey_dist"]


def target_vectors(targets: pd.DataFrame, n_options: Mapping[str, int] | None = None,
                   source: str = "<targets>") -> dict[tuple[str, str], np.ndarray]:
    """(item_id, country) → survey distribution over option indices, normalised.

    With ``n_options`` (item_id → number of options) every vector has the item's length, and an
    option index outside it is an InputError naming the item; without it the length is the
    largest index + 1.
    """
    if targets.empty:
        return {}
    pair = targets.groupby(["item_id", "country"], sort=False).ngroup().to_numpy()
    index = targets["option_index"].to_numpy().astype(np.int64)
    share = targets["share"].to_numpy(dtype=float)
    order = np.argsort(pair, kind="stable")
    pair, index, share = pair[order], index[order], share[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    heads = targets.iloc[order[starts]]
    keys = list(zip(heads["item_id"].tolist(), heads["country"].tolist()))
    lows, highs = np.minimum.reduceat(index, starts), np.maximum.reduceat(index, starts)
    if n_options is None:
        widths = highs + 1
    else:
        widths = np.asarray([n_options.get(item, -1) for item, _ in keys], dtype=np.int64)
        if (widths < 0).any():
            raise InputError(source, f"item_id {keys[int(np.flatnonzero(widths < 0)[0])][0]!r}",
                             "an item present in the items table")
    bad = np.flatnonzero((lows < 0) | (highs >= widths))
    if len(bad):
        b = int(bad[0])
        (item, country), k = keys[b], int(widths[b])
        ends = np.r_[starts[1:], len(pair)]
        raise InputError(source, f"option_index (item {item!r}, country {country!r})",
                         f"indices 0..{k - 1} (the item has {k} options)",
                         sorted(set(index[starts[b]: ends[b]].tolist())))
    matrix = np.zeros((len(keys), int(widths.max())))
    np.add.at(matrix, (np.repeat(np.arange(len(keys)), np.diff(np.r_[starts, len(pair)])), index), share)
    matrix /= matrix.sum(axis=1, keepdims=True)
    return {key: matrix[r, : widths[r]].copy() for r, key in enumerate(keys)}


DISTRIBUTIONS = ("model_dist", "survey_dist")


def read_scalars(path) -> pd.DataFrame:
    """An alignment table without its per-cell distributions (DISTRIBUTIONS): lists that are most
    of a campaign table's memory and that tables and most figures do not show."""
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    return pd.read_parquet(path, columns=[c for c in names if c not in DISTRIBUTIONS])


def answer_id(model: str, prompt_ids) -> str:
    """Names one answer: the model and the set of prompts it answered (shared by default-prompt rows)."""
    text = model + "|" + ",".join(sorted(set(prompt_ids)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _variant_matrix(dist: pd.DataFrame, n_options: Mapping[str, int]) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per (cell, variant) in order of first appearance — its keys and the prompt — and
    the variant's probabilities as a row of a (variants × K) matrix (K: the most options of any
    item; an item's row is zero beyond its options). InputError if a variant is not over exactly
    the item's options."""
    keys = CELL + VARIANT + ["study", "item_lang", "prompt_id"]
    group = dist.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    order = np.lexsort((dist["option_index"].to_numpy(), group))
    group, index = group[order], dist["option_index"].to_numpy()[order].astype(np.int64)
    prob = dist["prob"].to_numpy(dtype=float)[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, len(group)])
    variants = dist.iloc[order[starts]][keys].reset_index(drop=True)
    k = variants["item_id"].map(n_options).to_numpy(dtype=np.int64)
    position = np.arange(len(group)) - np.repeat(starts, sizes)
    # sorted by option index, a variant over exactly the options 0..k−1 has index == position
    wrong = (sizes != k) | np.logical_or.reduceat(index != position, starts) if len(group) else np.zeros(0, bool)
    if wrong.any():
        bad = int(np.flatnonzero(wrong)[0])
        row = variants.iloc[bad]
        raise InputError(f"distributions of model {row['model']!r}", f"item {row['item_id']!r}",
                         f"one probability for each of the item's {k[bad]} options (indices 0..{k[bad] - 1})",
                         sorted(index[starts[bad]: starts[bad] + sizes[bad]].tolist()))
    matrix = np.zeros((len(variants), int(k.max()) if len(k) else 0))
    matrix[np.repeat(np.arange(len(variants)), sizes), index] = prob
    return variants, matrix


def _expand_default(variants: pd.DataFrame, by_item: Mapping[str, list[str]]) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows without a target country (`none`) become one row per country with data for the item,
    after the rows with one; returns the rows and, per row, the variant it came from."""
    none = (variants["country"] == "none").to_numpy()
    targeted = np.flatnonzero(~none)
    untargeted = np.flatnonzero(none)
    countries = [by_item.get(i, []) for i in variants["item_id"].to_numpy()[untargeted]]
    source = np.r_[targeted, np.repeat(untargeted, [len(c) for c in countries])].astype(np.int64)
    out = variants.iloc[source].reset_index(drop=True)
    out.loc[len(targeted):, "country"] = [c for cs in countries for c in cs]
    return out, source


def _pairwise_js(vecs: np.ndarray, cell: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per cell (rows `starts[c]` … of `vecs`, grouped), the mean JS distance (base 2) over all
    pairs of its variants; NaN for a cell with one variant."""
    total = np.zeros(len(starts))
    for d in range(1, int(sizes.max()) if len(sizes) else 0):
        i = np.flatnonzero(cell[:-d] == cell[d:])
        np.add.at(total, cell[i], metrics.js_distance_rows(vecs[i], vecs[i + d]))
    pairs = sizes * (sizes - 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, total / pairs, np.nan)


def _scores(P: np.ndarray, Q: np.ndarray, ordinal: np.ndarray, scale_points: np.ndarray, base: float) -> dict:
    """The four metrics of every row pair; EMD over the scale points of ordinal items, else NaN."""
    emd = np.full(len(P), np.nan)
    if ordinal.any():
        # options that are not scale points are dropped; for the items in this table they are the
        # same columns in every row of one item, so rows are grouped by their mask
        masks, inverse = np.unique(scale_points[ordinal], axis=0, return_inverse=True)
        rows = np.flatnonzero(ordinal)
        for m, mask in enumerate(masks):
            r = rows[inverse.ravel() == m]
            emd[r] = metrics.emd_similarity_rows(P[r][:, mask], Q[r][:, mask])
    return {"js_sim": 1.0 - metrics.js_distance_rows(P, Q, base), "emd_sim": emd,
            "tv": metrics.total_variation_rows(P, Q), "top1": metrics.top1_agreement_rows(P, Q)}


def cells(dist: pd.DataFrame, targets: pd.DataFrame, items: pd.DataFrame,
          baselines: set[str], js_base: str = "2") -> pd.DataFrame:
    """The alignment table (see module docstring) for every model in `dist` (column `model`).

    `items` needs `item_id`, `scale` and `options` (and `non_substantive` where options are kept).
    `js_base` ("2" or "e", see metrics.JS_BASES) is the log base of `js_sim`, kept in the column
    `js_base`: "e" reproduces studies that used scipy's default. Computed for all cells at once
    (one row per variant and country), rows in order of the cells' first appearance in `dist`.
    """
    base = metrics.JS_BASES[str(js_base)]
    if dist.empty:
        return pd.DataFrame(columns=COLUMNS)
    first = items.drop_duplicates("item_id").set_index("item_id")
    n_options = {i: len(o) for i, o in first["options"].items()}
    flags = first["non_substantive"] if "non_substantive" in first else pd.Series(dtype=object)
    scale = first["scale"].to_dict()
    tvec = target_vectors(targets, n_options)
    by_item: dict[str, list[str]] = {}
    for item, country in tvec:
        by_item.setdefault(item, []).append(country)
    unknown = sorted(set(dist["item_id"]) - set(n_options))
    if unknown:
        raise InputError("<distributions>", "item_id", "items present in the survey's items table", unknown[:5])
    variants, matrix = _variant_matrix(dist, n_options)
    rows, source = _expand_default(variants, by_item)
    # the survey distribution of every row; rows whose (item, country) has none are left out
    target_keys = list(tvec)
    target_row = {key: r for r, key in enumerate(target_keys)}
    t = np.fromiter((target_row.get(key, -1) for key in zip(rows["item_id"].tolist(), rows["country"].tolist())),
                    dtype=np.int64, count=len(rows))
    keep = t >= 0
    rows, source, t = rows[keep].reset_index(drop=True), source[keep], t[keep]
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    # survey rows only for the (item, country) pairs used: `matrix` is as wide as the widest item
    # answered, and an item nobody answered may have more options
    width = matrix.shape[1]
    used, t = np.unique(t, return_inverse=True)
    survey = np.zeros((len(used), width))
    for r, u in enumerate(used):
        vec = tvec[target_keys[u]]
        survey[r, : len(vec)] = vec
    P = matrix[source]
    P = P / P.sum(axis=1, keepdims=True)
    Q = survey[t.ravel()]
    item_ids = rows["item_id"].to_numpy()
    k = np.fromiter((n_options[i] for i in item_ids), dtype=np.int64, count=len(rows))
    ordinal = np.fromiter((scale.get(i) == "ordinal" for i in item_ids), dtype=bool, count=len(rows))
    point_of = {i: np.r_[~np.asarray(flags.get(i, [False] * n_options[i]), dtype=bool),
                         np.zeros(width - n_options[i], dtype=bool)] for i in set(item_ids)}
    points = np.stack([point_of[i] for i in item_ids]) if ordinal.any() else np.zeros((len(rows), width), bool)
    # metrics over a row's own options only: columns beyond K are zero in both P and Q and add
    # nothing to JS, TV or the modes; EMD is taken per item width through the scale-point masks
    per_variant = _scores(P, Q, ordinal, points, base)
    # cells: rows grouped in order of first appearance
    cell = rows.groupby(CELL, sort=False).ngroup().to_numpy()
    order = np.argsort(cell, kind="stable")
    rows, P, Q, cell, k, ordinal, points, source = (rows.iloc[order].reset_index(drop=True), P[order], Q[order],
                                                    cell[order], k[order], ordinal[order], points[order],
                                                    source[order])
    per_variant = {m: v[order] for m, v in per_variant.items()}
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    sizes = np.diff(np.r_[starts, len(cell)])
    mean_p = np.add.reduceat(P, starts, axis=0) / sizes[:, None]
    of_mean = _scores(mean_p, Q[starts], ordinal[starts], points[starts], base)
    js = per_variant["js_sim"]
    head = rows.iloc[starts].reset_index(drop=True)
    out = head[CELL].copy()
    out["study"], out["item_lang"] = head["study"], head["item_lang"]
    out["is_baseline"] = out["model"].isin(baselines)
    modes = {mk: language_mode(*mk) for mk in set(zip(head["country"], head["prompt_lang"], head["item_lang"]))}
    out["language_mode"] = [modes[mk] for mk in zip(head["country"], head["prompt_lang"], head["item_lang"])]
    out["native"] = out["language_mode"] == "native"
    out["scale"] = head["item_id"].map(scale)
    out["n_options"] = k[starts]
    out["n_variants"] = sizes
    with np.errstate(invalid="ignore"):
        for m in METRICS:
            # nanmean-free: a metric that is NaN for one variant (EMD on nominal items) is NaN for all
            out[m] = np.add.reduceat(per_variant[m], starts) / sizes
    for m in METRICS:
        out[f"{m}_of_mean"] = of_mean[m]
    out["js_sim_min"] = np.minimum.reduceat(js, starts)
    out["js_sim_max"] = np.maximum.reduceat(js, starts)
    out["spread_jsd"] = _pairwise_js(P, cell, starts, sizes)
    out["js_base"] = str(js_base)
    # one answer per set of prompts: cells of one default-prompting answer (expanded to every
    # country) share it, so it is hashed once per set of source variants
    prompt_ids = variants["prompt_id"].to_numpy()
    ids: dict[tuple, str] = {}
    answer_ids = []
    for c, (start, size) in enumerate(zip(starts, sizes)):
        src = tuple(sorted(set(source[start: start + size].tolist())))
        if src not in ids:
            ids[src] = answer_id(out["model"].iat[c], prompt_ids[list(src)])
        answer_ids.append(ids[src])
    out["answer_id"] = answer_ids
    out["model_dist"] = [mean_p[c, :n].tolist() for c, n in enumerate(k[starts])]
    out["survey_dist"] = [Q[s, :n].tolist() for s, n in zip(starts, k[starts])]
    return out[COLUMNS]
