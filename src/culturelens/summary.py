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
            rows.append([model, "baseline" if baseline[key] else "model", condition,
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


def robustness_section(entry: Mapping) -> str:
    """Steerability and US-centric gap per model (means over countries), extrapolability pairs."""
    parts = []
    steer, gap, extra = entry.get("steerability"), entry.get("us_centric_gap"), entry.get("extrapolability")
    if steer is not None and not steer.empty:
        rows = []
        for model, grp in steer.groupby("model"):
            g = gap[gap["model"] == model] if gap is not None and not gap.empty else pd.DataFrame()
            rows.append([model, len(grp), fmt(grp["steerability"].mean()),
                         fmt(grp["steerability"].min()), fmt(grp["steerability"].max()),
                         fmt(g["us_centric_gap"].mean()) if len(g) else NA, len(g)])
        parts.append("Steerability = alignment under the country's persona − alignment without a persona "
                     "(same items, same prompt language), averaged per country, then over countries. "
                     "US-centric gap = alignment with the US survey − alignment with the persona country's own.\n")
        parts.append(markdown_table(["model", "countries", "steerability", "min", "max", "US-centric gap", "countries (gap)"],
                                    rows, align=["l", "r", "r", "r", "r", "r", "r"]))
    if extra is not None and not extra.empty:
        rows = [[r["model"], r["condition"], f"{r['part_a']} ↔ {r['part_b']}", fmt(r["spearman_rho"]),
                 fmt_p(r["p"]), int(r["n_countries"]), r["note"] if isinstance(r["note"], str) else ""]
                for _, r in extra.iterrows()]
        split = extra["split_by"].iloc[0] if "split_by" in extra else "part"
        parts.append(f"Extrapolability: Spearman ρ across countries between mean alignment on items of one "
                     f"{split} and on items of another.\n")
        parts.append(markdown_table(["model", "condition", "parts", "ρ", "p", "countries", "note"], rows,
                                    align=["l", "l", "l", "r", "r", "r", "l"]))
    return "\n".join(parts)


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
                    parts.append(f"Fitted by {first['engine']}{method}.\n")
                parts.append(fixed_effects_table(coefficients))
        notes = entry.get("notes") or []
        if notes:
            parts.append("### Notes\n")
            parts.append("".join(f"- {str(n).strip()}\n" for n in notes))
        if alignment is None and correlations is None and not stats and not notes:
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
