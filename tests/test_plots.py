"""Figures: each writes a readable PNG, names countries and languages, and survives empty input."""

import sys
import types

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from culturelens import plots

MODELS = [("toy-llm", False), ("uniform", True), ("oracle", True)]
COUNTRIES = ["US", "DE", "JP", "BR"]
LANGS = ["en", "de"]
CONDITIONS = ["default", "cross_national", "linguistic"]


@pytest.fixture
def alignment():
    rng = np.random.default_rng(7)
    rows = []
    for model, baseline in MODELS:
        for country in COUNTRIES:
            for lang in LANGS:
                for condition in CONDITIONS:
                    for item in range(5):
                        js = rng.uniform(0.4, 0.95)
                        rows.append(dict(
                            model=model, is_baseline=baseline, study="toy", item_id=f"q{item}",
                            country=country, condition=condition, prompt_lang=lang,
                            native=(country, lang) in {("US", "en"), ("DE", "de")},
                            js_sim=js, emd_sim=np.nan if item == 4 else rng.uniform(0.5, 1), tv=1 - js,
                            top1=float(rng.integers(0, 2)), js_sim_min=js - 0.05, js_sim_max=js + 0.05,
                            spread_jsd=0.05, n_variants=4,
                        ))
    return pd.DataFrame(rows)


@pytest.fixture
def indices():
    rng = np.random.default_rng(3)
    rows = []
    for model in ["toy-llm", "uniform"]:
        for country in COUNTRIES + ["FR", "IN"]:
            for dim in ["pdi", "idv", "mas", "uai", "lto", "ivr"]:
                score = rng.uniform(10, 95)
                index = 0.0 if model == "uniform" else 0.5 * score + rng.normal(0, 10)
                rows.append(dict(model=model, condition="cross_national", prompt_lang="en",
                                 country=country, dimension=dim, index=index, score=score))
    return pd.DataFrame(rows)


@pytest.fixture
def coefficients():
    terms = ["Intercept", "C(model, Treatment('uniform'))[T.oracle]",
             "C(condition, Treatment('default'))[T.linguistic]", "native[T.True]"]
    est = np.array([0.7, 0.2, -0.01, 0.03])
    fixed = pd.DataFrame(dict(kind="fixed", term=terms, estimate=est, se=0.01, ci_low=est - 0.0196,
                              ci_high=est + 0.0196, z=est / 0.01, p=[0.0, 0.0, 0.3, 0.002]))
    var = pd.DataFrame(dict(kind="variance", term=["item_id", "country"], estimate=[0.01, 0.002]))
    return pd.concat([fixed, var], ignore_index=True)


@pytest.fixture
def captured(monkeypatch):
    """Keep the last figure each plot function saves (to inspect its axes) before it is closed."""
    figures = []
    original = plots._save

    def save(fig, path):
        fig.canvas.draw()
        figures.append(fig)
        return original(fig, path)

    monkeypatch.setattr(plots, "_save", save)
    return figures


def assert_png(path, min_w=300, min_h=150):
    assert path.exists()
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
        assert w >= min_w and h >= min_h
        pixels = np.asarray(im.convert("L"))
    assert pixels.std() > 5  # not a blank canvas


def tick_texts(labels):
    return [t.get_text() for t in labels if t.get_text()]


def assert_no_overlap(fig, labels):
    renderer = FigureCanvasAgg(fig).get_renderer()  # the figure is closed: re-attach a canvas
    boxes = [t.get_window_extent(renderer) for t in labels if t.get_text() and t.get_visible()]
    for a, b in zip(boxes, boxes[1:]):
        assert not a.overlaps(b), "neighbouring tick labels overlap"


# --------------------------------------------------------------------------- labels


def test_country_label_uses_countries_module(monkeypatch):
    fake = types.ModuleType("culturelens.countries")
    fake.name = lambda code, lang: f"<{code}:{lang}>"
    monkeypatch.setitem(sys.modules, "culturelens.countries", fake)
    assert plots._country_label("DE") == "<DE:en>"


def test_country_label_falls_back_to_babel(monkeypatch):
    monkeypatch.setitem(sys.modules, "culturelens.countries", None)  # import fails
    assert plots._country_label("DE") == "Germany"
    assert plots._country_label("GB-NIR") == "United Kingdom (NIR)"
    assert plots._country_label("not-a-code") == "not-a-code"


def test_language_label():
    assert plots._language_label("de") == "German"
    assert plots._language_label("xx-unknown") == "xx-unknown"


@pytest.mark.parametrize("term, label", [
    ("C(model, Treatment('uniform'))[T.oracle]", "model: oracle (vs uniform)"),
    ('C(condition, Treatment(reference="default"))[T.linguistic]', "condition: linguistic (vs default)"),
    ("C(condition)[T.linguistic]", "condition: linguistic"),
    ("native[T.True]", "native: True"),
    ("native", "native"),
    ("C(model, Treatment('uniform'))[T.oracle]:native[T.True]", "model: oracle (vs uniform) × native: True"),
])
def test_pretty_term(term, label):
    assert plots.pretty_term(term) == label


# --------------------------------------------------------------------------- heatmap


def test_heatmap(alignment, tmp_path, captured):
    out = plots.heatmap_country_language(alignment, "toy-llm", tmp_path / "h" / "heat.png")
    assert out == tmp_path / "h" / "heat.png"
    assert_png(out)
    ax = captured[-1].axes[0]
    rows = tick_texts(ax.get_yticklabels())
    assert set(rows) == {"United States", "Germany", "Japan", "Brazil"}
    assert tick_texts(ax.get_xticklabels()) == ["English", "German"]
    assert "toy-llm" in ax.get_title()
    # rows sorted by mean alignment, best first
    sub = alignment[alignment["model"] == "toy-llm"]
    expected = sub.groupby(["country", "prompt_lang"])["js_sim"].mean().groupby("country").mean()
    names = {"US": "United States", "DE": "Germany", "JP": "Japan", "BR": "Brazil"}
    assert rows == [names[c] for c in expected.sort_values(ascending=False).index]
    # small grid: values are annotated with the cell means
    cell = sub[(sub["country"] == "JP") & (sub["prompt_lang"] == "de")]["js_sim"].mean()
    assert f"{cell:.2f}" in [t.get_text() for t in ax.texts]
    assert captured[-1].axes[1].get_ylabel()  # labelled colour bar


def test_heatmaps_drawn_in_threads_are_each_the_models_own(alignment, tmp_path):
    """Snakemake draws heatmaps in its own threads (jobs.draw_heatmap): drawn four at a time, each
    file is byte-identical to the same model's heatmap drawn alone, and its log names the cells."""
    from concurrent.futures import ThreadPoolExecutor

    from culturelens import jobs

    models = ["toy-llm", "uniform", "oracle"] * 2
    cells = tmp_path / "cells.parquet"
    alignment.to_parquet(cells)
    for model in models[:3]:
        plots.heatmap_country_language(alignment, model, tmp_path / f"alone_{model}.png")

    def draw(i):
        jobs.draw_heatmap(alignment=cells, output=tmp_path / f"t{i}.png", log=tmp_path / f"t{i}.log",
                          model=models[i])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(draw, range(len(models))))
    for i, model in enumerate(models):
        assert (tmp_path / f"t{i}.png").read_bytes() == (tmp_path / f"alone_{model}.png").read_bytes(), model
        assert f"{len(alignment)} cells of {model}" in (tmp_path / f"t{i}.log").read_text()


def test_heatmap_100_countries_readable(tmp_path, captured):
    territories = sorted(c for c in plots._EN.territories if len(c) == 2 and c.isalpha())[:100]
    langs = ["en", "de", "fr", "es", "ar", "zh", "ja", "hi", "pt", "ru"]
    rng = np.random.default_rng(0)
    grid = pd.MultiIndex.from_product([territories, langs], names=["country", "prompt_lang"]).to_frame(index=False)
    data = grid.assign(model="m", is_baseline=False, study="s", item_id="q", condition="linguistic",
                       native=False, js_sim=rng.uniform(0.5, 0.9, len(grid)))
    out = plots.heatmap_country_language(data, "m", tmp_path / "big.png")
    assert_png(out, min_h=2000)
    fig = captured[-1]
    ax = fig.axes[0]
    assert len(tick_texts(ax.get_yticklabels())) == 100
    assert not ax.texts  # too large to annotate
    assert_no_overlap(fig, ax.get_yticklabels())
    assert_no_overlap(fig, ax.get_xticklabels())


def test_heatmap_empty(alignment, tmp_path):
    assert_png(plots.heatmap_country_language(alignment.iloc[0:0], "toy-llm", tmp_path / "e.png"))
    assert_png(plots.heatmap_country_language(alignment, "absent-model", tmp_path / "f.png"))
    assert_png(plots.heatmap_country_language(pd.DataFrame(), "x", tmp_path / "g.png"))


# --------------------------------------------------------------------------- models vs baselines


def test_models_vs_baselines(alignment, tmp_path, captured):
    out = plots.models_vs_baselines(alignment, tmp_path / "mvb.png", n_boot=200)
    assert_png(out)
    fig = captured[-1]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == CONDITIONS
    ax = panels[0]
    assert tick_texts(ax.get_xticklabels()) == ["toy-llm", "oracle", "uniform"]  # models, then baselines
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 2  # the two baselines
    # bar heights are the mean over cells
    expected = alignment[(alignment["model"] == "toy-llm") & (alignment["condition"] == "default")]["js_sim"].mean()
    heights = sorted(p.get_height() for p in ax.patches if not p.get_hatch())
    assert heights == pytest.approx([expected])


def test_models_vs_baselines_empty(alignment, tmp_path):
    assert_png(plots.models_vs_baselines(alignment.iloc[0:0], tmp_path / "e.png"))
    nominal_only = alignment.assign(emd_sim=np.nan)
    assert_png(plots.models_vs_baselines(nominal_only, tmp_path / "f.png", metric="emd_sim"))


# --------------------------------------------------------------------------- Hofstede


def test_hofstede_scatter(indices, tmp_path, captured):
    out = plots.hofstede_scatter(indices, tmp_path / "hof.png", model="toy-llm")
    assert_png(out, min_w=1000, min_h=600)
    fig = captured[-1]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 6
    sub = indices[(indices["model"] == "toy-llm") & (indices["dimension"] == "pdi")]
    r = np.corrcoef(sub["score"], sub["index"])[0, 1]
    assert panels[0].get_title() == f"Power distance (PDI): r = {r:.2f}, n = {len(sub)}"
    assert "relative" in panels[0].get_ylabel()
    assert "toy-llm" in fig._suptitle.get_text()
    labels = {t.get_text() for t in panels[0].texts}
    assert {"United States", "Germany", "Japan", "Brazil", "France", "India"} <= labels


def test_hofstede_constant_index(indices, tmp_path, captured):
    out = plots.hofstede_scatter(indices, tmp_path / "uniform.png", model="uniform")
    assert_png(out)
    titles = [ax.get_title() for ax in captured[-1].axes if ax.get_title()]
    assert titles and all("r = n/a" in t for t in titles)


def test_hofstede_all_models(indices, tmp_path, captured):
    assert_png(plots.hofstede_scatter(indices, tmp_path / "all.png"))
    title = captured[-1].axes[0].get_title(loc="left")
    assert "toy-llm · cross_national: r = " in title and "uniform · cross_national: r = n/a" in title


def test_hofstede_empty(indices, tmp_path):
    assert_png(plots.hofstede_scatter(indices.iloc[0:0], tmp_path / "e.png"))
    assert_png(plots.hofstede_scatter(indices, tmp_path / "f.png", model="absent"))


# --------------------------------------------------------------------------- forest plot


def test_forest_plot(coefficients, tmp_path, captured):
    out = plots.forest_plot(coefficients, tmp_path / "forest.png", "toy: alignment_by_condition")
    assert_png(out)
    ax = captured[-1].axes[0]
    terms = tick_texts(ax.get_yticklabels())
    assert terms == ["model: oracle (vs uniform)", "condition: linguistic (vs default)", "native: True"]
    assert ax.get_title() == "toy: alignment_by_condition"


def test_forest_plot_empty(coefficients, tmp_path):
    assert_png(plots.forest_plot(coefficients.iloc[0:0], tmp_path / "e.png", "empty"))
    only_intercept = coefficients[coefficients["term"].isin(["Intercept", "item_id"])]
    assert_png(plots.forest_plot(only_intercept, tmp_path / "f.png", "intercept only"))


def test_heatmap_distance_metric_sorts_lowest_first(alignment, tmp_path, captured):
    plots.heatmap_country_language(alignment, "toy-llm", tmp_path / "tv.png", metric="tv")
    ax = captured[-1].axes[0]
    sub = alignment[alignment["model"] == "toy-llm"]
    means = sub.groupby(["country", "prompt_lang"])["tv"].mean().groupby("country").mean()
    names = {"US": "United States", "DE": "Germany", "JP": "Japan", "BR": "Brazil"}
    assert tick_texts(ax.get_yticklabels()) == [names[c] for c in means.sort_values().index]
    assert "total variation" in captured[-1].axes[1].get_ylabel()


# --------------------------------------------------------------------------- robustness


@pytest.fixture
def steer_gap():
    steer = pd.DataFrame({"model": ["a", "a", "b"], "country": ["JP", "DE", "JP"], "steerability": [0.1, 0.3, -0.05],
                          "ci_low": [0.0, 0.2, -0.1], "ci_high": [0.2, 0.4, np.nan], "n_items": [2, 3, 2]})
    gap = pd.DataFrame({"model": ["a", "a"], "country": ["JP", "DE"], "us_centric_gap": [0.05, 0.02],
                        "ci_low": [0.01, -0.01], "ci_high": [0.09, 0.05], "uniform_gap": [0.04, -0.03],
                        "net_gap": [0.01, 0.05], "net_ci_low": [-0.02, 0.0], "net_ci_high": [0.04, 0.1],
                        "n_items": [2, 3]})
    return steer, gap


def bar_widths(ax):
    return sorted(round(p.get_width(), 6) for p in ax.patches)


def error_segments(ax):
    """(x_low, x_high) of every horizontal error bar drawn on the axes."""
    out = []
    for coll in ax.collections:
        for seg in getattr(coll, "get_segments", lambda: [])():
            if len(seg) == 2 and seg[0][1] == seg[1][1]:
                out.append((round(seg[0][0], 6), round(seg[1][0], 6)))
    return sorted(out)


def test_steerability_figure_intervals_and_net_gap(steer_gap, tmp_path, captured):
    steer, gap = steer_gap
    assert_png(plots.steerability_per_country(steer, tmp_path / "steer.png", gap))
    fig = captured[-1]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels][1:] == ["US-centric gap under the persona",
                                                     "US-centric gap net of the uniform answer"]
    # countries sorted by mean steerability: Germany (0.3) above Japan ((0.1 − 0.05)/2)
    assert tick_texts(panels[0].get_yticklabels()) == ["Germany", "Japan"]
    assert bar_widths(panels[0]) == [-0.05, 0.1, 0.3]
    # intervals where known (b's JP has no upper bound: no bar)
    assert error_segments(panels[0]) == [(0.0, 0.2), (0.2, 0.4)]
    assert bar_widths(panels[1]) == [0.02, 0.05]
    assert error_segments(panels[1]) == [(-0.01, 0.05), (0.01, 0.09)]
    uniform = panels[1].collections[-1].get_offsets()
    assert sorted(np.asarray(uniform)[:, 0].round(6)) == [-0.03, 0.04]
    assert bar_widths(panels[2]) == [0.01, 0.05]
    assert error_segments(panels[2]) == [(-0.02, 0.04), (0.0, 0.1)]


def test_steerability_figure_without_gap(steer_gap, tmp_path, captured):
    steer, _ = steer_gap
    assert_png(plots.steerability_per_country(steer, tmp_path / "s.png"))
    assert len([ax for ax in captured[-1].axes if ax.get_title()]) == 1
    assert_png(plots.steerability_per_country(steer.iloc[0:0], tmp_path / "e.png"))


def test_position_bias_figure(tmp_path, captured):
    bias = pd.DataFrame({"model": ["m", "m", "m", "m", "uniform"],
                         "condition": ["default", "default", "cross_national", "cross_national", "default"],
                         "order_tv": [0.1, 0.3, 0.2, 0.2, 0.0], "primacy": [0.1, -0.1, 0.15, 0.05, 0.0],
                         "n_pairs": 2})
    assert_png(plots.position_bias_by_model(bias, tmp_path / "pb.png", n_boot=200))
    fig = captured[-1]
    tv_ax, primacy_ax = fig.axes[:2]
    assert tick_texts(tv_ax.get_xticklabels()) == ["m", "uniform"]
    heights = sorted(round(b.get_height(), 6) for c in tv_ax.containers for b in c if np.isfinite(b.get_height()))
    assert heights == [0.0, 0.2, 0.2]  # m default (0.1+0.3)/2, m cross_national 0.2, uniform 0
    heights = sorted(round(b.get_height(), 6) for c in primacy_ax.containers for b in c
                     if np.isfinite(b.get_height()))
    assert heights == [0.0, 0.0, 0.1]  # m default (0.1−0.1)/2, uniform 0, m cross_national (0.15+0.05)/2
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["default (n = 3 cells)", "cross_national (n = 2 cells)"]
    assert "primacy" in primacy_ax.get_ylabel()


def test_position_bias_figure_empty(tmp_path):
    assert_png(plots.position_bias_by_model(pd.DataFrame(), tmp_path / "e.png"))
    no_pairs = pd.DataFrame({"model": ["m"], "condition": ["default"], "order_tv": [np.nan], "primacy": [np.nan]})
    assert_png(plots.position_bias_by_model(no_pairs, tmp_path / "f.png"))
