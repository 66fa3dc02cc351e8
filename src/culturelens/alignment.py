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
    out = {}
    for (item, country), grp in targets.groupby(["item_id", "country"], sort=False):
        index = grp["option_index"].to_numpy()
        k = int(index.max()) + 1 if n_options is None else n_options.get(item)
        if k is None:
            raise InputError(source, f"item_id {item!r}", "an item present in the items table")
        if index.min() < 0 or index.max() >= k:
            raise InputError(source, f"option_index (item {item!r}, country {country!r})",
                             f"indices 0..{k - 1} (the item has {k} options)", sorted(set(index.tolist())))
        vec = np.zeros(k)
        np.add.at(vec, index, grp["share"].to_numpy(dtype=float))
        out[(item, country)] = vec / vec.sum()
    return out


def variant_vectors(dist: pd.DataFrame) -> pd.DataFrame:
    """One row per (cell, variant): option indices and probabilities (option order) and the prompt."""
    dist = dist.sort_values("option_index")
    keys = CELL + VARIANT + ["study", "item_lang", "prompt_id"]
    grouped = dist.groupby(keys, sort=False, dropna=False).agg(index=("option_index", list), probs=("prob", list))
    return grouped.reset_index()


def _vector(index: list, probs: list, k: int, model: str, item: str) -> np.ndarray:
    """A variant's distribution as a length-k vector; InputError if it is over other options."""
    if len(set(index)) != len(index) or min(index) < 0 or max(index) >= k or len(index) != k:
        raise InputError(f"distributions of model {model!r}", f"item {item!r}",
                         f"one probability for each of the item's {k} options (indices 0..{k - 1})",
                         sorted(index))
    vec = np.zeros(k)
    vec[np.asarray(index, dtype=int)] = probs
    return vec


def answer_id(model: str, prompt_ids) -> str:
    """Names one answer: the model and the set of prompts it answered (shared by default-prompt rows)."""
    text = model + "|" + ",".join(sorted(set(prompt_ids)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expand_default(variants: pd.DataFrame, by_item: Mapping[str, list[str]]) -> pd.DataFrame:
    """Rows without a target country (`none`) become one row per country with data for the item."""
    none = variants["country"] == "none"
    if not none.any():
        return variants
    expanded = variants[none].copy()
    expanded["country"] = expanded["item_id"].map(lambda i: list(by_item.get(i, [])))
    expanded = expanded.explode("country").dropna(subset=["country"])
    return pd.concat([variants[~none], expanded], ignore_index=True)


def _scores(p: np.ndarray, q: np.ndarray, ordinal: bool, scale_points: np.ndarray,
            base: float = 2.0) -> dict[str, float]:
    out = metrics.alignment_scores(p, q, ordinal=False, base=base)
    if ordinal:
        ps, qs = p[scale_points], q[scale_points]
        out["emd_sim"] = metrics.emd_similarity(ps, qs) if ps.sum() > 0 and qs.sum() > 0 else float("nan")
    return out


def cells(dist: pd.DataFrame, targets: pd.DataFrame, items: pd.DataFrame,
          baselines: set[str], js_base: str = "2") -> pd.DataFrame:
    """The alignment table (see module docstring) for every model in `dist` (column `model`).

    `items` needs `item_id`, `scale` and `options` (and `non_substantive` where options are kept).
    `js_base` ("2" or "e", see metrics.JS_BASES) is the log base of `js_sim`, kept in the column
    `js_base`: "e" reproduces studies that used scipy's default.
    """
    base = metrics.JS_BASES[str(js_base)]
    if dist.empty:
        return pd.DataFrame(columns=COLUMNS)
    first = items.drop_duplicates("item_id").set_index("item_id")
    n_options = {i: len(o) for i, o in first["options"].items()}
    flags = first["non_substantive"] if "non_substantive" in first else pd.Series(dtype=object)
    scale_points = {i: ~np.asarray(flags.get(i, [False] * n_options[i]), dtype=bool) for i in n_options}
    scale = first["scale"].to_dict()
    tvec = target_vectors(targets, n_options)
    by_item: dict[str, list[str]] = {}
    for item, country in tvec:
        by_item.setdefault(item, []).append(country)
    unknown = sorted(set(dist["item_id"]) - set(n_options))
    if unknown:
        raise InputError("<distributions>", "item_id", "items present in the survey's items table", unknown[:5])
    variants = expand_default(variant_vectors(dist), by_item)
    mode_cache: dict[tuple[str, str, str], str] = {}
    rows = []
    for key, grp in variants.groupby(CELL, sort=False):
        cell = dict(zip(CELL, key))
        item = cell["item_id"]
        q = tvec.get((item, cell["country"]))
        if q is None:
            continue
        k = n_options[item]
        vecs = [_vector(i, p, k, cell["model"], item) for i, p in zip(grp["index"], grp["probs"])]
        vecs = [v / v.sum() for v in vecs]
        ordinal = scale.get(item) == "ordinal"
        per_variant = [_scores(v, q, ordinal, scale_points[item], base) for v in vecs]
        js = [s["js_sim"] for s in per_variant]
        p = np.mean(vecs, axis=0)
        of_mean = _scores(p, q, ordinal, scale_points[item], base)
        # native: template and item text in a main language of the country (prompts.language_mode)
        mk = (cell["country"], cell["prompt_lang"], grp["item_lang"].iloc[0])
        if mk not in mode_cache:
            mode_cache[mk] = language_mode(*mk)
        rows.append({
            **cell, "study": grp["study"].iloc[0], "item_lang": grp["item_lang"].iloc[0],
            "is_baseline": cell["model"] in baselines, "native": mode_cache[mk] == "native",
            "language_mode": mode_cache[mk],
            "scale": scale.get(item), "n_options": k, "n_variants": len(vecs),
            **{m: float(np.mean([s[m] for s in per_variant])) for m in METRICS},
            **{f"{m}_of_mean": of_mean[m] for m in METRICS},
            "js_sim_min": min(js), "js_sim_max": max(js),
            "spread_jsd": metrics.mean_pairwise_js_distance(vecs), "js_base": str(js_base),
            "answer_id": answer_id(cell["model"], grp["prompt_id"]),
            "model_dist": p.tolist(), "survey_dist": q.tolist(),
        })
    return pd.DataFrame(rows, columns=COLUMNS)
