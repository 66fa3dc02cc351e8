"""Seaborn figures: data frame in, PNG out.

Every public function takes the table it draws (see docs/architecture.md), writes one PNG
(150 dpi, Agg backend) to ``path``, closes the figure and returns ``path``. An empty input
writes a small "no data" PNG instead of raising, so a study without cells for one figure
does not stop the pipeline.

Countries are shown by name (CLDR, English) and prompt languages by their English name, never
by code. Figure sizes grow with the number of rows and columns so that 100 countries × 10
languages or 20 models stay readable.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from babel import Locale  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from culturelens.errors import InputError  # noqa: E402

DPI = 150

#: Axis and colour-bar wording for each alignment metric.
METRIC_LABELS = {
    "js_sim": "1 − Jensen–Shannon distance",
    "emd_sim": "1 − normalised EMD (ordinal items)",
    "tv": "total variation (lower = closer)",
    "top1": "top-1 agreement",
}

#: Known conditions in their natural order; others follow alphabetically.
CONDITION_ORDER = ["default", "cross_national", "linguistic", "native_persona"]

#: Hofstede dimensions in their usual order, with their names.
DIMENSIONS = {
    "pdi": "Power distance",
    "idv": "Individualism",
    "mas": "Masculinity",
    "uai": "Uncertainty avoidance",
    "lto": "Long-term orientation",
    "ivr": "Indulgence",
}

_EN = Locale("en")


# --------------------------------------------------------------------------- labels


def _country_label(code: str) -> str:
    """English name of a country code (CLDR), falling back to babel, then to the code.

    Prefers ``culturelens.countries.name(code, "en")``; sub-national codes such as
    ``GB-NIR`` that CLDR does not name become ``United Kingdom (NIR)`` in the fallback.
    """
    code = str(code)
    try:
        from culturelens.countries import name
    except ImportError:
        name = None
    if name is not None:
        try:
            label = name(code, "en")
        except (InputError, KeyError, LookupError, ValueError):  # a code CLDR does not name
            label = None
        else:
            if label:
                return str(label)
    found = _EN.territories.get(code)
    if found:
        return found
    if "-" in code:
        parent, _, sub = code.partition("-")
        parent_name = _EN.territories.get(parent)
        if parent_name:
            return f"{parent_name} ({sub})"
    return code


def _language_label(code: str) -> str:
    """English name of a language code (CLDR), or the code itself."""
    from culturelens.countries import language_name_en

    return language_name_en(code)


def _metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _ordered_conditions(values) -> list[str]:
    present = [str(v) for v in pd.unique(pd.Series(list(values)))]
    known = [c for c in CONDITION_ORDER if c in present]
    return known + sorted(c for c in present if c not in CONDITION_ORDER)


def _study_suffix(frame: pd.DataFrame) -> str:
    if "study" in frame.columns:
        studies = sorted(str(s) for s in frame["study"].dropna().unique())
        if len(studies) == 1:
            return f" — {studies[0]}"
    return ""


def _tick_fontsize(n: int, small: float = 9.0, large: float = 6.0) -> float:
    """Tick font size shrinking with the number of ticks (9 pt for few, 6 pt for ≥ 80)."""
    if n <= 20:
        return small
    if n >= 80:
        return large
    return small - (small - large) * (n - 20) / 60


# --------------------------------------------------------------------------- output


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _no_data(path, title: str, reason: str = "no data") -> Path:
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, reason, ha="center", va="center", fontsize=16, color="0.4", transform=ax.transAxes)
    return _save(fig, path)


# --------------------------------------------------------------------------- heatmap


def heatmap_country_language(alignment: pd.DataFrame, model: str, path, metric: str = "js_sim",
                             conditions: list[str] | None = None) -> Path:
    """Mean ``metric`` per country × prompt language for one model.

    A cell is the mean of ``metric`` over all alignment cells of ``model`` with that country and
    prompt language (all items, and all conditions unless ``conditions`` restricts them). Rows are
    countries sorted by their mean over the row (best on top: highest, or lowest for ``tv``), columns are prompt languages sorted
    by English name. Cells where the prompt language is a main language of the country
    (``native``) are outlined; combinations with no data are left grey.
    """
    title = f"{model}: mean {_metric_label(metric)} by country and prompt language"
    data = alignment if alignment is not None else pd.DataFrame()
    if not data.empty:
        title += _study_suffix(data)
        data = data[data["model"].astype(str) == str(model)]
        if conditions is not None:
            data = data[data["condition"].isin(list(conditions))]
        data = data[data[metric].notna()] if metric in data.columns else data.iloc[0:0]
    if data.empty:
        return _no_data(path, title)
    if conditions is not None:
        title += f"\nconditions: {', '.join(_ordered_conditions(conditions))}"

    grid = data.groupby(["country", "prompt_lang"])[metric].mean().unstack("prompt_lang")
    native = (
        data.groupby(["country", "prompt_lang"])["native"].any().unstack("prompt_lang")
        if "native" in data.columns else None
    )
    # best on top: highest similarity, or lowest distance for tv
    row_order = grid.mean(axis=1).sort_values(ascending=metric == "tv", kind="mergesort").index
    lang_names = {c: _language_label(c) for c in grid.columns}
    col_order = sorted(grid.columns, key=lambda c: (lang_names[c].casefold(), c))
    grid = grid.loc[row_order, col_order]
    n_rows, n_cols = grid.shape

    row_h = 0.5 if n_rows <= 10 else 0.32 if n_rows <= 30 else 0.2
    col_w = 0.9 if n_cols <= 12 else 0.6
    fig_h = n_rows * row_h + 2.2
    fig_w = n_cols * col_w + 4.0
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    ax.set_facecolor("0.85")  # combinations without cells
    annotate = n_rows <= 20 and n_cols <= 12
    sns.heatmap(
        grid.to_numpy(dtype=float), ax=ax, cmap="viridis_r" if metric == "tv" else "viridis",
        annot=annotate, fmt=".2f", annot_kws={"fontsize": 8},
        xticklabels=[lang_names[c] for c in col_order],
        yticklabels=[_country_label(c) for c in row_order],
        linewidths=0.3, linecolor="white",
        cbar_kws={"label": f"mean {_metric_label(metric)} over items", "shrink": min(1.0, 8 / fig_h + 0.2)},
    )
    if native is not None:
        native = native.reindex(index=row_order, columns=col_order)
        for i, j in zip(*np.nonzero(native.fillna(False).to_numpy(dtype=bool))):
            ax.add_patch(Rectangle((j, i), 1, 1, fill=False, edgecolor="black", linewidth=1.2))
    ax.set_xlabel("prompt language")
    ax.set_ylabel("country (sorted by mean alignment)")
    ax.tick_params(axis="y", labelsize=_tick_fontsize(n_rows), rotation=0)
    ax.tick_params(axis="x", labelsize=_tick_fontsize(n_cols), rotation=45 if n_cols > 3 else 0)
    if n_cols > 3:
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    if native is not None:
        title += "\n(outlined: prompt language is a main language of the country)"
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


# --------------------------------------------------------------------------- models vs baselines


def models_vs_baselines(alignment: pd.DataFrame, path, metric: str = "js_sim",
                        n_boot: int = 1000, seed: int = 0) -> Path:
    """Mean ``metric`` per model, one panel per condition, baselines grey and hatched.

    Bars are the mean over the alignment cells of each model and condition; error bars are a
    95 % percentile bootstrap interval over cells (seaborn ``errorbar=("ci", 95)``, ``n_boot``
    resamples, fixed ``seed``).
    """
    title = f"Models and baselines: mean {_metric_label(metric)} per condition"
    data = alignment if alignment is not None else pd.DataFrame()
    if not data.empty:
        title += _study_suffix(data)
        data = data[data[metric].notna()] if metric in data.columns else data.iloc[0:0]
    if data.empty:
        return _no_data(path, title)

    baseline_flag = data["is_baseline"].fillna(False).astype(bool) if "is_baseline" in data.columns else False
    data = data.assign(model=data["model"].astype(str), kind=np.where(baseline_flag, "baseline", "model"))
    baseline_names = set(data.loc[data["kind"] == "baseline", "model"])
    models = (sorted(set(data["model"]) - baseline_names, key=str.casefold)
              + sorted(baseline_names, key=str.casefold))
    conditions = _ordered_conditions(data["condition"])
    n_models, n_cond = len(models), len(conditions)
    longest = max(len(m) for m in models)
    rotate = 90 if n_models > 8 or longest > 14 else 30 if n_models > 3 else 0

    panel_w = max(3.0, 0.45 * n_models + 1.0)
    label_h = 0.075 * longest * (1.0 if rotate == 90 else 0.5 if rotate else 0.0) * _tick_fontsize(n_models) / 9
    fig, axes = plt.subplots(1, n_cond, figsize=(panel_w * n_cond + 0.8, 4.2 + label_h), sharey=True,
                             squeeze=False)
    palette = {"model": "#3b75af", "baseline": "0.72"}
    for ax, condition in zip(axes[0], conditions):
        part = data[data["condition"] == condition]
        kinds = [k for k in ("model", "baseline") if (part["kind"] == k).any()]
        sns.barplot(
            data=part, x="model", y=metric, hue="kind", order=models, hue_order=kinds,
            palette=palette, dodge=False, errorbar=("ci", 95), n_boot=n_boot, seed=seed,
            err_kws={"linewidth": 1.2, "color": "black"}, capsize=0.2, ax=ax, legend=False,
        )
        for kind, container in zip(kinds, ax.containers):
            if kind == "baseline":
                for bar in container:
                    bar.set_hatch("//")
                    bar.set_edgecolor("0.35")
        ax.set_title(condition)
        ax.set_xlabel("model")
        ax.tick_params(axis="x", labelsize=_tick_fontsize(n_models), rotation=rotate)
        if rotate and rotate != 90:
            plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
        ax.grid(axis="y", color="0.9")
        ax.set_axisbelow(True)
    axes[0][0].set_ylabel(f"mean {_metric_label(metric)}\nper cell (95 % bootstrap CI)")
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    handles = [Patch(facecolor=palette["model"], label="model")]
    if baseline_names:
        handles.append(Patch(facecolor=palette["baseline"], hatch="//", edgecolor="0.35",
                             label="baseline (reference respondent)"))
    fig.legend(handles=handles, loc="upper right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return _save(fig, path)


# --------------------------------------------------------------------------- Hofstede


def _pearson(x, y) -> float:
    """Pearson r, NaN when fewer than 3 points or either side is constant."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _fmt_r(r: float) -> str:
    return "n/a" if not np.isfinite(r) else f"{r:.2f}"


def _place_labels(ax, points, fontsize: float = 6.5) -> None:
    """Label points with a small offset, trying several positions to avoid overlaps.

    Call after the figure layout is final: overlaps are checked in display coordinates
    against the labels already placed and against every point marker in the panel.
    """
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    renderer = ax.figure.canvas.get_renderer()
    offsets = []
    for d in (3, 9, 16, 24, 33, 43):
        offsets += [(4, d, "left", "bottom"), (4, -d, "left", "top"), (-4, d, "right", "bottom"),
                    (-4, -d, "right", "top"), (0, d + 3, "center", "bottom"), (0, -d - 3, "center", "top")]
    radius = 3.0 * ax.figure.dpi / 72  # marker half-size in pixels
    markers = [Bbox.from_extents(px - radius, py - radius, px + radius, py + radius)
               for px, py in ax.transData.transform([(x, y) for x, y, _ in points])] if points else []
    placed: list = []
    axes_box = ax.get_window_extent(renderer)
    for x, y, text in sorted(points, key=lambda p: (-p[1], p[0])):
        best = None
        for dx, dy, ha, va in offsets:
            leader = {"arrowstyle": "-", "color": "0.6", "linewidth": 0.5, "shrinkA": 0, "shrinkB": 2}
            label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                                ha=ha, va=va, fontsize=fontsize, color="0.15",
                                arrowprops=leader if abs(dy) > 9 else None)
            label.update_positions(renderer)
            box = Text.get_window_extent(label, renderer)  # the text only, not the leader line
            inside = (box.x0 >= axes_box.x0 and box.x1 <= axes_box.x1
                      and box.y0 >= axes_box.y0 and box.y1 <= axes_box.y1)
            clash = sum(box.overlaps(other) for other in placed) * 10
            clash += sum(box.overlaps(m) for m in markers)
            score = clash + (0 if inside else 3)
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, label, box)
            else:
                label.remove()
            if score == 0:
                break
        placed.append(best[2].expanded(1.04, 1.15))


def hofstede_scatter(indices_vs_scores: pd.DataFrame, path, model: str | None = None,
                     condition: str | None = None) -> Path:
    """Model VSM index against Hofstede's published score, one panel per dimension.

    One point per country and series (model × condition); the index is averaged over prompt
    languages when a series has several. Each panel title gives Pearson r and n per series,
    computed from exactly the points shown ("n/a" when the index is constant or n < 3).
    Countries are named next to their points when there are at most 25.
    """
    who = str(model) if model is not None else "all models"
    title = f"{who}: VSM 2013 indices vs Hofstede's published scores"
    if condition is not None:
        title += f" ({condition})"
    data = indices_vs_scores if indices_vs_scores is not None else pd.DataFrame()
    if not data.empty:
        if model is not None:
            data = data[data["model"].astype(str) == str(model)]
        if condition is not None:
            data = data[data["condition"].astype(str) == str(condition)]
        data = data.dropna(subset=["index", "score"])
    if data.empty:
        return _no_data(path, title)

    data = data.assign(model=data["model"].astype(str), condition=data["condition"].astype(str))
    points = (data.groupby(["model", "condition", "dimension", "country"], as_index=False)
              .agg(index=("index", "mean"), score=("score", "mean")))
    models = sorted(points["model"].unique())
    conditions = _ordered_conditions(points["condition"])
    series = [(m, c) for m in models for c in conditions
              if ((points["model"] == m) & (points["condition"] == c)).any()]
    colours = dict(zip(models, sns.color_palette("tab10" if len(models) <= 10 else "husl", len(models))))
    markers = dict(zip(conditions, ["o", "s", "^", "D", "v", "P", "X", "*"] * 3))
    n_countries = points["country"].nunique()
    label_points = n_countries <= 25
    multi = len(series) > 1

    dims = [d for d in DIMENSIONS if d in set(points["dimension"])]
    dims += sorted(set(points["dimension"]) - set(dims))
    n_panels = max(6, len(dims))
    n_cols = 3
    n_rows_grid = math.ceil(n_panels / n_cols)
    title_lines = len(series) if multi else 1
    panel_h = 4.2 + 0.18 * title_lines
    fig, axes = plt.subplots(n_rows_grid, n_cols, figsize=(16, panel_h * n_rows_grid + 1.0), squeeze=False)
    flat = axes.ravel()
    to_label: list = []
    for ax in flat[len(dims):]:
        ax.set_axis_off()
    for ax, dim in zip(flat, dims):
        part = points[points["dimension"] == dim]
        stats_lines = []
        for m, c in series:
            s = part[(part["model"] == m) & (part["condition"] == c)]
            if s.empty:
                continue
            ax.scatter(s["score"], s["index"], color=colours[m], marker=markers[c], s=26,
                       alpha=0.85, edgecolor="white", linewidth=0.4)
            r = _pearson(s["score"], s["index"])
            who_line = f"{m} · {c}: " if multi else ""
            stats_lines.append(f"{who_line}r = {_fmt_r(r)}, n = {len(s)}")
        name = DIMENSIONS.get(dim, dim)
        if multi:
            ax.set_title(f"{name} ({dim.upper()})\n" + "\n".join(stats_lines), fontsize=8.5, loc="left")
        else:
            ax.set_title(f"{name} ({dim.upper()}): {stats_lines[0]}", fontsize=10)
        ax.set_xlabel("Hofstede published score")
        ax.set_ylabel("model index (C = 0: relative positions only)")
        ax.tick_params(labelsize=8)
        ax.grid(color="0.92")
        ax.set_axisbelow(True)
        if label_points:
            # one label per country, next to the top point of its column of series
            top = part.sort_values("index", ascending=False).drop_duplicates("country")
            ax.margins(x=0.12, y=0.12)
            to_label.append((ax, [(r.score, r.index, _country_label(r.country)) for r in top.itertuples()]))

    handles = []
    baselines = set(data.loc[data["is_baseline"].astype(bool), "model"]) if "is_baseline" in data.columns else set()
    for m in models:
        label = f"{m} (baseline)" if m in baselines else m
        handles.append(plt.Line2D([], [], color=colours[m], marker="o", linestyle="", label=label))
    if len(conditions) > 1:
        for c in conditions:
            handles.append(plt.Line2D([], [], color="0.3", marker=markers[c], linestyle="", label=c))
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=8, frameon=False)
    # labels last: overlap checks need the final axes geometry (savefig's tight bbox only crops)
    for ax, pts in to_label:
        _place_labels(ax, pts)
    return _save(fig, path)


# --------------------------------------------------------------------------- forest plot

_TERM_C = re.compile(
    r"^C\(\s*(?P<var>[^,()]+?)\s*(?:,\s*Treatment\(\s*(?:reference\s*=\s*)?['\"]?(?P<ref>[^'\")]*)['\"]?\s*\))?\s*\)"
    r"(?:\[T\.(?P<level>.+)\])?$"
)
_TERM_PLAIN = re.compile(r"^(?P<var>[^\[\]]+)\[T\.(?P<level>.+)\]$")


def pretty_term(term: str) -> str:
    """Readable label for a patsy/statsmodels term.

    ``C(model, Treatment('uniform'))[T.oracle]`` → ``model: oracle (vs uniform)``,
    ``native[T.True]`` → ``native: True``; interactions are joined with ``×``.
    """
    parts = []
    for piece in str(term).split(":"):
        piece = piece.strip()
        match = _TERM_C.match(piece)
        if match:
            label = match["var"].strip()
            if match["level"] is not None:
                label += f": {match['level']}"
            if match["ref"]:
                label += f" (vs {match['ref']})"
            parts.append(label)
            continue
        match = _TERM_PLAIN.match(piece)
        parts.append(f"{match['var'].strip()}: {match['level']}" if match else piece)
    return " × ".join(parts)


def forest_plot(coefficients: pd.DataFrame, path, title: str,
                xlabel: str = "fixed-effect estimate (95 % CI)") -> Path:
    """Fixed-effect estimates with their confidence intervals (intercept left out); ``xlabel``
    names the scale (e.g. log-odds for a logistic model)."""
    data = coefficients if coefficients is not None else pd.DataFrame()
    if not data.empty:
        data = data[(data["kind"].astype(str) == "fixed")
                    & (~data["term"].astype(str).str.casefold().isin(["intercept", "(intercept)", "const"]))]
        data = data[data["estimate"].notna()]
    if data.empty:
        return _no_data(path, title)

    data = data.reset_index(drop=True)
    labels = [pretty_term(t) for t in data["term"]]
    n = len(data)
    y = np.arange(n)[::-1]
    low = data["ci_low"].astype(float).to_numpy() if "ci_low" in data else np.full(n, np.nan)
    high = data["ci_high"].astype(float).to_numpy() if "ci_high" in data else np.full(n, np.nan)
    est = data["estimate"].astype(float).to_numpy()
    longest = max(len(s) for s in labels)
    fig, ax = plt.subplots(figsize=(6.5 + 0.06 * longest, 0.38 * n + 1.6))
    has_ci = ~(np.isnan(low) | np.isnan(high))
    ax.errorbar(est[has_ci], y[has_ci], xerr=[est[has_ci] - low[has_ci], high[has_ci] - est[has_ci]],
                fmt="o", color="#3b75af", ecolor="0.3", capsize=3, markersize=5)
    if (~has_ci).any():
        ax.plot(est[~has_ci], y[~has_ci], "o", color="#3b75af", markersize=5)
    ax.axvline(0, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_yticks(y, labels, fontsize=_tick_fontsize(n))
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("term")
    ax.grid(axis="x", color="0.92")
    ax.set_axisbelow(True)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    values = [f"{e:.3f} [{lo:.3f}, {hi:.3f}]" if ok else f"{e:.3f}"
              for e, lo, hi, ok in zip(est, low, high, has_ci)]
    right.set_yticks(y, values, fontsize=_tick_fontsize(n, small=8))
    right.tick_params(axis="y", length=0)
    ax.set_title(title, fontsize=11)
    return _save(fig, path)


# --------------------------------------------------------------------------- robustness


def _interval_bars(ax, data: pd.DataFrame, value: str, low: str, high: str, order: list[str],
                   models: list[str], colours: dict, hue: str = "model") -> None:
    """Horizontal bars of `value` per country name (rows, in `order`) and `hue` (dodged, one bar per
    entry of `models`: its values), with the interval [`low`, `high`] as a black error bar where known."""
    height = 0.8 / len(models)
    row = {name: i for i, name in enumerate(order)}
    for j, model in enumerate(models):
        part = data[(data[hue] == model) & data["country_name"].isin(row)]
        if part.empty:
            continue
        y = part["country_name"].map(row).to_numpy() - 0.4 + height * (j + 0.5)
        x = part[value].to_numpy(dtype=float)
        ax.barh(y, x, height=height, color=colours[model], label=model)
        if {low, high} <= set(part.columns):
            lo, hi = part[low].to_numpy(dtype=float), part[high].to_numpy(dtype=float)
            ok = ~(np.isnan(lo) | np.isnan(hi))
            ax.errorbar(x[ok], y[ok], xerr=[x[ok] - lo[ok], hi[ok] - x[ok]], fmt="none", ecolor="black",
                        elinewidth=0.8, capsize=2)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(range(len(order)), order)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.grid(axis="x", color="0.92")
    ax.set_axisbelow(True)


def steerability_per_country(steer: pd.DataFrame, path, gap: pd.DataFrame | None = None) -> Path:
    """Per country (rows, by name) and model (colour): steerability, alignment (1 − JSD) under the
    country's persona minus without a persona, mean over items with its 95 % item-bootstrap interval
    (`ci_low`, `ci_high`). With `gap`, two more panels: the US-centric gap with its interval and the
    uniform answer's gap on the same items (grey ticks), and the gap net of the uniform answer's
    (`net_gap`, `net_ci_low`, `net_ci_high`). Intervals missing from the table are not drawn."""
    title = "Steerability: persona minus default prompting (1 − JSD)"
    steer = steer if steer is not None else pd.DataFrame()
    if steer.empty:
        return _no_data(path, title)
    steer = steer.assign(country_name=steer["country"].map(_country_label))
    order = steer.groupby("country_name")["steerability"].mean().sort_values(ascending=False).index.tolist()
    has_gap = gap is not None and not gap.empty
    if has_gap:
        gap = gap.assign(country_name=gap["country"].map(_country_label))
        order += sorted(set(gap["country_name"]) - set(order))
    models = sorted(set(steer["model"]) | (set(gap["model"]) if has_gap else set()), key=str.casefold)
    colours = dict(zip(models, sns.color_palette("tab10" if len(models) <= 10 else "husl", len(models))))
    panels = 1 + (has_gap and "net_gap" in gap) + has_gap
    height = max(3.0, (0.12 * len(models) + 0.14) * len(order) + 1.5)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, height), sharey=True, squeeze=False)
    ax = axes[0, 0]
    _interval_bars(ax, steer, "steerability", "ci_low", "ci_high", order, models, colours)
    ax.set_xlabel("Δ mean 1 − JSD (persona − default)")
    ax.set_ylabel("country")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=_tick_fontsize(len(order)))
    if has_gap:
        ax2 = axes[0, 1]
        _interval_bars(ax2, gap, "us_centric_gap", "ci_low", "ci_high", order, models, colours)
        if "uniform_gap" in gap:
            uniform = gap.groupby("country_name")["uniform_gap"].mean().reindex(order)
            ax2.scatter(uniform, range(len(order)), marker="|", s=160, color="0.45", zorder=3,
                        label="uniform answer")
        ax2.set_xlabel("Δ 1 − JSD (vs United States − vs own country)")
        ax2.set_title("US-centric gap under the persona", fontsize=10)
        if "net_gap" in gap:
            ax3 = axes[0, 2]
            _interval_bars(ax3, gap, "net_gap", "net_ci_low", "net_ci_high", order, models, colours)
            ax3.set_xlabel("US-centric gap − uniform answer's gap")
            ax3.set_title("US-centric gap net of the uniform answer", fontsize=10)
    handles, labels = [], []
    for a in axes[0]:
        for h, lab in zip(*a.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("bars: mean over items; lines: 95 % bootstrap interval over items", fontsize=9, y=0.995)
    fig.tight_layout(rect=(0, 0.05 if height < 6 else 0.02, 1, 0.97))
    return _save(fig, path)


def position_bias_by_model(bias: pd.DataFrame, path, n_boot: int = 1000, seed: int = 0) -> Path:
    """Order sensitivity per model (x) and condition (hue), from the per-cell table of
    `robustness.position_bias`: left `order_tv` (how far the answer moves when the options are
    reversed), right `primacy` (> 0: the first-shown option gains, < 0: the last-shown). Bars are
    means over the cells with a listed/reversed pair; error bars a 95 % percentile bootstrap
    interval over those cells (seaborn, `n_boot` resamples, fixed `seed`)."""
    title = "Position bias: answers with the options listed vs reversed"
    data = bias if bias is not None else pd.DataFrame()
    if not data.empty:
        data = data.dropna(subset=["order_tv", "primacy"], how="all")
    if data.empty:
        return _no_data(path, title, "no cell was asked with both option orders")
    data = data.assign(model=data["model"].astype(str), condition=data["condition"].astype(str))
    models = sorted(data["model"].unique(), key=str.casefold)
    conditions = _ordered_conditions(data["condition"])
    counts = data.groupby("condition").size()
    labels = {c: f"{c} (n = {int(counts[c])} cells)" for c in conditions}
    data = data.assign(condition_label=data["condition"].map(labels))
    rotate = 30 if len(models) > 4 else 0
    fig, axes = plt.subplots(1, 2, figsize=(max(8.0, 1.6 * len(models) + 4), 4.4), squeeze=False)
    for ax, column, label in zip(axes[0], ["order_tv", "primacy"],
                                 ["order TV: ½ Σ |p_listed − p_reversed|",
                                  "primacy: gain of an option shown first vs last"]):
        sns.barplot(data=data, x="model", y=column, hue="condition_label", order=models,
                    hue_order=[labels[c] for c in conditions], errorbar=("ci", 95), n_boot=n_boot, seed=seed,
                    err_kws={"linewidth": 1.0, "color": "black"}, capsize=0.15, ax=ax,
                    legend=column == "primacy")
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_ylabel(f"{label}\nmean over cells (95 % bootstrap CI)", fontsize=9)
        ax.set_xlabel("model")
        ax.tick_params(axis="x", labelsize=_tick_fontsize(len(models)), rotation=rotate)
        ax.grid(axis="y", color="0.92")
        ax.set_axisbelow(True)
    handles, names = axes[0, 1].get_legend_handles_labels()
    axes[0, 1].get_legend().remove()
    fig.legend(handles, names, title="condition", loc="lower center", ncol=len(names), fontsize=8,
               title_fontsize=8, frameon=False)
    fig.suptitle(title + _study_suffix(data), fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return _save(fig, path)


def stability_distribution(alignment: pd.DataFrame, path) -> Path:
    """Distribution over cells of the spread across paraphrases and option orders (mean pairwise
    JS distance), one violin per model, split by condition."""
    title = "Stability across paraphrases and option orders"
    data = alignment.dropna(subset=["spread_jsd"]) if "spread_jsd" in alignment else alignment.iloc[0:0]
    if data.empty:
        return _no_data(path, title, "no cell has two or more variants")
    models = sorted(data["model"].unique())
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(models) + 2), 4))
    sns.violinplot(data=data, x="model", y="spread_jsd", hue="condition", order=models,
                   hue_order=_ordered_conditions(data["condition"].unique()), cut=0, inner="quartile",
                   density_norm="width", ax=ax)
    ax.set_ylabel("mean pairwise JS distance across variants\n(0 = identical answers)")
    ax.set_xlabel("model")
    ax.set_title(title + _study_suffix(alignment), fontsize=10)
    ax.tick_params(axis="x", rotation=30 if len(models) > 5 else 0)
    return _save(fig, path)


# --------------------------------------------------------------------------- label tasks


def _culture_label(country: str, language: str) -> str:
    """"Germany (German)"; a culture without a country is its annotation's language ("English")."""
    if country == "none":
        return f"no country ({_language_label(language)} labels)"
    return f"{_country_label(country)} ({_language_label(language)})"


def label_accuracy(scores: pd.DataFrame, path, chance: float | None = None) -> Path:
    """Accuracy per culture (rows) and condition (colour), one panel per model, with the 95 %
    question-bootstrap interval of `culturelens.labels.scores` (`accuracy_low`, `accuracy_high`);
    `chance`: the accuracy of a uniform guess, drawn as a dashed line."""
    if scores.empty:
        return _no_data(path, "accuracy per culture and condition")
    data = scores.assign(culture=[_culture_label(c, lang) for c, lang in zip(scores["country"], scores["language"])])
    order = sorted(data["culture"].unique(), key=lambda s: (s.startswith("no country"), s))
    conditions = _ordered_conditions(data["condition"])
    colours = dict(zip(conditions, sns.color_palette("colorblind", len(conditions))))
    models = list(dict.fromkeys(data["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models) + 2, 0.45 * len(order) * len(conditions) / 2 + 1.5),
                             sharey=True, squeeze=False)
    for ax, model in zip(axes[0], models):
        part = data[data["model"] == model].rename(columns={"culture": "country_name"})
        _interval_bars(ax, part, "accuracy", "accuracy_low", "accuracy_high", order,
                       [c for c in conditions if c in set(part["condition"])], colours, hue="condition")
        if chance is not None:
            ax.axvline(chance, color="0.4", ls="--", lw=0.8)
        ax.set_xlim(0, 1)
        ax.set_title(model)
        ax.set_xlabel("accuracy")
    handles = [Patch(color=colours[c], label=c) for c in conditions]
    fig.legend(handles=handles, title="condition", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("Accuracy against each culture's gold label" + _study_suffix(scores)
                 + (" (dashed: uniform guess)" if chance is not None else ""))
    fig.tight_layout()
    return _save(fig, path)


def label_differences(diff: pd.DataFrame, path) -> Path:
    """Per culture (rows) and model (colour): accuracy under one condition minus another (e.g.
    in-language vs English, both stating the country), with its paired 95 % question-bootstrap
    interval (`difference_low`, `difference_high`)."""
    if diff.empty:
        return _no_data(path, "accuracy difference between conditions", "the two conditions were not both run")
    data = diff.assign(country_name=[_culture_label(c, lang) for c, lang in zip(diff["country"], diff["language"])])
    order = sorted(data["country_name"].unique())
    models = list(dict.fromkeys(data["model"]))
    colours = dict(zip(models, sns.color_palette("colorblind", len(models))))
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(order) * len(models) + 1.5))
    _interval_bars(ax, data, "difference", "difference_low", "difference_high", order, models, colours)
    first, second = data["condition"].iloc[0], data["versus"].iloc[0]
    ax.set_xlabel(f"accuracy: {first} − {second}")
    ax.set_title(f"{first} vs {second}" + _study_suffix(diff) + "\n(> 0: better under " + first + ")")
    ax.legend(title="model", fontsize=8, loc="best")
    return _save(fig, path)
