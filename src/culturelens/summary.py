"""``results/summary.md``: the headline numbers of a run, as markdown tables.

Everything written comes from the tables passed in (alignment cells, Hofstede correlations,
mixed-model coefficients, notes) and the run metadata; nothing is hard-coded. Numbers are shown
with 3 decimals, missing values as ``n/a``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from culturelens import robustness
from culturelens.labels import UNREADABLE
from culturelens.prompts import condition_labels
from culturelens.plots import CONDITION_ORDER, DIMENSIONS, pretty_term

METRICS = ["js_sim", "emd_sim", "tv", "top1"]
NA = "n/a"


# --------------------------------------------------------------------------- formatting


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]],
                   align: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured markdown table (no padding), ending with a newline.

    ``align`` holds ``"l"`` or ``"r"`` per column (default left). Cells are converted with
    ``str``; ``|`` is escaped and line breaks become spaces so a cell cannot break the table.
    """
    header = [str(h) for h in header]
    width = len(header)
    align = list(align) if align is not None else ["l"] * width
    if len(align) != width:
        raise ValueError(f"align has {len(align)} entries for {width} columns")

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    for row in rows:
        row = list(row)
        if len(row) != width:
            raise ValueError(f"row {row!r} has {len(row)} cells for {width} columns")
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def fmt(value: object, decimals: int = 3) -> str:
    """A number with ``decimals`` decimals (integers as integers); NaN/None as ``n/a``."""
    if value is None:
        return NA
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return NA
    return f"{number:.{decimals}f}"


def fmt_count(value: object) -> str:
    """A count (``n``) as an integer, whatever its dtype; NaN/None as ``n/a``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return NA
    return NA if math.isnan(number) else str(int(round(number)))


def fmt_p(value: object) -> str:
    """A p-value to 3 decimals, ``<0.001`` below that."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return NA
    if math.isnan(number):
        return NA
    return "<0.001" if number < 0.001 else f"{number:.3f}"


def _order_conditions(values) -> list[str]:
    present = list(dict.fromkeys(str(v) for v in values))
    return [c for c in CONDITION_ORDER if c in present] + sorted(c for c in present if c not in CONDITION_ORDER)


# --------------------------------------------------------------------------- sections


COMMON_KEY = ["item_id", "country", "prompt_lang"]


def common_cells(alignment: pd.DataFrame) -> pd.DataFrame:
    """The rows whose (item, country, prompt language) every model of their condition has.

    Respondents that abstain on part of the items (``us-centric`` covers only items asked in the
    US) would otherwise be averaged over other cells than the models beside them.
    """
    keep = pd.Series(False, index=alignment.index)
    for _, grp in alignment.groupby("condition", sort=False):
        keys = grp[COMMON_KEY].astype(str).agg("|".join, axis=1)
        per_model = keys.groupby(grp["model"]).agg(set)
        shared = set.intersection(*per_model) if len(per_model) else set()
        keep[grp.index] = keys.isin(shared).to_numpy()
    return alignment[keep]


def alignment_table(alignment: pd.DataFrame) -> str:
    """Per model × condition, over the cells every model of the condition has (see common_cells):
    mean of each metric, its range across variants, the metric of the mean distribution, the
    cell counts (common / all) and the robustness columns. Baselines are marked."""
    if alignment is None or alignment.empty:
        return "No alignment cells.\n"
    data = alignment.copy()
    data["model"] = data["model"].astype(str)
    data["condition"] = data["condition"].astype(str)
    if "is_baseline" not in data.columns:
        data["is_baseline"] = False
    data["is_baseline"] = data["is_baseline"].fillna(False).astype(bool)
    numeric = [c for c in data.columns if c in METRICS or c.endswith("_of_mean")
               or c in ("js_sim_min", "js_sim_max", "consistency", "order_tv")]
    for m in numeric:
        data[m] = pd.to_numeric(data[m], errors="coerce").astype(float)
    all_cells = data.groupby(["model", "condition"], sort=False).size()
    common = common_cells(data)
    grouped = common.groupby(["model", "condition"], sort=False)
    means = grouped[numeric].mean()
    baseline = data.groupby(["model", "condition"], sort=False)["is_baseline"].any()

    baselines = set(baseline[baseline].index.get_level_values("model"))
    models = (sorted(set(data["model"]) - baselines, key=str.casefold)
              + sorted(baselines, key=str.casefold))
    conditions = _order_conditions(data["condition"])
    labels = condition_labels(data) if {"language_mode", "item_lang"} <= set(data.columns) else {}
    rows = []
    for model in models:
        for condition in conditions:
            key = (model, condition)
            if key not in all_cells.index:
                continue
            have = key in means.index

            def cell(column: str) -> str:
                return fmt(means.loc[key, column]) if have and column in means.columns else NA

            span = (f"[{cell('js_sim_min')}, {cell('js_sim_max')}]"
                    if {"js_sim_min", "js_sim_max"} <= set(means.columns) else NA)
            rows.append([model, "baseline" if baseline[key] else "model", labels.get(condition, condition),
                         int(grouped.size().get(key, 0)), int(all_cells[key]), cell("js_sim"), span,
                         cell("js_sim_of_mean"), *(cell(m) for m in METRICS[1:]),
                         cell("consistency"), cell("order_tv")])
    header = ["model", "kind", "condition", "cells", "cells (all)", "js_sim", "js_sim range", "js_sim of mean",
              *METRICS[1:], "consistency", "order_tv"]
    return markdown_table(header, rows, align=["l", "l", "l"] + ["r"] * (len(header) - 3))


ALIGNMENT_CAPTION = (
    "Means over the alignment cells that every model of a condition has (one cell = model × item × "
    "country × condition × prompt language; `cells` counts them, `cells (all)` counts the model's own). "
    "`js_sim` (1 − Jensen–Shannon distance, base 2), `emd_sim` (ordinal items, scale points only), `tv` "
    "(a distance: lower = closer) and `top1` are computed for each prompt variant (template paraphrase × "
    "option order) and averaged over variants; `js_sim range` is the mean lowest and highest variant, so "
    "it always contains `js_sim`. `js_sim of mean` compares the variants' mean distribution instead, which "
    "smooths the answer and is usually higher. Baselines: `uniform` is the floor; `oracle` is the "
    "per-country noise ceiling (each variant resampled at the survey's n) and abstains under default "
    "prompting, which has no target country; `pooled` answers with the mean of all countries' "
    "distributions, the reference under default prompting; `us-centric` answers like the United "
    "States and covers only items asked there.\n"
)


#: Per-country robustness rows are listed in the summary up to this many; beyond it, only per model.
MAX_COUNTRY_ROWS = 40


def _interval(row, value: str, low: str, high: str) -> str:
    """``value [low, high]``, or just the value when the interval is missing."""
    text = fmt(row.get(value))
    lo, hi = row.get(low), row.get(high)
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return text
    return f"{text} [{fmt(lo)}, {fmt(hi)}]"


def _count_range(values: pd.Series) -> str:
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return NA
    low, high = fmt_count(values.min()), fmt_count(values.max())
    return low if low == high else f"{low}–{high}"


def _excludes_zero(frame: pd.DataFrame, low: str, high: str) -> str:
    """How many intervals lie above 0 and how many below, as ``above / below``."""
    if not {low, high} <= set(frame.columns):
        return NA
    return f"{int((frame[low] > 0).sum())} / {int((frame[high] < 0).sum())}"


def _p_adjusted(row) -> str:
    return fmt_p(row.get("p_adjusted")) if "p_adjusted" in row else NA


def steerability_section(steer: pd.DataFrame | None, gap: pd.DataFrame | None) -> str:
    """Per model: steerability and US-centric gap (raw, uniform respondent's, net) over countries,
    with how many countries' 95 % intervals exclude 0; per country (up to `MAX_COUNTRY_ROWS` rows)
    each number with its interval and item count."""
    steer = steer if steer is not None else pd.DataFrame()
    gap = gap if gap is not None else pd.DataFrame()
    if steer.empty and gap.empty:
        return ""
    parts = ["Steerability = alignment (1 − JSD) under the country's persona − alignment of the same item "
             "without a persona, in the same prompt language. US-centric gap = alignment of the model's answer "
             "under the persona with the US survey − with the persona country's own; the uniform answer (1/K per "
             "option) has a gap of its own on the same items and country (`uniform gap`), and `net gap` = gap − "
             "uniform gap. Per country: mean over items, with a 95 % percentile interval from "
             f"{robustness.N_BOOT} bootstrap resamples of the items (seed {robustness.SEED}); per model: mean over "
             "countries, and how many countries' intervals lie above / below 0.\n"]
    models = sorted(set(steer.get("model", pd.Series(dtype=str))) | set(gap.get("model", pd.Series(dtype=str))),
                    key=str.casefold)
    rows = []
    for model in models:
        s = steer[steer["model"] == model] if not steer.empty else steer
        g = gap[gap["model"] == model] if not gap.empty else gap
        row = [model]
        if len(s):
            row += [len(s), _count_range(s.get("n_items", pd.Series(dtype=float))), fmt(s["steerability"].mean()),
                    fmt(s["steerability"].min()), fmt(s["steerability"].max()), _excludes_zero(s, "ci_low", "ci_high")]
        else:
            row += [0] + [NA] * 5
        if len(g):
            row += [len(g), _count_range(g.get("n_items", pd.Series(dtype=float))), fmt(g["us_centric_gap"].mean()),
                    fmt(g["uniform_gap"].mean()) if "uniform_gap" in g else NA,
                    fmt(g["net_gap"].mean()) if "net_gap" in g else NA, _excludes_zero(g, "net_ci_low", "net_ci_high")]
        else:
            row += [0] + [NA] * 5
        rows.append(row)
    parts.append(markdown_table(
        ["model", "countries", "items", "steerability", "min", "max", "CI > 0 / < 0",
         "countries (gap)", "items (gap)", "US-centric gap", "uniform gap", "net gap", "net CI > 0 / < 0"],
        rows, align=["l"] + ["r"] * 12))
    keys = ["model", "country"]
    gap = gap.rename(columns={c: f"gap_{c}" for c in gap.columns if c not in keys})
    per_country = steer if gap.empty else gap if steer.empty else steer.merge(gap, on=keys, how="outer")
    if 0 < len(per_country) <= MAX_COUNTRY_ROWS:
        rows = []
        for r in per_country.sort_values(keys).to_dict("records"):
            rows.append([r["model"], r["country"], fmt_count(r.get("n_items")),
                         _interval(r, "steerability", "ci_low", "ci_high"), fmt_count(r.get("gap_n_items")),
                         _interval(r, "gap_us_centric_gap", "gap_ci_low", "gap_ci_high"),
                         fmt(r.get("gap_uniform_gap")), _interval(r, "gap_net_gap", "gap_net_ci_low", "gap_net_ci_high")])
        parts.append("Per country, mean [95 % CI]:\n")
        parts.append(markdown_table(["model", "country", "items", "steerability", "items (gap)", "US-centric gap",
                                     "uniform gap", "net gap"], rows, align=["l", "l", "r", "r", "r", "r", "r", "r"]))
    elif len(per_country):
        parts.append(f"Per-country values with intervals ({len(per_country)} rows): "
                     "`robustness/steerability.csv`, `robustness/us_centric_gap.csv`.\n")
    return "\n".join(parts)


def extrapolability_section(extra: pd.DataFrame | None) -> str:
    """One row per test: ρ, raw p, adjusted p (method named in the text), countries, note."""
    if extra is None or extra.empty:
        return ""
    method = str(extra["adjust_method"].iloc[0]) if "adjust_method" in extra else None
    rows = [[r["model"], r["condition"], f"{r['part_a']} ↔ {r['part_b']}", fmt(r["spearman_rho"]),
             fmt_p(r["p"]), _p_adjusted(r), fmt_count(r["n_countries"]),
             r["note"] if isinstance(r["note"], str) else ""]
            for r in extra.to_dict("records")]
    split = extra["split_by"].iloc[0] if "split_by" in extra else "part"
    adjusted = (f" `p adj.`: p adjusted across the {len(extra)} tests of this table ({method})."
                if method else "")
    return (f"Extrapolability: Spearman ρ across countries between mean alignment on items of one "
            f"{split} and on items of another.{adjusted}\n\n"
            + markdown_table(["model", "condition", "parts", "ρ", "p", "p adj.", "countries", "note"], rows,
                             align=["l", "l", "l", "r", "r", "r", "r", "l"]))


def rank_correlation_section(ranks: pd.DataFrame | None) -> str:
    """Per model × condition × prompt language: the pooled Spearman ρ (n pairs, items, countries) and
    the mean of the per-item ρ over the items where it is defined (with their count)."""
    if ranks is None or ranks.empty:
        return ""
    keys = ["model", "condition", "prompt_lang"]
    data = ranks.assign(**{k: ranks[k].astype(str) for k in keys})
    items = data[data["level"] == "item"]
    rank = {c: i for i, c in enumerate(_order_conditions(data["condition"]))}
    rows = []
    for r in sorted(data[data["level"] == "pooled"].to_dict("records"),
                    key=lambda r: (r["model"].casefold(), rank[r["condition"]], r["prompt_lang"])):
        own = items[(items[keys] == pd.Series({k: r[k] for k in keys})).all(axis=1)]["spearman_rho"].dropna()
        rows.append([r["model"], r["condition"], r["prompt_lang"], fmt(r["spearman_rho"]), fmt_p(r["p"]),
                     fmt_count(r["n"]), fmt_count(r["n_items"]), fmt_count(r["n_countries"]),
                     fmt(own.mean()) if len(own) else NA, len(own),
                     r["note"] if isinstance(r.get("note"), str) else ""])
    text = ("Rank correlation across countries (Rystrøm et al. 2025): each cell reduced to one number for the "
            "model and one for the survey — share of the first option for two-option items, expected scale "
            "position for ordinal items, share of the survey's modal option (over countries) for nominal ones. "
            "`pooled ρ`: Spearman over all (item, country) pairs (`pairs`); `item ρ`: mean over items of the "
            "Spearman ρ across countries, over the `items (ρ)` items where it is defined (≥ 5 countries, "
            "neither side constant).\n\n")
    return text + markdown_table(
        ["model", "condition", "prompt language", "pooled ρ", "p", "pairs", "items", "countries", "item ρ",
         "items (ρ)", "note"], rows, align=["l", "l", "l", "r", "r", "r", "r", "r", "r", "r", "l"])


def robustness_section(entry: Mapping) -> str:
    """Steerability and US-centric gap (`steerability_section`), extrapolability
    (`extrapolability_section`) and rank correlation across countries (`rank_correlation_section`)."""
    parts = [steerability_section(entry.get("steerability"), entry.get("us_centric_gap")),
             extrapolability_section(entry.get("extrapolability")),
             rank_correlation_section(entry.get("rank_correlation"))]
    return "\n".join(p for p in parts if p)


def correlations_table(correlations: pd.DataFrame) -> str:
    """Hofstede correlations: one row per model × condition (× prompt language), one column per dimension.

    Each cell reads ``r / ρ / n`` (Pearson r, Spearman ρ, countries); notes such as a constant
    model index are listed under the table.
    """
    if correlations is None or correlations.empty:
        return "No Hofstede correlations.\n"
    data = correlations.copy()
    keys = [k for k in ("model", "condition", "prompt_lang") if k in data.columns]
    for k in keys:
        data[k] = data[k].astype(str)
    dims = [d for d in DIMENSIONS if d in set(data["dimension"])]
    dims += sorted(set(data["dimension"].astype(str)) - set(dims))

    rank = {c: i for i, c in enumerate(_order_conditions(data["condition"]))} if "condition" in keys else {}

    def sort_key(key: tuple) -> tuple:
        return tuple(rank.get(v, 0) if k == "condition" else v.casefold() for k, v in zip(keys, key))

    order = sorted(set(data[keys].itertuples(index=False, name=None)), key=sort_key)

    lookup = {tuple(rec[k] for k in keys) + (str(rec["dimension"]),): rec
              for rec in data.to_dict("records")[::-1]}  # reversed: the first row wins on duplicates
    rows, notes = [], {}
    for key in order:
        row = list(key)
        for dim in dims:
            rec = lookup.get((*key, dim))
            if rec is None:
                row.append("")
                continue
            row.append(f"{fmt(rec.get('pearson_r'))} / {fmt(rec.get('spearman_rho'))} / {fmt_count(rec.get('n'))}")
            note = rec.get("note")
            if isinstance(note, str) and note.strip():
                notes.setdefault((" · ".join(key), note.strip()), []).append(dim.upper())
        rows.append(row)
    labels = {"model": "model", "condition": "condition", "prompt_lang": "prompt language"}
    header = [labels[k] for k in keys] + [d.upper() for d in dims]
    text = "Each cell: Pearson r / Spearman ρ / n countries.\n\n"
    text += markdown_table(header, rows, align=["l"] * len(keys) + ["r"] * len(dims))
    if notes:
        text += "\n" + "".join(f"- {where} ({', '.join(d)}): {note}\n" for (where, note), d in notes.items())
    return text


def fixed_effects_table(coefficients: pd.DataFrame) -> str:
    """Fixed effects (estimate, SE, 95 % CI, z, p) and variance components of one analysis."""
    if coefficients is None or coefficients.empty:
        return "No coefficients.\n"
    kind = coefficients["kind"].astype(str) if "kind" in coefficients.columns else pd.Series("fixed", coefficients.index)
    fixed = coefficients[kind == "fixed"]
    rows = [[pretty_term(r.term), fmt(r.estimate), fmt(getattr(r, "se", None)),
             f"[{fmt(getattr(r, 'ci_low', None))}, {fmt(getattr(r, 'ci_high', None))}]",
             fmt(getattr(r, "z", None)), fmt_p(getattr(r, "p", None))]
            for r in fixed.itertuples(index=False)]
    text = markdown_table(["term", "estimate", "SE", "95 % CI", "z", "p"], rows,
                          align=["l", "r", "r", "r", "r", "r"]) if rows else "No fixed effects.\n"
    variance = coefficients[kind == "variance"]
    if not variance.empty:
        text += "\nVariance components: " + "; ".join(
            f"{r.term} {fmt(r.estimate)}" for r in variance.itertuples(index=False)) + "\n"
    return text


# --------------------------------------------------------------------------- document


CEILING_CAPTION = (
    "How far two samples of the same country's respondents agree: each country's respondents split "
    "at random into two halves (seeded), the weighted answer shares of each half over the substantive "
    "options compared by 1 − JS distance (base 2), per (item, country), then averaged. Each half has "
    "about half the respondents, so this is a lower bound on the agreement of two full samples. "
    "Beside it, `oracle` (the survey resampled at its n) and the best model, under the cross-national "
    "condition, on the same (item, country) pairs.\n"
)


def ceiling_section(ceiling: pd.DataFrame | None, alignment: pd.DataFrame | None) -> str:
    """The split-half noise ceiling of microdata surveys beside the oracle's and the models' alignment."""
    if ceiling is None or ceiling.empty or ceiling["split_half_js_sim"].notna().sum() == 0:
        return ""
    pairs = ceiling.dropna(subset=["split_half_js_sim"])[["item_id", "country", "split_half_js_sim"]]
    rows = [["split-half (respondents)", fmt_count(len(pairs)), fmt(pairs["split_half_js_sim"].mean())]]
    if alignment is not None and not alignment.empty:
        cells = alignment[alignment["condition"] == "cross_national"].merge(pairs, on=["item_id", "country"])
        means = cells.groupby("model")["js_sim"].agg(["mean", "size"])
        baselines = set(cells.loc[cells["is_baseline"], "model"])
        shown = [m for m in means.index if m == "oracle"]
        models = means.drop(index=[m for m in means.index if m in baselines])
        if len(models):
            shown.append(models["mean"].idxmax())
        rows += [[m, fmt_count(means.loc[m, "size"]), fmt(means.loc[m, "mean"])] for m in shown]
    return CEILING_CAPTION + "\n" + markdown_table(["", "cells", "js_sim"], rows, align="lrr")


LABELS_CAPTION = (
    "Accuracy: share of the prompt rows asked whose predicted label (the top option of the answer "
    "distribution, ties broken at random) is the gold label of the prompt's culture (its target country; "
    "`none`: no country named, scored against the country-free annotation); an answer that names no label "
    "counts as wrong (a request that got no answer at all is not scored, and counted). Macro-F1: mean F1 over "
    "the labels present as gold or readable prediction (an "
    "unreadable answer is a miss of its gold label). Brackets: 95 % bootstrap intervals over questions. "
    "The mean columns are unweighted means over the cultures of the row; `unreadable` counts the rows whose "
    "answer named no label, by kind; `accuracy (readable)` is the mean accuracy over the readable answers "
    "only. Per-culture numbers are in `labels/scores.csv` and the accuracy figure.\n\n")


def _unreadable(cells: pd.DataFrame) -> str:
    """'n of N' unreadable rows and their kinds ('0 of 1,200' when every answer was read)."""
    total, bad = int(cells["n_rows"].sum()), int(cells["n_unreadable"].sum())
    kinds = [f"{kind.replace('_', ' ')} {int(cells[f'n_{kind}'].sum())}" for kind in UNREADABLE
             if cells[f"n_{kind}"].sum() > 0]
    failed = int(cells["n_failed"].sum()) if "n_failed" in cells else 0
    return (f"{fmt_count(bad)} of {fmt_count(total)}" + (f" ({', '.join(kinds)})" if kinds else "")
            + (f"; {fmt_count(failed)} requests failed, not scored" if failed else ""))


def labels_section(scores: pd.DataFrame | None, differences: pd.DataFrame | None) -> str:
    """Accuracy per model × condition × culture (label tasks), and the contrast of two conditions."""
    if scores is None or scores.empty:
        return "No model answered any question of this label task.\n"
    out = [LABELS_CAPTION]
    conditions = _order_conditions(scores["condition"])
    cultures = sorted(scores["country"].unique(), key=lambda c: (c == "none", c))
    for model, part in scores.groupby("model", sort=False):
        rows = []
        for cond in conditions:
            langs = list(dict.fromkeys(part.loc[part["condition"] == cond, "prompt_lang"]))
            for lang in langs:   # a condition with several fixed prompt languages: one row each
                cells = part[(part["condition"] == cond) & (part["prompt_lang"] == lang)].set_index("country")
                label = cond if len(langs) == 1 else f"{cond} ({lang})"
                row = [label]
                for c in cultures:
                    row.append(_interval(cells.loc[c], "accuracy", "accuracy_low", "accuracy_high")
                               if c in cells.index else "")
                row += [fmt(cells["accuracy"].mean()), fmt(cells["macro_f1"].mean()), _unreadable(cells),
                        fmt(cells["accuracy_readable"].mean())]
                rows.append(row)
        out.append(f"**{model}** (accuracy)\n\n")
        out.append(markdown_table(["condition", *cultures, "mean accuracy", "mean macro-F1", "unreadable",
                                   "accuracy (readable)"], rows))
        out.append("\n")
    if differences is not None and len(differences):
        first, versus = differences["condition"].iloc[0], differences["versus"].iloc[0]
        out.append(f"Accuracy under `{first}` minus `{versus}` (paired question bootstrap):\n\n")
        rows = [[r["model"], r["country"], r["n_items"], fmt(r["accuracy"]), fmt(r["accuracy_versus"]),
                 _interval(r, "difference", "difference_low", "difference_high"),
                 "above" if r["difference_low"] > 0 else "below" if r["difference_high"] < 0 else "no"]
                for _, r in differences.iterrows()]
        out.append(markdown_table(["model", "culture", "questions", first, versus, "difference", "CI excludes 0"], rows))
        out.append("\n")
    return "".join(out)


COVERAGE_CAPTION = (
    "Coverage: how much of each answer landed on the option labels before it was renormalised over them "
    "(`logprobs`: the first answer token's probability mass on the labels; `sample`: the share of draws that "
    "named an option; `verbalized` and reference respondents: 1). Per model, condition and prompt language: "
    "the prompt rows with a distribution, their mean and least coverage, and how many fall below the floor "
    "(config `coverage.floor`); **⚠** marks a mean below it. With `coverage.exclude: true` the rows below the "
    "floor are not scored (counted as `low_coverage`) instead of renormalised. Per-model tables: "
    "`coverage/<model>.csv`.\n\n")


def coverage_section(coverage: pd.DataFrame | None, baselines: Sequence[str] = ()) -> str:
    """Coverage per model × condition × prompt language (culturelens.coverage), models first; the
    reference respondents, which answer on the options only, in one line."""
    if coverage is None or coverage.empty:
        return ""
    real = coverage[~coverage["model"].isin(baselines)]
    out = [COVERAGE_CAPTION]
    if real.empty:
        out.append("Only reference respondents ran: they answer on the options only (coverage 1).\n")
        return "".join(out)
    floor = float(real["floor"].iloc[0])
    rows = []
    rank = {c: i for i, c in enumerate(_order_conditions(real["condition"]))}
    for r in real.assign(_rank=real["condition"].map(rank)).sort_values(["model", "_rank", "prompt_lang"]).itertuples(
            index=False):
        flag = " ⚠" if r.mean_coverage < floor else ""
        below = f"{int(r.n_below_floor)} ({r.share_below_floor:.0%})" + (" excluded" if r.excluded and r.n_below_floor else "")
        rows.append([r.model, r.condition, r.prompt_lang, r.method, fmt_count(r.n_rows), fmt(r.mean_coverage) + flag,
                     fmt(r.min_coverage), below])
    out.append(markdown_table(["model", "condition", "prompt language", "method", "prompt rows", "mean coverage",
                               "least", f"below {floor:g}"], rows, align="llllrrrr"))
    return "".join(out)


def render_summary(studies: Mapping[str, Mapping], meta: Mapping[str, object] | None = None) -> str:
    """The markdown text of the summary (see :func:`write_summary`)."""
    parts = ["# culturelens results\n"]
    if meta:
        parts.append("## Run\n")
        parts.append("".join(f"- {str(k).replace('_', ' ')}: {v}\n" for k, v in meta.items()))
    for study, entry in studies.items():
        entry = entry or {}
        parts.append(f"## {study}\n")
        alignment = entry.get("alignment")
        if alignment is not None:
            parts.append("### Alignment\n")
            parts.append(ALIGNMENT_CAPTION)
            parts.append(alignment_table(alignment))
            robust = robustness_section(entry)
            if robust:
                parts.append("### Robustness\n")
                parts.append(robust)
        coverage = coverage_section(entry.get("coverage"), entry.get("baselines") or ())
        if coverage:
            parts.append("### Coverage: answers on the option labels\n")
            parts.append(coverage)
        if "label_scores" in entry:
            parts.append("### Label task: accuracy and macro-F1\n")
            parts.append(labels_section(entry["label_scores"], entry.get("label_differences")))
        ceiling = ceiling_section(entry.get("ceiling"), alignment)
        if ceiling:
            parts.append("### Noise ceiling\n")
            parts.append(ceiling)
        correlations = entry.get("correlations")
        if correlations is not None:
            parts.append("### Hofstede dimensions: model indices vs published scores\n")
            parts.append(correlations_table(correlations))
            if alignment is None and entry.get("extrapolability") is not None:
                parts.append(robustness_section({"extrapolability": entry["extrapolability"]}))
        stats = entry.get("stats") or {}
        if stats:
            parts.append("### Mixed-effects models: fixed effects\n")
            for analysis, coefficients in stats.items():
                parts.append(f"#### {analysis}\n")
                if coefficients is not None and "engine" in coefficients and coefficients["engine"].notna().any():
                    first = coefficients.dropna(subset=["engine"]).iloc[0]
                    method = f", {first['method']}" if isinstance(first.get("method"), str) else ""
                    scale = " Estimates and variance components on the log-odds scale." if "binomial" in str(
                        first["engine"]).lower() else ""
                    parts.append(f"Fitted by {first['engine']}{method}.{scale}\n")
                parts.append(fixed_effects_table(coefficients))
        notes = entry.get("notes") or []
        if notes:
            parts.append("### Notes\n")
            parts.append("".join(f"- {str(n).strip()}\n" for n in notes))
        if alignment is None and correlations is None and "label_scores" not in entry and not stats and not notes:
            parts.append("No results for this study.\n")
    return "\n".join(parts)


def write_summary(path, studies: Mapping[str, Mapping], *, meta: Mapping[str, object] | None = None) -> Path:
    """Write ``results/summary.md``.

    ``studies`` maps a study name to a dict with optional keys ``alignment`` (alignment cells),
    ``correlations`` (Hofstede correlations), ``stats`` (analysis → coefficient table) and
    ``notes`` (list of strings). ``meta`` (e.g. config hash, culturelens version, date) is listed
    under "Run" in the order given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_summary(studies, meta), encoding="utf-8")
    return path
