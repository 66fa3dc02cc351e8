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
- `rank_correlation`: whether the model ranks countries on an item as their surveys do (Spearman
  across countries per item, and pooled over (item, country) pairs);
- self-consistency across paraphrases is `1 − spread_jsd` of each alignment cell (`consistency`).
"""

from __future__ import annotations

import functools

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from . import metrics
from .alignment import target_vectors

CELL = ["model", "item_id", "country", "condition", "prompt_lang"]
#: Bootstrap resamples (over items) and seed for every interval in this module.
N_BOOT = 1000
SEED = 0
#: Multiple-comparison adjustment of the p-values within one table (statsmodels method name).
ADJUST_METHOD = "holm"


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


@functools.lru_cache(maxsize=64)
def _draws(seed: int, n_boot: int, n: int) -> np.ndarray:
    """The resampled cluster indices: the same for every call with these arguments (so made once
    per number of clusters, not once per group; thousands of (model, country) groups share a few)."""
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    draws.setflags(write=False)
    return draws


def bootstrap_ci(frame: pd.DataFrame, columns: list[str], cluster: str = "item_id", n_boot: int = N_BOOT,
                 seed: int = SEED, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile interval of the mean of each of `columns` over the rows of `frame`, resampling
    whole clusters (items) with replacement: `n_boot` resamples of as many clusters as there are,
    each resample's mean = sum over its rows / number of its rows, interval = the (1 − level)/2 and
    (1 + level)/2 quantiles of the resampled means. Seeded with `seed` for every call, so the
    result depends only on the rows. Fewer than two clusters: NaN."""
    groups = frame.groupby(cluster, sort=True)
    sums, counts = groups[columns].sum().to_numpy(dtype=float), groups.size().to_numpy(dtype=float)
    if len(counts) < 2:
        return {c: (np.nan, np.nan) for c in columns}
    draws = _draws(seed, n_boot, len(counts))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)[:, None]
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return {c: (float(lo), float(hi)) for c, lo, hi in zip(columns, low, high)}


def _per_group(rows: pd.DataFrame, by: list[str], columns: dict[str, str], ci: dict[str, tuple[str, str]],
               **boot) -> pd.DataFrame:
    """Mean of each value column per group (renamed by `columns`), item-bootstrap intervals for those
    in `ci` (column → (low name, high name)), `n_items` (distinct items) and `n_cells` (rows)."""
    out = []
    for key, grp in rows.groupby(by, sort=True):
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        rec.update({name: grp[col].mean() for col, name in columns.items()})
        intervals = bootstrap_ci(grp, list(ci), **boot)  # the same item resamples for every column
        for col, (lo, hi) in ci.items():
            rec[lo], rec[hi] = intervals[col]
        rec.update(n_items=grp["item_id"].nunique(), n_cells=len(grp))
        out.append(rec)
    return pd.DataFrame(out)


def steerability(alignment: pd.DataFrame, persona_condition: str = "cross_national",
                 baseline_condition: str = "default", metric: str = "js_sim", n_boot: int = N_BOOT,
                 seed: int = SEED) -> pd.DataFrame:
    """Per (model, country): mean over (item, prompt language) of alignment under the persona minus
    alignment of the same item without one, in the same prompt language (`steerability`), with a
    95 % percentile interval from a bootstrap over items (`ci_low`, `ci_high`, see `bootstrap_ci`),
    the two means (`persona`, `default`), `n_items` (distinct items) and `n_cells` (paired rows)."""
    cols = ["model", "country", "steerability", "ci_low", "ci_high", "persona", "default", "n_items", "n_cells"]
    keys = ["model", "item_id", "country", "prompt_lang"]
    persona = alignment[alignment["condition"] == persona_condition].set_index(keys)[metric]
    base = alignment[alignment["condition"] == baseline_condition].set_index(keys)[metric]
    paired = pd.concat({"persona": persona, "default": base}, axis=1).dropna()
    if paired.empty:
        return pd.DataFrame(columns=cols)
    paired = paired.assign(delta=paired["persona"] - paired["default"]).reset_index()
    out = _per_group(paired, ["model", "country"],
                     {"delta": "steerability", "persona": "persona", "default": "default"},
                     {"delta": ("ci_low", "ci_high")}, n_boot=n_boot, seed=seed)
    return out[cols]


def us_centric_gap(alignment: pd.DataFrame, targets: pd.DataFrame, reference: str = "US",
                   condition: str = "cross_national", n_boot: int = N_BOOT, seed: int = SEED) -> pd.DataFrame:
    """Per (model, country), over the model's answers under the country's persona:

    - `us_centric_gap`: mean over cells (item × prompt language) of 1−JSD(model, US survey) −
      1−JSD(model, own survey); positive: it answers more like Americans than like the people it
      was asked to speak for;
    - `uniform_gap`: the same for the uniform answer (1/K per option) on the same items and
      country. A uniform answer is already closer to some countries' surveys than to the US's (or
      the reverse), so part of a raw gap is the survey's, not the model's;
    - `net_gap` = `us_centric_gap` − `uniform_gap`, cell by cell;
    - 95 % item-bootstrap intervals (`bootstrap_ci`): `ci_low`/`ci_high` for the gap,
      `net_ci_low`/`net_ci_high` for the net gap; `n_items` (distinct items), `n_cells`.

    Items the reference country was not asked are left out. Both terms compare the cell's mean answer
    distribution (`model_dist`) with a survey distribution, in base 2.
    """
    cols = ["model", "country", "us_centric_gap", "ci_low", "ci_high", "uniform_gap", "net_gap",
            "net_ci_low", "net_ci_high", "n_items", "n_cells"]
    n_options = {item: len(dist) for item, dist in zip(alignment["item_id"], alignment["survey_dist"])}
    us_targets = targets[(targets["country"] == reference) & targets["item_id"].isin(n_options)]
    ref = {item: vec for (item, _), vec in target_vectors(us_targets, n_options).items()}
    cells = alignment[(alignment["condition"] == condition) & (alignment["country"] != reference)
                      & alignment["item_id"].isin(ref)]
    if cells.empty:
        return pd.DataFrame(columns=cols)
    # all cells at once; a cell's vectors and the US one have the item's length (target_vectors
    # checks the indices), zero-padded to the widest item (zeros add nothing to a JS distance)
    P = _padded(cells["model_dist"])
    S = _padded(cells["survey_dist"])
    Q = _padded(cells["item_id"].map(ref))
    k = cells["survey_dist"].map(len).to_numpy()[:, None]
    U = (np.arange(P.shape[1]) < k) / k   # the uniform answer over the item's options
    # both terms compare the cell's mean answer distribution (base 2), like with like:
    # 1−JSD(p, US) − (1−JSD(p, own)) = JSD(p, own) − JSD(p, US)
    gap = metrics.js_distance_rows(P, S) - metrics.js_distance_rows(P, Q)
    uniform_gap = metrics.js_distance_rows(U, S) - metrics.js_distance_rows(U, Q)
    rows = cells[["model", "country", "item_id"]].assign(gap=gap, uniform_gap=uniform_gap, net=gap - uniform_gap)
    out = _per_group(rows.reset_index(drop=True), ["model", "country"],
                     {"gap": "us_centric_gap", "uniform_gap": "uniform_gap", "net": "net_gap"},
                     {"gap": ("ci_low", "ci_high"), "net": ("net_ci_low", "net_ci_high")},
                     n_boot=n_boot, seed=seed)
    return out[cols]


def _padded(vectors: pd.Series) -> np.ndarray:
    """Rows of distributions of possibly different lengths, each normalised to sum 1 and
    zero-padded to the longest."""
    lengths = vectors.map(len).to_numpy()
    out = np.zeros((len(vectors), int(lengths.max()) if len(lengths) else 0))
    for k in np.unique(lengths):
        rows = np.flatnonzero(lengths == k)
        out[rows, :k] = np.stack([np.asarray(v, dtype=float) for v in vectors.iloc[rows]])
    with np.errstate(invalid="ignore", divide="ignore"):
        return out / out.sum(axis=1, keepdims=True)


def adjust_p(p: pd.Series, method: str = ADJUST_METHOD) -> pd.Series:
    """Multiple-comparison-adjusted p-values across all non-missing entries of `p`
    (statsmodels `multipletests`: `"holm"` controls the family-wise error rate under any dependence
    between the tests; `"fdr_bh"` the false discovery rate). Missing p-values stay missing."""
    p = pd.to_numeric(p, errors="coerce").astype(float)
    out = pd.Series(np.nan, index=p.index)
    ok = p.notna()
    if ok.any():
        out[ok] = multipletests(p[ok].to_numpy(), method=method)[1]
    return out


def extrapolability(alignment: pd.DataFrame, parts: pd.Series, metric: str = "js_sim",
                    min_countries: int = 5, method: str = ADJUST_METHOD) -> pd.DataFrame:
    """Per (model, condition) and pair of item parts (`parts`: item_id → part, e.g. survey source,
    topic or VSM dimension): Spearman correlation across countries of the countries' mean alignment
    on one part with their mean alignment on the other, with n countries. `p_adjusted` adjusts `p`
    for every test in the returned table (`adjust_p`, method in `adjust_method`): a table holds one
    test per model × condition × pair of parts, so some would pass p < 0.05 by chance alone."""
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
    out = pd.DataFrame(rows, columns=["model", "condition", "part_a", "part_b", "spearman_rho", "p",
                                      "n_countries", "note"])
    out.insert(out.columns.get_loc("p") + 1, "p_adjusted", adjust_p(out["p"], method))
    out.insert(out.columns.get_loc("p_adjusted") + 1, "adjust_method", method)
    return out


def option_scores(alignment: pd.DataFrame) -> pd.DataFrame:
    """One number per alignment cell for the model (`model_score`) and the survey (`survey_score`),
    the same option or scale for every country of an item, so that countries can be ranked:

    - two options (binary stance items): the share of the first option (the "pro" side);
    - ordinal items with more options: the expected scale position Σ_k k·p_k / (K − 1), in [0, 1];
    - nominal items with more options: the share of the survey's modal option, the option with the
      largest mean share over the item's countries (unweighted; ties: the first).

    `measure` names which of the three (`first_option`, `expected_position`, `modal_option`).
    Cells whose model and survey distributions differ in length are dropped."""
    data = alignment[alignment["model_dist"].map(len) == alignment["survey_dist"].map(len)]
    data = data.assign(k=data["survey_dist"].map(len))
    surveys = data.drop_duplicates(["item_id", "country"])
    modal = {item: int(np.argmax(np.mean(np.stack(g.to_numpy()), axis=0)))
             for item, g in surveys.groupby("item_id")["survey_dist"]}
    ordinal = data["scale"].eq("ordinal") if "scale" in data else pd.Series(False, index=data.index)
    measure = np.where(data["k"] == 2, "first_option", np.where(ordinal, "expected_position", "modal_option"))

    def score(dist, how, item):
        if how == "first_option":
            return float(dist[0])
        if how == "expected_position":
            return float(np.dot(np.arange(len(dist)), dist) / (len(dist) - 1))
        return float(dist[modal[item]])

    triples = list(zip(measure, data["item_id"], data["model_dist"], data["survey_dist"]))
    return data.assign(measure=measure,
                       model_score=[score(np.asarray(p, float), how, i) for how, i, p, _ in triples],
                       survey_score=[score(np.asarray(q, float), how, i) for how, i, _, q in triples])


def _spearman(x: pd.Series, y: pd.Series, min_n: int) -> tuple[float, float, str]:
    if len(x) < min_n:
        return np.nan, np.nan, f"n < {min_n}"
    if x.nunique() < 2 or y.nunique() < 2:
        return np.nan, np.nan, "constant"
    rho, p = sps.spearmanr(x, y)
    return float(rho), float(p), ""


def _spearman_groups(data: pd.DataFrame, by: list[str], min_n: int) -> pd.DataFrame:
    """`_spearman` of model_score vs survey_score in every group of `by` at once: Pearson's r of
    the within-group ranks (average ranks for ties), its p from Student's t with n − 2 degrees of
    freedom (two-sided; what scipy.stats.spearmanr reports); `measure`, `n`, `n_items`, `n_countries`."""
    groups = data.groupby(by, sort=True)
    rx = groups["model_score"].rank(method="average")
    ry = groups["survey_score"].rank(method="average")
    g = groups.ngroup().to_numpy()
    n = np.bincount(g).astype(float)
    dx, dy = rx - rx.groupby(g).transform("mean"), ry - ry.groupby(g).transform("mean")
    sxy, sxx, syy = (np.bincount(g, weights=w.to_numpy()) for w in (dx * dy, dx * dx, dy * dy))
    spread = pd.DataFrame({"x": groups["model_score"].nunique(), "y": groups["survey_score"].nunique()})
    constant = ((spread["x"] < 2) | (spread["y"] < 2)).to_numpy()
    small = n < min_n
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
        t = rho * np.sqrt((n - 2) / ((1.0 - rho) * (1.0 + rho)))
        p = 2 * sps.t.sf(np.abs(t), n - 2)
    undefined = small | constant
    rho, p = np.where(undefined, np.nan, rho), np.where(undefined, np.nan, p)
    note = np.where(small, f"n < {min_n}", np.where(constant, "constant", ""))
    keys = groups.size().reset_index()[by]
    measures = groups["measure"].agg(lambda m: "+".join(sorted(m.unique()))).to_numpy()
    return keys.assign(measure=measures, spearman_rho=rho, p=p, n=n.astype(int),
                       n_items=groups["item_id"].nunique().to_numpy(),
                       n_countries=groups["country"].nunique().to_numpy(), note=note)


def rank_correlation(alignment: pd.DataFrame, min_countries: int = 5, method: str = ADJUST_METHOD) -> pd.DataFrame:
    """Does the model rank countries as their surveys do (Rystrøm et al. 2025, "Multilingual !=
    Multicultural")? Per (model, condition, prompt_lang), with the scores of `option_scores`:

    - `level = "item"`: per item, Spearman ρ across countries between the model's and the survey's
      score (n = countries);
    - `level = "pooled"`: Spearman ρ over all (item, country) pairs (n = pairs; between-item
      differences count too, so default prompting, identical for every country, can still score).

    Tests with fewer than `min_countries` points, or a constant side, get NaN and a `note`.
    `p_adjusted` (`adjust_p`, `adjust_method`) adjusts `p` across the tests of the same level."""
    cols = ["model", "condition", "prompt_lang", "level", "item_id", "measure", "spearman_rho", "p",
            "p_adjusted", "adjust_method", "n", "n_items", "n_countries", "note"]
    if alignment.empty:
        return pd.DataFrame(columns=cols)
    data = option_scores(alignment)
    group = ["model", "condition", "prompt_lang"]
    item = _spearman_groups(data, group + ["item_id"], min_countries).assign(level="item", n_items=1)
    pooled = _spearman_groups(data, group, min_countries).assign(level="pooled", item_id="")
    rows = pd.concat([item, pooled], ignore_index=True)
    out = rows[[c for c in cols if c not in ("p_adjusted", "adjust_method")]].copy()
    if out.empty:
        return pd.DataFrame(columns=cols)
    out["p_adjusted"] = out.groupby("level", group_keys=False)["p"].apply(lambda p: adjust_p(p, method))
    out["adjust_method"] = method
    return out[cols]
