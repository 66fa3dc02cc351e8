"""Robustness checks reported beside every headline number.

Published alignment results are often artefacts of one wording or one option order. These pure
functions measure that from the tables the pipeline already has:

- `position_bias`: how much an answer distribution moves when the options are shown reversed;
- `steerability`: alignment with a country under its persona minus alignment without a persona;
- `us_centric_gap`: alignment with the United States' answers minus alignment with the persona
  country's own, for the same model distribution;
- `extrapolability`: whether countries' alignment on one part of the items predicts it on another
  (rank correlation across countries);
- self-consistency across paraphrases is `1 − spread_jsd` of each alignment cell (`consistency`).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as sps

from . import metrics

CELL = ["model", "item_id", "country", "condition", "prompt_lang"]


def position_bias(dist: pd.DataFrame) -> pd.DataFrame:
    """Per cell: `order_tv`, the total variation between the option distributions shown as listed
    and reversed (same paraphrase, averaged over paraphrases), and `primacy`, the mean probability
    of the first-shown option minus 1/K (positive: the model favours whatever comes first)."""
    if dist.empty:
        return pd.DataFrame(columns=CELL + ["order_tv", "primacy", "n_pairs"])
    keys = CELL + ["paraphrase"]
    k = dist.groupby(CELL + ["paraphrase", "option_order"])["option_index"].transform("size")
    first = dist[dist["position"] == 0].assign(excess=lambda d: d["prob"] - 1 / k[d.index])
    primacy = first.groupby(CELL)["excess"].mean().rename("primacy")
    wide = dist.pivot_table(index=keys + ["option_index"], columns="option_order", values="prob", aggfunc="mean")
    if not {"listed", "reversed"} <= set(wide.columns):
        out = primacy.reset_index()
        out["order_tv"], out["n_pairs"] = np.nan, 0
        return out[CELL + ["order_tv", "primacy", "n_pairs"]]
    wide = wide.dropna(subset=["listed", "reversed"])
    tv = (wide["listed"] - wide["reversed"]).abs().groupby(level=keys).sum() / 2
    per_cell = tv.groupby(level=CELL).agg(["mean", "size"]).rename(columns={"mean": "order_tv", "size": "n_pairs"})
    return per_cell.join(primacy, how="outer").reset_index()[CELL + ["order_tv", "primacy", "n_pairs"]]


def steerability(alignment: pd.DataFrame, persona_condition: str = "cross_national",
                 baseline_condition: str = "default", metric: str = "js_sim") -> pd.DataFrame:
    """Per (model, country): mean over items of alignment under the persona minus alignment of the
    same item without one, in the same prompt language."""
    keys = ["model", "item_id", "country", "prompt_lang"]
    persona = alignment[alignment["condition"] == persona_condition].set_index(keys)[metric]
    base = alignment[alignment["condition"] == baseline_condition].set_index(keys)[metric]
    paired = pd.concat({"persona": persona, "default": base}, axis=1).dropna()
    if paired.empty:
        return pd.DataFrame(columns=["model", "country", "steerability", "persona", "default", "n_items"])
    paired["steerability"] = paired["persona"] - paired["default"]
    out = paired.groupby(level=["model", "country"]).agg(
        steerability=("steerability", "mean"), persona=("persona", "mean"), default=("default", "mean"),
        n_items=("steerability", "size"))
    return out.reset_index()


def us_centric_gap(alignment: pd.DataFrame, targets: pd.DataFrame, reference: str = "US",
                   condition: str = "cross_national") -> pd.DataFrame:
    """Per (model, country): mean over items of 1−JSD(model, US survey) − 1−JSD(model, own survey)
    for the model's answers under the country's persona. Positive: it answers more like Americans
    than like the people it was asked to speak for."""
    ref = {item: g.sort_values("option_index")["share"].to_numpy()
           for item, g in targets[targets["country"] == reference].groupby("item_id")}
    cells = alignment[(alignment["condition"] == condition) & (alignment["country"] != reference)
                      & alignment["item_id"].isin(ref)]
    rows = []
    for rec in cells[["model", "item_id", "country", "js_sim", "model_dist"]].to_dict("records"):
        q = ref[rec["item_id"]]
        if len(q) != len(rec["model_dist"]):
            continue
        rows.append({"model": rec["model"], "country": rec["country"],
                     "gap": metrics.js_similarity(rec["model_dist"], q) - rec["js_sim"]})
    if not rows:
        return pd.DataFrame(columns=["model", "country", "us_centric_gap", "n_items"])
    gaps = pd.DataFrame(rows).groupby(["model", "country"])["gap"].agg(["mean", "size"])
    return gaps.rename(columns={"mean": "us_centric_gap", "size": "n_items"}).reset_index()


def extrapolability(alignment: pd.DataFrame, parts: pd.Series, metric: str = "js_sim",
                    min_countries: int = 5) -> pd.DataFrame:
    """Per (model, condition) and pair of item parts (`parts`: item_id → part, e.g. survey source,
    topic or VSM dimension): Spearman correlation across countries of the countries' mean alignment
    on one part with their mean alignment on the other, with n countries."""
    data = alignment.assign(part=alignment["item_id"].map(parts)).dropna(subset=["part", metric])
    rows = []
    for (model, condition), grp in data.groupby(["model", "condition"]):
        by_country = grp.groupby(["country", "part"])[metric].mean().unstack("part")
        for a, b in combinations(sorted(by_country.columns), 2):
            both = by_country[[a, b]].dropna()
            rho = p = np.nan
            note = ""
            if len(both) < min_countries:
                note = f"n < {min_countries}"
            elif both[a].nunique() < 2 or both[b].nunique() < 2:
                note = "constant"
            else:
                rho, p = sps.spearmanr(both[a], both[b])
            rows.append({"model": model, "condition": condition, "part_a": a, "part_b": b,
                         "spearman_rho": rho, "p": p, "n_countries": len(both), "note": note})
    return pd.DataFrame(rows, columns=["model", "condition", "part_a", "part_b", "spearman_rho", "p",
                                       "n_countries", "note"])
