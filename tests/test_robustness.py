"""Robustness measures on hand-made tables with values computed by hand."""

import numpy as np
import pandas as pd
import pytest

from culturelens import robustness


def dist_rows(listed, reversed_, model="m", paraphrase=0):
    """listed/reversed: probabilities per option index (scale order)."""
    rows = []
    for order, probs in (("listed", listed), ("reversed", reversed_)):
        k = len(probs)
        for i, p in enumerate(probs):
            position = i if order == "listed" else k - 1 - i
            rows.append({"model": model, "item_id": "q", "country": "US", "condition": "default",
                         "prompt_lang": "en", "paraphrase": paraphrase, "option_order": order,
                         "option_index": i, "position": position, "prob": p})
    return rows


def test_position_bias_by_hand():
    # a model that always picks the first-shown option: listed → option 0, reversed → option 2
    dist = pd.DataFrame(dist_rows([1, 0, 0], [0, 0, 1]))
    out = robustness.position_bias(dist).iloc[0]
    assert out.order_tv == pytest.approx(1.0)            # ½(|1−0| + 0 + |0−1|)
    assert out.primacy == pytest.approx(1.0)             # ½[(1 − 0) + (1 − 0)]
    assert out.n_pairs == 1


def test_primacy_is_zero_without_an_order_effect():
    # a confident, order-invariant answer: the first-shown option's mass is not a position effect
    stable = robustness.position_bias(pd.DataFrame(dist_rows([0.5, 0.3, 0.2], [0.5, 0.3, 0.2]))).iloc[0]
    assert stable.order_tv == pytest.approx(0.0)
    assert stable.primacy == pytest.approx(0.0)


def test_primacy_sign():
    # base answer (0.5, 0.3, 0.2) with 0.1 moved from the middle option to whatever is shown first:
    # listed (0.6, 0.2, 0.2), reversed (0.5, 0.2, 0.3) → ½[(0.6 − 0.5) + (0.3 − 0.2)] = 0.1
    first = robustness.position_bias(pd.DataFrame(dist_rows([0.6, 0.2, 0.2], [0.5, 0.2, 0.3]))).iloc[0]
    assert first.primacy == pytest.approx(0.1)
    assert first.order_tv == pytest.approx(0.1)          # ½(0.1 + 0 + 0.1)
    # the same 0.1 moved to whatever is shown last: listed (0.5, 0.2, 0.3), reversed (0.6, 0.2, 0.2)
    last = robustness.position_bias(pd.DataFrame(dist_rows([0.5, 0.2, 0.3], [0.6, 0.2, 0.2]))).iloc[0]
    assert last.primacy == pytest.approx(-0.1)
    # a respondent that always picks the last-shown option
    recency = robustness.position_bias(pd.DataFrame(dist_rows([0, 1], [1, 0]))).iloc[0]
    assert recency.primacy == pytest.approx(-1.0)


def test_position_bias_without_reversed_order():
    rows = [r for r in dist_rows([0.5, 0.5], [0.5, 0.5]) if r["option_order"] == "listed"]
    out = robustness.position_bias(pd.DataFrame(rows)).iloc[0]
    assert np.isnan(out.primacy) and np.isnan(out.order_tv) and out.n_pairs == 0


def test_position_bias_averages_paraphrases():
    dist = pd.DataFrame(dist_rows([1, 0], [0, 1], paraphrase=0) + dist_rows([0.5, 0.5], [0.5, 0.5], paraphrase=1))
    out = robustness.position_bias(dist).iloc[0]
    assert out.order_tv == pytest.approx(0.5) and out.n_pairs == 2
    assert out.primacy == pytest.approx((1.0 + 0.0) / 2)


def alignment_rows():
    rows = []
    for item, cn, default in (("a", 0.9, 0.7), ("b", 0.8, 0.8)):
        rows.append({"model": "m", "item_id": item, "country": "JP", "condition": "cross_national",
                     "prompt_lang": "en", "js_sim": cn})
        rows.append({"model": "m", "item_id": item, "country": "JP", "condition": "default",
                     "prompt_lang": "en", "js_sim": default})
    return pd.DataFrame(rows)


def test_steerability_by_hand():
    out = robustness.steerability(alignment_rows()).iloc[0]
    assert out.steerability == pytest.approx(((0.9 - 0.7) + (0.8 - 0.8)) / 2)
    assert out.n_items == 2 and out.n_cells == 2
    # two items with Δ 0.2 and 0.0: a resample of two items has mean 0 (¼), 0.1 (½) or 0.2 (¼),
    # so the 2.5 % and 97.5 % percentiles are 0 and 0.2
    assert (out.ci_low, out.ci_high) == (pytest.approx(0.0), pytest.approx(0.2))
    again = robustness.steerability(alignment_rows()).iloc[0]
    assert (again.ci_low, again.ci_high) == (out.ci_low, out.ci_high)  # seeded


def test_steerability_one_item_has_no_interval():
    out = robustness.steerability(alignment_rows().query("item_id == 'a'")).iloc[0]
    assert out.steerability == pytest.approx(0.2) and out.n_items == 1
    assert np.isnan(out.ci_low) and np.isnan(out.ci_high)


def test_bootstrap_resamples_items_not_rows():
    # item A has two rows of 1, item B one row of 0: resamples {A,A} → 1, {A,B} → 2/3, {B,B} → 0
    frame = pd.DataFrame({"item_id": ["A", "A", "B"], "x": [1.0, 1.0, 0.0]})
    low, high = robustness.bootstrap_ci(frame, ["x"])["x"]
    assert (low, high) == (pytest.approx(0.0), pytest.approx(1.0))
    flat = pd.DataFrame({"item_id": list("abcde"), "x": [0.3] * 5})
    assert robustness.bootstrap_ci(flat, ["x"])["x"] == (pytest.approx(0.3), pytest.approx(0.3))


def _h(p):  # binary entropy in bits
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def test_us_centric_gap_by_hand():
    targets = pd.DataFrame([{"item_id": "a", "country": "US", "option_index": i, "share": s}
                            for i, s in enumerate([1.0, 0.0])])
    # JSD distance between (½, ½) and (1, 0): √(H(¾) − ½)
    d = np.sqrt(_h(0.75) - 0.5)
    alignment = pd.DataFrame([
        # answers exactly like the US, and 1 − d like Japan (whose survey is 50/50)
        {"model": "m", "item_id": "a", "country": "JP", "condition": "cross_national", "js_sim": 1 - d,
         "model_dist": [1.0, 0.0], "survey_dist": [0.5, 0.5]},
        # answers 50/50: exactly like Japan
        {"model": "flat", "item_id": "a", "country": "JP", "condition": "cross_national", "js_sim": 1.0,
         "model_dist": [0.5, 0.5], "survey_dist": [0.5, 0.5]},
    ])
    out = robustness.us_centric_gap(alignment, targets).set_index("model")
    m = out.loc["m"]
    assert m.us_centric_gap == pytest.approx(1 - (1 - d)) and m.country == "JP" and m.n_items == 1
    # the uniform answer is (1 − d) like the US and exactly like Japan: its gap is −d
    assert m.uniform_gap == pytest.approx(-d)
    assert m.net_gap == pytest.approx(2 * d)
    # a model answering uniformly has a raw gap (−d) but no gap net of the uniform respondent's
    assert out.loc["flat"].us_centric_gap == pytest.approx(-d)
    assert out.loc["flat"].net_gap == pytest.approx(0.0)


def test_us_centric_gap_interval_over_items():
    targets = pd.DataFrame([{"item_id": i, "country": "US", "option_index": k, "share": s}
                            for i in ("a", "b") for k, s in enumerate([1.0, 0.0])])
    alignment = pd.DataFrame([
        {"model": "m", "item_id": i, "country": "JP", "condition": "cross_national", "js_sim": sim,
         "model_dist": [1.0, 0.0], "survey_dist": [1.0, 0.0] if sim == 1 else [0.0, 1.0]}
        for i, sim in (("a", 1.0), ("b", 0.0))])
    out = robustness.us_centric_gap(alignment, targets).iloc[0]
    # gaps: item a 1 − 1 = 0, item b 1 − 0 = 1 → mean ½, interval [0, 1]; uniform gap: a 0, b 0
    assert out.us_centric_gap == pytest.approx(0.5) and out.n_items == 2
    assert (out.ci_low, out.ci_high) == (pytest.approx(0.0), pytest.approx(1.0))
    assert out.uniform_gap == pytest.approx(0.0) and out.net_gap == pytest.approx(0.5)
    assert (out.net_ci_low, out.net_ci_high) == (pytest.approx(0.0), pytest.approx(1.0))


def test_extrapolability_rank_correlation():
    rows = []
    for c, (a, b) in enumerate([(0.1, 0.2), (0.2, 0.3), (0.3, 0.1), (0.4, 0.5), (0.5, 0.6)]):
        rows += [{"model": "m", "condition": "d", "country": f"C{c}", "item_id": "x", "js_sim": a},
                 {"model": "m", "condition": "d", "country": f"C{c}", "item_id": "y", "js_sim": b}]
    out = robustness.extrapolability(pd.DataFrame(rows), pd.Series({"x": "GAS", "y": "WVS"})).iloc[0]
    # ranks a: 1 2 3 4 5; b: 2 3 1 4 5 → d² = 1+1+4+0+0 = 6 → rho = 1 − 6·6/(5·24) = 0.7
    assert out.spearman_rho == pytest.approx(0.7) and out.n_countries == 5
    few = robustness.extrapolability(pd.DataFrame(rows[:4]), pd.Series({"x": "GAS", "y": "WVS"})).iloc[0]
    assert np.isnan(few.spearman_rho) and few.note.startswith("n <")


def test_adjust_p_by_hand():
    p = pd.Series([0.01, 0.04, 0.03, np.nan])
    # Holm: sorted 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.06, 0.04·1) = 0.06
    assert robustness.adjust_p(p).tolist()[:3] == pytest.approx([0.03, 0.06, 0.06])
    # Benjamini–Hochberg: 0.01·3/1 = 0.03, min(0.03·3/2, 0.04·3/3) = 0.04, 0.04
    assert robustness.adjust_p(p, "fdr_bh").tolist()[:3] == pytest.approx([0.03, 0.04, 0.04])
    assert np.isnan(robustness.adjust_p(p).iloc[3])


def test_extrapolability_adjusts_across_the_table():
    rows = []
    values = [(0.1, 0.2, 0.5), (0.2, 0.3, 0.1), (0.3, 0.1, 0.4), (0.4, 0.5, 0.2), (0.5, 0.6, 0.3)]
    for c, vals in enumerate(values):
        rows += [{"model": "m", "condition": "d", "country": f"C{c}", "item_id": i, "js_sim": v}
                 for i, v in zip("xyz", vals)]
    out = robustness.extrapolability(pd.DataFrame(rows), pd.Series({"x": "A", "y": "B", "z": "C"}))
    assert len(out) == 3 and (out["adjust_method"] == "holm").all()
    raw = out["p"].to_numpy()
    order = np.argsort(raw)
    holm = np.maximum.accumulate(np.minimum(1, raw[order] * np.array([3, 2, 1])))
    expected = np.empty(3)
    expected[order] = holm
    assert out["p_adjusted"].to_numpy() == pytest.approx(expected)
    assert (out["p_adjusted"] >= out["p"]).all()


def rank_rows(item, scale, model_dists, survey_dists, model="m", condition="cross_national"):
    return [{"model": model, "condition": condition, "prompt_lang": "en", "item_id": item, "country": f"C{c}",
             "scale": scale, "model_dist": p, "survey_dist": q}
            for c, (p, q) in enumerate(zip(model_dists, survey_dists))]


def test_option_scores_by_hand():
    rows = (rank_rows("b", "nominal", [[0.2, 0.8]], [[0.6, 0.4]])
            + rank_rows("o", "ordinal", [[0.5, 0, 0.5]], [[0, 0.25, 0.75]])
            # nominal, 3 options: survey means over countries (0.2, 0.5, 0.3) → modal option 1
            + rank_rows("n", "nominal", [[0.1, 0.3, 0.6], [0.3, 0.3, 0.4]], [[0.4, 0.2, 0.4], [0, 0.8, 0.2]]))
    out = robustness.option_scores(pd.DataFrame(rows)).set_index(["item_id", "country"])
    assert out.loc[("b", "C0"), "measure"] == "first_option"
    assert out.loc[("b", "C0"), ["model_score", "survey_score"]].tolist() == pytest.approx([0.2, 0.6])
    assert out.loc[("o", "C0"), "measure"] == "expected_position"
    # (0·0.5 + 1·0 + 2·0.5)/2 = 0.5; (0 + 0.25 + 1.5)/2 = 0.875
    assert out.loc[("o", "C0"), ["model_score", "survey_score"]].tolist() == pytest.approx([0.5, 0.875])
    assert out.loc[("n", "C1"), "measure"] == "modal_option"
    assert out.loc[("n", "C0"), ["model_score", "survey_score"]].tolist() == pytest.approx([0.3, 0.2])
    assert out.loc[("n", "C1"), ["model_score", "survey_score"]].tolist() == pytest.approx([0.3, 0.8])


def test_rank_correlation_by_hand():
    survey = [0.1, 0.2, 0.3, 0.4, 0.5]
    model = [0.2, 0.3, 0.1, 0.5, 0.6]
    rows = rank_rows("b", "nominal", [[m, 1 - m] for m in model], [[s, 1 - s] for s in survey])
    # ordinal item answered exactly like the surveys: expected positions 0, ¼, ½, ¾, 1
    ordinal = [[1, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 0.5, 0.5], [0, 0, 1]]
    rows += rank_rows("o", "ordinal", ordinal, ordinal)
    out = robustness.rank_correlation(pd.DataFrame(rows))
    items = out[out["level"] == "item"].set_index("item_id")
    # ranks survey 1 2 3 4 5, model 2 3 1 4 5 → Σd² = 6 → ρ = 1 − 6·6/(5·24) = 0.7
    assert items.loc["b", "spearman_rho"] == pytest.approx(0.7) and items.loc["b", "n"] == 5
    assert items.loc["o", "spearman_rho"] == pytest.approx(1.0) and items.loc["o", "n_countries"] == 5
    pooled = out[out["level"] == "pooled"].iloc[0]
    assert pooled.n == 10 and pooled.n_items == 2 and pooled.n_countries == 5
    # pooled over the 10 (item, country) pairs: model (.2 .3 .1 .5 .6 0 .25 .5 .75 1) vs
    # survey (.1 .2 .3 .4 .5 0 .25 .5 .75 1); ρ = Pearson r of their ranks (ties share the mean rank)
    expected = np.corrcoef([3, 5, 2, 6.5, 8, 1, 4, 6.5, 9, 10], [2, 3, 5, 6, 7.5, 1, 4, 7.5, 9, 10])[0, 1]
    assert pooled.spearman_rho == pytest.approx(expected)
    assert pooled.measure == "expected_position+first_option"


def test_rank_correlation_constant_and_small():
    rows = rank_rows("b", "nominal", [[0.5, 0.5]] * 5, [[s, 1 - s] for s in (0.1, 0.2, 0.3, 0.4, 0.5)],
                     model="uniform")
    rows += rank_rows("c", "nominal", [[0.1, 0.9]] * 3, [[0.3, 0.7]] * 3)
    out = robustness.rank_correlation(pd.DataFrame(rows)).set_index(["level", "item_id"])
    assert np.isnan(out.loc[("item", "b"), "spearman_rho"]) and out.loc[("item", "b"), "note"] == "constant"
    assert out.loc[("item", "c"), "note"] == "n < 5" and out.loc[("item", "c"), "n"] == 3
