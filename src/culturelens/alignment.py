"""Distributions × survey targets → one alignment row per cell.

A cell is (model, item, country, condition, prompt language). Its variants (template paraphrases ×
option orders) are averaged into one distribution, which is compared with the country's survey
distribution; the spread across variants is kept beside it (range of 1 − JSD, mean pairwise JSD).
Default prompting (no persona, no target country) is compared with every country that has data.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import metrics
from .prompts import language_mode

CELL = ["model", "item_id", "country", "condition", "prompt_lang"]
VARIANT = ["paraphrase", "option_order"]
COLUMNS = CELL + ["study", "item_lang", "is_baseline", "native", "language_mode", "scale", "n_options",
                  "n_variants", "js_sim", "emd_sim", "tv", "top1", "js_sim_min", "js_sim_max", "spread_jsd",
                  "model_dist", "survey_dist"]


def target_vectors(targets: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    """(item_id, country) → survey distribution over option indices."""
    out = {}
    for (item, country), grp in targets.groupby(["item_id", "country"], sort=False):
        vec = np.zeros(int(grp["option_index"].max()) + 1)
        vec[grp["option_index"].to_numpy()] = grp["share"].to_numpy()
        out[(item, country)] = vec / vec.sum()
    return out


def variant_vectors(dist: pd.DataFrame) -> pd.DataFrame:
    """One row per (cell, variant) with the distribution as a numpy vector in option order."""
    dist = dist.sort_values("option_index")
    keys = CELL + VARIANT + ["study", "item_lang"]
    grouped = dist.groupby(keys, sort=False, dropna=False)["prob"].apply(lambda s: s.to_numpy())
    return grouped.rename("probs").reset_index()


def expand_default(variants: pd.DataFrame, by_item: Mapping[str, list[str]]) -> pd.DataFrame:
    """Rows without a target country (`none`) become one row per country with data for the item."""
    none = variants["country"] == "none"
    if not none.any():
        return variants
    expanded = variants[none].copy()
    expanded["country"] = expanded["item_id"].map(lambda i: list(by_item.get(i, [])))
    expanded = expanded.explode("country").dropna(subset=["country"])
    return pd.concat([variants[~none], expanded], ignore_index=True)


def cells(dist: pd.DataFrame, targets: pd.DataFrame, items: pd.DataFrame,
          baselines: set[str]) -> pd.DataFrame:
    """The alignment table (see module docstring) for every model in `dist` (column `model`)."""
    if dist.empty:
        return pd.DataFrame(columns=COLUMNS)
    tvec = target_vectors(targets)
    by_item: dict[str, list[str]] = {}
    for item, country in tvec:
        by_item.setdefault(item, []).append(country)
    scale = items.drop_duplicates("item_id").set_index("item_id")["scale"].to_dict()
    variants = expand_default(variant_vectors(dist), by_item)
    mode_cache: dict[tuple[str, str, str], str] = {}
    rows = []
    for key, grp in variants.groupby(CELL, sort=False):
        cell = dict(zip(CELL, key))
        q = tvec.get((cell["item_id"], cell["country"]))
        if q is None:
            continue
        vecs = list(grp["probs"])
        p = np.mean(vecs, axis=0)
        ordinal = scale.get(cell["item_id"]) == "ordinal"
        per_variant = [metrics.js_similarity(v, q) for v in vecs]
        # native: template and item text in a main language of the country (prompts.language_mode)
        mk = (cell["country"], cell["prompt_lang"], grp["item_lang"].iloc[0])
        if mk not in mode_cache:
            mode_cache[mk] = language_mode(*mk)
        rows.append({
            **cell, "study": grp["study"].iloc[0], "item_lang": grp["item_lang"].iloc[0],
            "is_baseline": cell["model"] in baselines, "native": mode_cache[mk] == "native",
            "language_mode": mode_cache[mk],
            "scale": scale.get(cell["item_id"]), "n_options": len(q), "n_variants": len(vecs),
            **metrics.alignment_scores(p, q, ordinal=ordinal),
            "js_sim_min": min(per_variant), "js_sim_max": max(per_variant),
            "spread_jsd": metrics.mean_pairwise_js_distance(vecs),
            "model_dist": p.tolist(), "survey_dist": q.tolist(),
        })
    return pd.DataFrame(rows, columns=COLUMNS)
