"""results/summary.md: tables computed from the inputs, exact markdown, graceful with gaps."""

import numpy as np
import pandas as pd
import pytest

from culturelens import summary


@pytest.fixture
def alignment():
    rng = np.random.default_rng(11)
    rows = []
    for model, baseline in [("toy-llm", False), ("uniform", True), ("oracle", True)]:
        for country in ["US", "DE", "JP", "BR"]:
            for lang in ["en", "de"]:
                for condition in ["default", "cross_national", "linguistic"]:
                    for item in range(5):
                        rows.append(dict(model=model, is_baseline=baseline, study="toy", item_id=f"q{item}",
                                         country=country, condition=condition, prompt_lang=lang, native=False,
                                         js_sim=rng.uniform(0.4, 0.95),
                                         emd_sim=np.nan if item == 4 else rng.uniform(0.5, 1),
                                         tv=rng.uniform(0, 0.6), top1=rng.integers(0, 2) == 1))
    return pd.DataFrame(rows)


@pytest.fixture
def correlations():
    return pd.DataFrame([
        dict(model="toy-llm", condition="cross_national", prompt_lang="en", dimension="pdi",
             pearson_r=0.51234, pearson_p=0.01, spearman_rho=0.4321, spearman_p=0.02, n=22.0, note=""),
        dict(model="toy-llm", condition="cross_national", prompt_lang="en", dimension="idv",
             pearson_r=-0.1, pearson_p=0.6, spearman_rho=-0.05, spearman_p=0.8, n=22, note=""),
        dict(model="uniform", condition="cross_national", prompt_lang="en", dimension="pdi",
             pearson_r=np.nan, pearson_p=np.nan, spearman_rho=np.nan, spearman_p=np.nan, n=22,
             note="model index is constant across countries"),
    ])


@pytest.fixture
def coefficients():
    return pd.DataFrame([
        dict(kind="fixed", term="Intercept", estimate=0.61, se=0.02, ci_low=0.57, ci_high=0.65, z=30.5, p=0.0),
        dict(kind="fixed", term="C(model, Treatment('uniform'))[T.toy-llm]", estimate=0.04321, se=0.011,
             ci_low=0.0217, ci_high=0.0648, z=3.93, p=0.0000849),
        dict(kind="fixed", term="native[T.True]", estimate=-0.0123, se=0.02, ci_low=-0.0516, ci_high=0.0269,
             z=-0.615, p=0.5386),
        dict(kind="variance", term="item_id", estimate=0.0042, se=np.nan, ci_low=np.nan, ci_high=np.nan,
             z=np.nan, p=np.nan),
    ])


def test_markdown_table_exact():
    text = summary.markdown_table(["model", "js_sim"], [["a|b", "0.500"], ["c", "0.250"]], align=["l", "r"])
    assert text == (
        "| model | js_sim |\n"
        "| --- | ---: |\n"
        "| a\\|b | 0.500 |\n"
        "| c | 0.250 |\n"
    )


def test_markdown_table_checks_widths():
    with pytest.raises(ValueError):
        summary.markdown_table(["a", "b"], [["only one"]])


def test_formatting():
    assert summary.fmt(0.12345) == "0.123"
    assert summary.fmt(np.float64(2.0)) == "2.000"
    assert summary.fmt(np.int64(7)) == "7"
    assert summary.fmt(np.nan) == "n/a"
    assert summary.fmt_count(22.0) == "22"
    assert summary.fmt_p(0.00001) == "<0.001"
    assert summary.fmt_p(0.5386) == "0.539"


def test_summary_alignment_means(alignment, tmp_path):
    out = summary.write_summary(tmp_path / "results" / "summary.md", {"toy": {"alignment": alignment}},
                                meta={"config_hash": "abc123", "culturelens_version": "0.1.0", "date": "2025-01-01"})
    text = out.read_text()
    assert text.startswith("# culturelens results\n")
    assert "- config hash: abc123" in text and "- culturelens version: 0.1.0" in text
    assert "## toy" in text
    sub = alignment[(alignment["model"] == "toy-llm") & (alignment["condition"] == "cross_national")]
    expected = (f"| toy-llm | model | cross_national | {len(sub)} | {len(sub)} | {sub['js_sim'].mean():.3f} | n/a | "
                f"n/a | {sub['emd_sim'].mean():.3f} | {sub['tv'].mean():.3f} | {sub['top1'].astype(float).mean():.3f} |")
    assert any(line.startswith(expected) for line in text.splitlines())
    base = alignment[(alignment["model"] == "uniform") & (alignment["condition"] == "linguistic")]
    assert f"| uniform | baseline | linguistic | {len(base)} | {len(base)} | {base['js_sim'].mean():.3f} |" in text
    # models first, then baselines; conditions in their natural order
    table_rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split(" | ")[0][2:] for r in table_rows] == ["toy-llm"] * 3 + ["oracle"] * 3 + ["uniform"] * 3
    assert [r.split(" | ")[2] for r in table_rows[:3]] == ["default", "cross_national", "linguistic"]


def test_summary_compares_models_on_common_cells(alignment, tmp_path):
    """A respondent that covers only part of the items restricts the comparison to the shared
    cells, and both counts are shown."""
    partial = alignment[~((alignment["model"] == "oracle") & (alignment["item_id"] == "q0"))]
    text = summary.write_summary(tmp_path / "s.md", {"toy": {"alignment": partial}}).read_text()
    shared = partial[(partial["condition"] == "default") & (partial["item_id"] != "q0")]
    for model in ("toy-llm", "uniform", "oracle"):
        sub = shared[shared["model"] == model]
        own = partial[(partial["model"] == model) & (partial["condition"] == "default")]
        kind = "model" if model == "toy-llm" else "baseline"
        assert f"| {model} | {kind} | default | {len(sub)} | {len(own)} | {sub['js_sim'].mean():.3f} |" in text


def test_summary_nominal_only_study(alignment, tmp_path):
    nominal = alignment.assign(emd_sim=np.nan)
    text = summary.write_summary(tmp_path / "s.md", {"toy": {"alignment": nominal}}).read_text()
    sub = nominal[(nominal["model"] == "oracle") & (nominal["condition"] == "default")]
    assert (f"| oracle | baseline | default | {len(sub)} | {len(sub)} | {sub['js_sim'].mean():.3f} | n/a | n/a "
            f"| n/a |") in text


def test_summary_correlations_stats_notes(correlations, coefficients, tmp_path):
    studies = {"vsm2013": {"correlations": correlations,
                           "stats": {"hofstede_error": coefficients},
                           "notes": ["importer: 3 rows dropped (sum 0)", "2 failed responses"]}}
    text = summary.write_summary(tmp_path / "s.md", studies).read_text()
    assert "| model | condition | prompt language | PDI | IDV |" in text
    assert "| toy-llm | cross_national | en | 0.512 / 0.432 / 22 | -0.100 / -0.050 / 22 |" in text
    assert "| uniform | cross_national | en | n/a / n/a / 22 |  |" in text
    assert "- uniform · cross_national · en (PDI): model index is constant across countries" in text
    assert "#### hofstede_error" in text
    assert "| model: toy-llm (vs uniform) | 0.043 | 0.011 | [0.022, 0.065] | 3.930 | <0.001 |" in text
    assert "| native: True | -0.012 | 0.020 | [-0.052, 0.027] | -0.615 | 0.539 |" in text
    assert "Variance components: item_id 0.004" in text
    assert "- importer: 3 rows dropped (sum 0)" in text and "- 2 failed responses" in text


def test_summary_empty_inputs(alignment, tmp_path):
    studies = {"a": {"alignment": alignment.iloc[0:0], "correlations": pd.DataFrame(),
                     "stats": {"x": pd.DataFrame()}}, "b": {}}
    text = summary.write_summary(tmp_path / "s.md", studies).read_text()
    assert "No alignment cells." in text and "No Hofstede correlations." in text
    assert "No coefficients." in text
    assert "## b\n\nNo results for this study." in text


def test_summary_robustness_columns_and_section(alignment, tmp_path):
    data = alignment.assign(js_sim_min=alignment["js_sim"] - 0.1, js_sim_max=alignment["js_sim"] + 0.05,
                            consistency=0.9, order_tv=0.02)
    steer = pd.DataFrame({"model": ["m", "m"], "country": ["JP", "DE"], "steerability": [0.1, 0.3],
                          "ci_low": [0.0, 0.1], "ci_high": [0.2, 0.5], "n_items": [2, 4]})
    gap = pd.DataFrame({"model": ["m"], "country": ["JP"], "us_centric_gap": [0.05], "ci_low": [-0.01],
                        "ci_high": [0.11], "uniform_gap": [0.02], "net_gap": [0.03], "net_ci_low": [-0.02],
                        "net_ci_high": [0.08], "n_items": [2]})
    text = summary.write_summary(tmp_path / "s.md", {"toy": {"alignment": data, "steerability": steer,
                                                              "us_centric_gap": gap}}).read_text()
    sub = data[(data["model"] == "toy-llm") & (data["condition"] == "default")]
    row = next(line for line in text.splitlines() if line.startswith("| toy-llm | model | default |"))
    assert f"| {sub['js_sim'].mean():.3f} | [{sub['js_sim_min'].mean():.3f}, {sub['js_sim_max'].mean():.3f}] |" in row
    assert row.endswith("| 0.900 | 0.020 |")
    # per model: 2 countries with 2–4 items, mean 0.2 (0.1 … 0.3), DE's interval above 0, JP's touches it;
    # the gap: one country, 2 items, raw 0.05, uniform 0.02, net 0.03 whose interval spans 0
    assert "| m | 2 | 2–4 | 0.200 | 0.100 | 0.300 | 1 / 0 | 1 | 2 | 0.050 | 0.020 | 0.030 | 0 / 0 |" in text
    assert "| m | JP | 2 | 0.100 [0.000, 0.200] | 2 | 0.050 [-0.010, 0.110] | 0.020 | 0.030 [-0.020, 0.080] |" in text
    assert "| m | DE | 4 | 0.300 [0.100, 0.500] | n/a | n/a | n/a | n/a |" in text
    assert "1000 bootstrap resamples of the items" in text


def test_summary_extrapolability_adjusted_p(tmp_path):
    extra = pd.DataFrame({"model": ["m", "m"], "condition": ["default"] * 2, "part_a": ["GAS", "GAS"],
                          "part_b": ["WVS", "PEW"], "spearman_rho": [0.7, 0.2], "p": [0.01, 0.4],
                          "p_adjusted": [0.02, 0.4], "adjust_method": ["holm"] * 2, "n_countries": [30, 12],
                          "note": [np.nan, ""], "split_by": ["source"] * 2})
    text = summary.robustness_section({"extrapolability": extra})
    assert "| m | default | GAS ↔ WVS | 0.700 | 0.010 | 0.020 | 30 |  |" in text
    assert "p adjusted across the 2 tests of this table (holm)" in text


def test_summary_rank_correlation(tmp_path):
    ranks = pd.DataFrame([
        dict(model="m", condition="cross_national", prompt_lang="en", level="item", item_id="a",
             spearman_rho=0.5, p=0.3, n=6, n_items=1, n_countries=6, note=""),
        dict(model="m", condition="cross_national", prompt_lang="en", level="item", item_id="b",
             spearman_rho=0.1, p=0.8, n=6, n_items=1, n_countries=6, note=""),
        dict(model="m", condition="cross_national", prompt_lang="en", level="item", item_id="c",
             spearman_rho=np.nan, p=np.nan, n=3, n_items=1, n_countries=3, note="n < 5"),
        dict(model="m", condition="cross_national", prompt_lang="en", level="pooled", item_id=np.nan,
             spearman_rho=0.42, p=0.0004, n=15, n_items=3, n_countries=6, note=np.nan),
    ])
    text = summary.robustness_section({"rank_correlation": ranks})
    # item ρ: mean of 0.5 and 0.1 over the 2 items where it is defined
    assert "| m | cross_national | en | 0.420 | <0.001 | 15 | 3 | 6 | 0.300 | 2 |  |" in text
    assert "Rystrøm" in text


def test_summary_labels_frame_only_conditions(alignment, tmp_path):
    """Linguistic prompting whose items stayed in English is labelled frame only in the table."""
    data = alignment.assign(item_lang="en", language_mode="non_native")
    data.loc[(data["condition"] == "linguistic") & (data["prompt_lang"] == "de"), "language_mode"] = "frame_only"
    text = summary.write_summary(tmp_path / "s.md", {"toy": {"alignment": data}}).read_text()
    assert "| toy-llm | model | linguistic (frame only) |" in text
    assert "| toy-llm | model | cross_national |" in text


def test_noise_ceiling_beside_the_oracle_and_the_best_model():
    """Split-half agreement (microdata) is shown beside the oracle's and the best real model's mean
    js_sim under the cross-national condition, on the same (item, country) pairs only."""
    ceiling = pd.DataFrame({"item_id": ["a", "b", "c"], "country": ["DE", "DE", "JP"],
                            "split_half_js_sim": [0.9, 0.8, np.nan]})
    rows = []
    for model, base, sims in (("oracle", True, [0.95, 0.85, 0.1]), ("m1", False, [0.6, 0.4, 0.99]),
                              ("m2", False, [0.7, 0.7, 0.0]), ("uniform", True, [0.99, 0.99, 0.99])):
        for (item, country), js in zip([("a", "DE"), ("b", "DE"), ("c", "JP")], sims):
            rows.append({"model": model, "is_baseline": base, "item_id": item, "country": country,
                         "condition": "cross_national", "js_sim": js})
        rows.append({"model": model, "is_baseline": base, "item_id": "a", "country": "DE", "condition": "default",
                     "js_sim": 0.0})
    text = summary.ceiling_section(ceiling, pd.DataFrame(rows))
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert lines[1:] == ["| split-half (respondents) | 2 | 0.850 |", "| oracle | 2 | 0.900 |", "| m2 | 2 | 0.700 |"]
    assert summary.ceiling_section(ceiling.iloc[0:0], pd.DataFrame(rows)) == ""
    assert "### Noise ceiling" in summary.render_summary({"s": {"ceiling": ceiling}})
