"""The HTML pages of the report: the headline, interactive tables and world maps (all offline).

- :func:`headline_html`: ``summary.md`` (the plain-text copy) rendered to HTML, shown on the report's
  front page (``workflow/report/workflow.rst`` includes it).
- :func:`tables_page`: a page of interactive tables (itables: sort, search, filter per column) with
  the DataTables bundle embedded, so it works without a network; every row of the input is shown
  (itables' down-sampling is switched off).
- :func:`world_map_svg` / :func:`maps_page`: choropleth maps of a value per country drawn as SVG
  from Natural Earth outlines shipped in ``resources/geo`` (equirectangular projection), each
  country with a tooltip of its name and value; countries without a value are hatched grey ("no
  data"), never coloured as zero; countries with a value but no outline at 1:110m are listed.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

GEOMETRY = Path(__file__).resolve().parents[2] / "resources" / "geo" / "countries-110m.json"
WIDTH, HEIGHT = 960, 420          # the map's viewBox: longitude -180..180, latitude 84..-58
LAT_TOP, LAT_BOTTOM = 84.0, -58.0

STYLE = """
<style>
.cl-report { font-family: system-ui, sans-serif; font-size: 14px; line-height: 1.4; }
.cl-report table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 13px; }
.cl-report th, .cl-report td { border: 1px solid #ccc; padding: 2px 6px; }
.cl-report th { background: #f2f2f2; }
.cl-report h1 { font-size: 1.6em; } .cl-report h2 { font-size: 1.35em; margin-top: 1.4em; }
.cl-report h3 { font-size: 1.15em; } .cl-report h4 { font-size: 1.05em; }
.cl-report .caption { color: #333; max-width: 70em; }
.cl-map path.country { stroke: #fff; stroke-width: 0.4; }
.cl-map path.country:hover { stroke: #000; stroke-width: 1; }
/* the report's front page: full width, and from the top (a centred flex box would cut off the start
   of a page taller than the window) */
.prose:has(#culturelens-headline) { max-width: none; }
.h-screen.overflow-auto:has(#culturelens-headline) { align-items: flex-start; }
</style>
"""


def headline_html(summary_markdown: str) -> str:
    """The summary as an HTML fragment (tables, captions, notes), styled for the report."""
    import markdown

    body = markdown.markdown(summary_markdown, extensions=["tables"])
    return f'{STYLE}<div class="cl-report" id="culturelens-headline">{body}</div>'


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'{STYLE}</head><body class="cl-report">{body}</body></html>')


# --------------------------------------------------------------------------- interactive tables


def interactive_table(frame: pd.DataFrame, table_id: str, caption: str) -> str:
    """One itables table (all rows; search box, sorting, a filter per column, pages of 25)."""
    from itables import to_html_datatable

    table = to_html_datatable(
        frame, connected=False, maxBytes=0, maxRows=0, maxColumns=0, showIndex=False, table_id=table_id,
        column_filters="footer", classes="display compact", pageLength=25,
        layout={"topStart": "pageLength", "topEnd": "search", "bottomStart": "info", "bottomEnd": "paging"})
    return f'<p class="caption">{caption}</p>{table}'


def tables_page(title: str, tables: list[tuple[str, str, pd.DataFrame]]) -> str:
    """A page of interactive tables: (id, caption, table) each; the DataTables bundle is embedded once."""
    from itables import options
    from itables.javascript import generate_init_offline_itables_html

    parts = [f"<h1>{html.escape(title)}</h1>", generate_init_offline_itables_html(options.dt_bundle)]
    for table_id, caption, frame in tables:
        parts.append(interactive_table(frame, table_id, caption))
    return page(title, "\n".join(parts))


def _distribution_text(options: list[str], model, survey) -> str:
    """"option: model % | survey %" per option (one line each), as a reader compares them."""
    lines = []
    for k, option in enumerate(options):
        m = f"{100 * model[k]:.1f}" if model is not None and k < len(model) else "–"
        s = f"{100 * survey[k]:.1f}" if survey is not None and k < len(survey) else "–"
        lines.append(f"{option}: {m} | {s}")
    return " · ".join(lines)


#: rows of the per-item table at most: beyond, a page would weigh hundreds of MB (a 100-country
#: campaign has millions of cells); the caption then says how many are shown and where the rest is
MAX_ITEM_ROWS = 50_000


def alignment_tables(scalars: pd.DataFrame, cells: pd.DataFrame, items: pd.DataFrame,
                     n_cells: int | None = None) -> list[tuple[str, str, pd.DataFrame]]:
    """The two tables a reader searches: per (model, country, condition, prompt language) from every
    cell (``scalars``: the alignment table without its distributions), and per item with its text and
    the model's vs the survey's distribution (``cells``: rows with distributions, possibly only the
    first of ``n_cells``)."""
    from .plots import _country_label

    names = {c: _country_label(c) for c in scalars["country"].unique()}
    keys = ["model", "country", "condition", "prompt_lang"]
    per_country = (scalars.groupby(keys, observed=True)
                   .agg(items=("item_id", "nunique"), js_sim=("js_sim", "mean"), js_sim_lowest=("js_sim", "min"),
                        js_sim_highest=("js_sim", "max"), emd_sim=("emd_sim", "mean"))
                   .reset_index())
    per_country.insert(2, "country_name", per_country["country"].map(names))
    per_country = per_country.round(4)
    english = items.sort_values("lang", key=lambda s: s != "en").drop_duplicates("item_id").set_index("item_id")
    per_item = cells[[*keys, "item_id", "js_sim", "emd_sim", "model_dist", "survey_dist"]].copy()
    per_item.insert(2, "country_name", per_item["country"].map(names))
    per_item["question"] = per_item["item_id"].map(english["question"])
    per_item["answers (option: model % | survey %)"] = [
        _distribution_text(list(english["options"].get(i, [])), m, s)
        for i, m, s in zip(per_item["item_id"], per_item["model_dist"], per_item["survey_dist"])]
    per_item = per_item.drop(columns=["model_dist", "survey_dist"]).round(4)
    total = len(per_item) if n_cells is None else n_cells
    shown = ("" if total == len(per_item) else
             f" This table holds the first {len(per_item):,} of the study's {total:,} cells (a page with all of "
             "them would be too large to open); every cell is in alignment.parquet, beside this report.")
    return [
        ("alignment_per_country",
         "Alignment per model, country, condition and prompt language: js_sim is 1 − Jensen–Shannon distance "
         "between the model's answer distribution and the country's survey distribution, per item averaged over "
         "prompt variants, then averaged over the items (their count in `items`; lowest and highest item beside "
         "it); emd_sim is the normalised Earth Mover's similarity (ordinal items). Type in the boxes under the "
         "columns to filter.", per_country),
        ("alignment_per_item",
         "Alignment per item: the item's text, and for each answer option the model's share (mean over prompt "
         "variants) and the survey's share, in per cent. Search, e.g., a country and a word of the question."
         + shown, per_item),
    ]


def first_rows(path, n: int) -> tuple[pd.DataFrame, int]:
    """The first ``n`` rows of a Parquet file (without reading the rest) and its number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as f:
        total = f.metadata.num_rows
        if total <= n:
            return f.read().to_pandas(), total
        batches, got = [], 0
        for batch in f.iter_batches(batch_size=min(n, 65_536)):
            batches.append(batch.slice(0, n - got))
            got += batches[-1].num_rows
            if got >= n:
                break
        return pa.Table.from_batches(batches).to_pandas(), total


LABEL_SCORES_CAPTION = (
    "Label task: accuracy (share of prompt rows asked whose predicted label, the top option of the answer "
    "distribution with ties broken at random, is the gold label of the prompt's culture; an answer that names "
    "no label counts as wrong) and macro-F1 per model, condition and culture (`none`: no country named, "
    "scored against the English annotation), with 95 % bootstrap intervals over questions; `n_unreadable` and "
    "its kinds (`n_refusal`, `n_outside_set`, `n_other_script`, `n_ambiguous`, ...) count the answers that "
    "could not be read, `n_failed` the requests that got no answer (not scored), `accuracy_readable` and "
    "`macro_f1_readable` score the readable ones only (labels/scores.csv).")


# --------------------------------------------------------------------------- world maps


@lru_cache(maxsize=1)
def country_paths() -> dict[str, str]:
    """ISO alpha-2 → SVG path data of the country's outline (Natural Earth 1:110m, TopoJSON decoded:
    delta-encoded quantised arcs, rings as arc indices, a negative index ~i for arc i reversed)."""
    topo = json.loads(GEOMETRY.read_text(encoding="utf-8"))
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        points = np.cumsum(np.asarray(arc, dtype=float), axis=0)
        arcs.append(np.column_stack([points[:, 0] * sx + tx, points[:, 1] * sy + ty]))

    def ring(indices) -> np.ndarray:
        parts = []
        for i in indices:
            pts = arcs[i] if i >= 0 else arcs[~i][::-1]
            parts.append(pts if not parts else pts[1:])
        return np.vstack(parts)

    def xy(points: np.ndarray) -> str:
        x = (points[:, 0] + 180) / 360 * WIDTH
        y = (LAT_TOP - np.clip(points[:, 1], LAT_BOTTOM, LAT_TOP)) / (LAT_TOP - LAT_BOTTOM) * HEIGHT
        # a ring crossing the antimeridian (Russia, Fiji) jumps across the map: start a new sub-path there
        out, prev = [], None
        for a, b in zip(x, y):
            out.append(("M" if prev is None or abs(a - prev) > WIDTH / 2 else "L") + f"{a:.1f},{b:.1f}")
            prev = a
        return "".join(out) + "Z"

    from .countries import from_iso_alias

    out = {}
    for geometry in topo["objects"]["countries"]["geometries"]:
        code = from_iso_alias(geometry["id"]) if "id" in geometry else None
        if code is None or code == "AQ":
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        out[code] = "".join(xy(ring(r)) for polygon in polygons for r in polygon)
    return out


def _colour(value: float, vmin: float, vmax: float, cmap) -> str:
    """``cmap``: a matplotlib colormap object (looked up once per map: the registry returns a copy)."""
    from matplotlib.colors import to_hex

    t = 0.5 if vmax <= vmin else (value - vmin) / (vmax - vmin)
    return to_hex(cmap(min(max(t, 0.0), 1.0)))


def world_map_svg(values: dict[str, float], title: str, label: str, vmin: float, vmax: float,
                  cmap: str = "viridis", map_id: str = "map") -> str:
    """An SVG choropleth: each country with a value coloured on [vmin, vmax] (``cmap``) with a tooltip,
    countries without one hatched grey; a colour bar; countries with a value but no outline listed."""
    from matplotlib import colormaps

    from .plots import _country_label

    cmap = colormaps[cmap]
    paths = country_paths()
    parts = [f'<svg class="cl-map" id="{map_id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + 60}" '
             f'width="100%" role="img" aria-label="{html.escape(title)}">',
             f'<defs><pattern id="{map_id}-nodata" width="6" height="6" patternUnits="userSpaceOnUse" '
             f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eeeeee"/>'
             f'<line x1="0" y1="0" x2="0" y2="6" stroke="#bbbbbb" stroke-width="2"/></pattern></defs>',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#f7fbff"/>']
    for code, d in sorted(paths.items()):
        name = html.escape(_country_label(code))
        if code in values and values[code] == values[code]:
            value = values[code]
            parts.append(f'<path class="country" data-country="{code}" data-value="{value:.4f}" d="{d}" '
                         f'fill="{_colour(value, vmin, vmax, cmap)}"><title>{name}: {value:.3f}</title></path>')
        else:
            parts.append(f'<path class="country nodata" data-country="{code}" d="{d}" fill="url(#{map_id}-nodata)">'
                         f'<title>{name}: no data</title></path>')
    # colour bar and the no-data key
    steps = 40
    for i in range(steps):
        v = vmin + (vmax - vmin) * i / (steps - 1)
        parts.append(f'<rect x="{20 + i * 8}" y="{HEIGHT + 12}" width="8" height="14" fill="{_colour(v, vmin, vmax, cmap)}"/>')
    parts.append(f'<text x="20" y="{HEIGHT + 42}" font-size="12">{vmin:.2f}</text>'
                 f'<text x="{20 + steps * 8}" y="{HEIGHT + 42}" font-size="12" text-anchor="end">{vmax:.2f}</text>'
                 f'<text x="{30 + steps * 8}" y="{HEIGHT + 24}" font-size="12">{html.escape(label)}</text>'
                 f'<rect x="{WIDTH - 150}" y="{HEIGHT + 12}" width="18" height="14" fill="url(#{map_id}-nodata)" '
                 f'stroke="#999"/><text x="{WIDTH - 126}" y="{HEIGHT + 24}" font-size="12">no data</text></svg>')
    unmapped = sorted(c for c in values if c not in paths)
    note = ""
    if unmapped:
        note = ("<p class=\"caption\">With data but too small for the 1:110m outlines: "
                + ", ".join(f"{html.escape(_country_label(c))} {values[c]:.3f}" for c in unmapped) + "</p>")
    return f"<h3>{html.escape(title)}</h3>" + "".join(parts) + note


def alignment_maps(alignment: pd.DataFrame, steerability: pd.DataFrame | None) -> str:
    """Maps of mean js_sim per country for each model and condition (one colour scale for all of
    them), and of steerability per country for each model; HTML fragments with captions."""
    keys = ["model", "condition"]
    per = alignment.groupby([*keys, "country"], observed=True)["js_sim"].mean().reset_index()
    vmin, vmax = (float(per["js_sim"].min()), float(per["js_sim"].max())) if len(per) else (0.0, 1.0)
    parts = ["<h2>Alignment per country</h2>",
             "<p class=\"caption\">Each map: one model under one prompting condition. A country's colour is its mean "
             "alignment (1 − Jensen–Shannon distance between the model's answer distribution and the country's "
             "survey distribution, per alignment cell averaged over prompt variants, then over the cells of the "
             "country: its items × the condition's prompt languages, one language per country except where a "
             f"condition names several); one colour scale for every map ({vmin:.2f} to {vmax:.2f}). Hatched grey: no survey "
             "data for the country in this study (not zero). Hover a country for its value.</p>"]
    for i, ((model, condition), part) in enumerate(per.groupby(keys, sort=True, observed=True)):
        parts.append(world_map_svg(dict(zip(part["country"], part["js_sim"])), f"{model} — {condition}",
                                   "mean js_sim", vmin, vmax, map_id=f"map-{i}"))
    if steerability is not None and len(steerability):
        steer = steerability.groupby(["model", "country"])["steerability"].mean().reset_index()
        bound = float(np.nanmax(np.abs(steer["steerability"]))) or 1.0
        parts += ["<h2>Steerability per country</h2>",
                  "<p class=\"caption\">Steerability: alignment under the country's persona (cross-national prompting) "
                  "minus without a persona (default), mean over the items (robustness/steerability.csv); red: the "
                  "persona moves the model towards the country, blue: away. Hatched grey: not measured.</p>"]
        for i, (model, part) in enumerate(steer.groupby("model", sort=True)):
            parts.append(world_map_svg(dict(zip(part["country"], part["steerability"])), f"{model}: steerability",
                                       "persona − default", -bound, bound, cmap="RdBu_r", map_id=f"steer-{i}"))
    return "\n".join(parts)
