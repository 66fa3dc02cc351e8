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


def alignment_table(alignment: pd.DataFrame) -> str:
    """Mean of each metric and the number of cells, per model × condition (baselines marked)."""
    if alignment is None or alignment.empty:
        return "No alignment cells.\n"
    data = alignment.copy()
    data["model"] = data["model"].astype(str)
    data["condition"] = data["condition"].astype(str)
    if "is_baseline" not in data.columns:
        data["is_baseline"] = False
    data["is_baseline"] = data["is_baseline"].fillna(False).astype(bool)
    metrics = [m for m in METRICS if m in data.columns]
    for m in metrics:
        data[m] = pd.to_numeric(data[m], errors="coerce").astype(float)
    grouped = data.groupby(["model", "condition"], sort=False)
    means = grouped[metrics].mean()
    cells = grouped.size()
    baseline = grouped["is_baseline"].any()

    baselines = set(baseline[baseline].index.get_level_values("model"))
    models = (sorted(set(data["model"]) - baselines, key=str.casefold)
              + sorted(baselines, key=str.casefold))
    conditions = _order_conditions(data["condition"])
    rows = []
    for model in models:
        for condition in conditions:
            key = (model, condition)
            if key not in cells.index:
                continue
            robust = [_range(grouped, key), _mean(grouped, key, "consistency"), _mean(grouped, key, "order_tv")]
            rows.append([model, "baseline" if baseline[key] else "model", condition, int(cells[key])]
                        + [fmt(means.loc[key, m]) if m in means.columns else NA for m in METRICS] + robust)
    header = ["model", "kind", "condition", "cells"] + METRICS + ["js_sim range", "consistency", "order_tv"]
    return markdown_table(header, rows, align=["l", "l", "l", "r"] + ["r"] * (len(METRICS) + 3))


def _mean(grouped, key, column: str) -> str:
    if column not in grouped.obj.columns:
        return NA
    return fmt(pd.to_numeric(grouped.get_group(key)[column], errors="coerce").mean())


def _range(grouped, key) -> str:
    """Mean over cells of the lowest and highest js_sim across a cell's variants."""
    if not {"js_sim_min", "js_sim_max"} <= set(grouped.obj.columns):
        return NA
    cell = grouped.get_group(key)
    return f"[{fmt(cell['js_sim_min'].mean())}, {fmt(cell['js_sim_max'].mean())}]"


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
            parts.append("Mean over alignment cells (one cell = model × item × country × condition × prompt "
                         "language); `emd_sim` over ordinal items only; `tv` is a distance (lower = closer). "
                         "Baselines are the reference respondents.\n")
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
