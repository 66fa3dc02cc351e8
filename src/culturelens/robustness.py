"""Robustness checks reported beside every headline number.

Published alignment results are often artefacts of one wording or one option order. These pure
functions measure that from the tables the pipeline already has:

- `position_bias`: how much an answer distribution moves when the options are shown reversed,
  and whether the move favours the first-shown option (primacy) or the last (recency);
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
    """Per cell, from each pair of answers to the same paraphrase shown as listed and reversed:

    - `order_tv`: total variation ½ Σ_k |p_listed(k) − p_reversed(k)| between the two answer
      distributions (option k in scale order), averaged over pairs;
    - `primacy`: how much an option gains by being shown first rather than last. With `a` the
      option shown first when listed (last when reversed) and `b` the one shown first when
      reversed (last when listed),

          primacy = ½ [(p_listed(a) − p_reversed(a)) + (p_reversed(b) − p_listed(b))],

      averaged over pairs. It lies in [−1, 1]: exactly 0 for a respondent whose answer does not
      depend on the order (whatever its answer), positive when whatever is shown first gains mass
      (primacy), negative when whatever is shown last gains (recency); 1 for a respondent that
      always picks the first-shown option;
    - `n_pairs`: the number of (listed, reversed) pairs; cells without one get NaN measures.
    """
    cols = CELL + ["order_tv", "primacy", "n_pairs"]
    if dist.empty:
        return pd.DataFrame(columns=cols)
    keys = CELL + ["paraphrase"]
    wide = dist.pivot_table(index=keys + ["option_index"], columns="option_order", values=["prob", "position"],
                            aggfunc="mean")
    if not {"listed", "reversed"} <= set(wide.columns.get_level_values("option_order")):
        cells = dist.drop_duplicates(CELL)[CELL].reset_index(drop=True)
        return cells.assign(order_tv=np.nan, primacy=np.nan, n_pairs=0)[cols]
    prob, pos = wide["prob"], wide["position"]
    ok = prob[["listed", "reversed"]].notna().all(axis=1)
    prob, pos = prob[ok], pos[ok]
    tv = (prob["listed"] - prob["reversed"]).abs().groupby(level=keys).sum() / 2
    # gain of the option shown first in one order over the same option in the other order
    first_listed = (prob["listed"] - prob["reversed"])[pos["listed"] == 0].groupby(level=keys).sum()
    first_reversed = (prob["reversed"] - prob["listed"])[pos["reversed"] == 0].groupby(level=keys).sum()
    pairs = pd.DataFrame({"order_tv": tv, "primacy": (first_listed + first_reversed) / 2})
    per_cell = pairs.groupby(level=CELL).agg(order_tv=("order_tv", "mean"), primacy=("primacy", "mean"),
                                             n_pairs=("order_tv", "size")).reset_index()
    cells = dist.drop_duplicates(CELL)[CELL]
    out = cells.merge(per_cell, on=CELL, how="left")
    out["n_pairs"] = out["n_pairs"].fillna(0).astype(int)
    return out[cols].reset_index(drop=True)


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
