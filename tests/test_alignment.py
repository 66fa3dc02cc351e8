"""Cells: variants averaged, compared with the survey, spread kept; default prompting expanded."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from culturelens import alignment
from culturelens.errors import InputError


def dist_rows(model, country, condition, variants, prompt_lang="en", item_lang="en"):
    rows = []
    for v, probs in enumerate(variants):
        for i, p in enumerate(probs):
            rows.append({"model": model, "study": "s", "item_id": "q", "item_lang": item_lang, "prompt_lang": prompt_lang,
                         "condition": condition, "persona": "none", "country": country, "paraphrase": v,
                         "option_order": "listed", "prompt_id": f"{model}{condition}{country}{v}", "option_index": i, "prob": p})
    return rows


TARGETS = pd.DataFrame([
    {"item_id": "q", "country": c, "option_index": i, "share": s}
    for c, shares in [("US", [0.5, 0.5]), ("JP", [1.0, 0.0])] for i, s in enumerate(shares)
])
ITEMS = pd.DataFrame([{"item_id": "q", "scale": "ordinal", "options": ["yes", "no"]}])


def test_cell_metrics_by_hand():
    dist = pd.DataFrame(dist_rows("m", "US", "cross_national", [[1, 0], [0, 1]]))
    cell = alignment.cells(dist, TARGETS, ITEMS, baselines=set()).iloc[0]
    # mean of the variants is [.5, .5] = the US survey: the metric of the mean is perfect ...
    assert cell.js_sim_of_mean == pytest.approx(1.0)
    assert cell.emd_sim_of_mean == pytest.approx(1.0) and cell.tv_of_mean == pytest.approx(0.0)
    # ... but the headline is the mean of the per-variant metrics: each variant is half off
    assert cell.js_sim == pytest.approx(1 - 0.557923, abs=1e-6)
    assert cell.emd_sim == pytest.approx(0.5) and cell.tv == pytest.approx(0.5) and cell.top1 == pytest.approx(1.0)
    assert cell.js_sim_min <= cell.js_sim <= cell.js_sim_max
    # each variant alone: JSD([1,0],[.5,.5]) = H([.75,.25]) − ½(0 + 1) = 0.811278 − 0.5 = 0.311278 bits,
    # distance √0.311278 = 0.557923 → 1 − 0.557923
    assert cell.js_sim_min == pytest.approx(1 - 0.557923, abs=1e-6)
    assert cell.js_sim_max == pytest.approx(1 - 0.557923, abs=1e-6)
    # the two variants are disjoint: JS distance 1
    assert cell.spread_jsd == pytest.approx(1.0)
    assert cell.n_variants == 2 and bool(cell.native) is True
    assert list(cell.model_dist) == pytest.approx([0.5, 0.5]) and list(cell.survey_dist) == pytest.approx([0.5, 0.5])


def test_default_prompting_is_compared_with_every_country():
    dist = pd.DataFrame(dist_rows("u", "none", "default", [[0.5, 0.5]]))
    table = alignment.cells(dist, TARGETS, ITEMS, baselines={"u"}).set_index("country")
    assert set(table.index) == {"US", "JP"}
    assert table.loc["US", "js_sim"] == pytest.approx(1.0)
    # vs JP [1, 0]: same numbers as one variant above
    assert table.loc["JP", "js_sim"] == pytest.approx(1 - 0.557923, abs=1e-6)
    # EMD between [.5,.5] and [1,0] on positions 0,1 is 0.5; K−1 = 1
    assert table.loc["JP", "emd_sim"] == pytest.approx(0.5)
    assert table["is_baseline"].all()
    assert bool(table.loc["JP", "native"]) is False


def test_headline_lies_within_its_range():
    dist = pd.DataFrame(dist_rows("m", "JP", "cross_national", [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    cell = alignment.cells(dist, TARGETS, ITEMS, baselines=set()).iloc[0]
    per_variant = [1 - jensenshannon(v, [1, 0], base=2) for v in ([0.9, 0.1], [0.2, 0.8], [0.6, 0.4])]
    assert cell.js_sim == pytest.approx(np.mean(per_variant))
    assert cell.js_sim_min == pytest.approx(min(per_variant)) and cell.js_sim_max == pytest.approx(max(per_variant))
    assert cell.js_sim_of_mean == pytest.approx(1 - jensenshannon([17 / 30, 13 / 30], [1, 0], base=2))


def test_a_distribution_over_other_options_is_an_error_naming_the_item():
    dist = pd.DataFrame(dist_rows("m", "US", "cross_national", [[0.2, 0.3, 0.5]]))
    with pytest.raises(InputError, match="item 'q'.*2 options"):
        alignment.cells(dist, TARGETS, ITEMS, baselines=set())
    short = pd.DataFrame(dist_rows("m", "US", "cross_national", [[1.0]]))
    with pytest.raises(InputError, match="item 'q'"):
        alignment.cells(short, TARGETS, ITEMS, baselines=set())


def test_survey_vectors_have_the_items_length():
    # the last option has no survey row: the vector still has the item's 3 options (a zero share)
    targets = pd.DataFrame([{"item_id": "q", "country": "US", "option_index": i, "share": s}
                            for i, s in enumerate([0.5, 0.5])])
    vectors = alignment.target_vectors(targets, {"q": 3})
    assert vectors[("q", "US")].tolist() == [0.5, 0.5, 0.0]
    with pytest.raises(InputError, match="0..0"):
        alignment.target_vectors(targets, {"q": 1})


def test_emd_over_scale_points_only():
    """A kept "Don't know" is not the far end of the scale: EMD ignores it and renormalises."""
    items = pd.DataFrame([{"item_id": "q", "scale": "ordinal", "options": ["agree", "neutral", "disagree", "DK"],
                           "non_substantive": [False, False, False, True]}])
    targets = pd.DataFrame([{"item_id": "q", "country": "US", "option_index": i, "share": s}
                            for i, s in enumerate([0.4, 0.2, 0.2, 0.2])])
    dist = pd.DataFrame(dist_rows("m", "US", "cross_national", [[0.25, 0.0, 0.0, 0.75]]))
    cell = alignment.cells(dist, targets, items, baselines=set()).iloc[0]
    # scale points: model [1, 0, 0], survey [.5, .25, .25]; CDF gaps |1−.5| + |1−.75| = .75; K−1 = 2
    assert cell.emd_sim == pytest.approx(1 - 0.75 / 2)
    # JSD still uses all four options
    assert cell.js_sim == pytest.approx(1 - jensenshannon([0.25, 0, 0, 0.75], [0.4, 0.2, 0.2, 0.2], base=2))


def test_shared_default_answers_share_an_answer_id():
    dist = pd.DataFrame(dist_rows("u", "none", "default", [[0.5, 0.5]])
                        + dist_rows("u", "JP", "cross_national", [[0.5, 0.5]]))
    table = alignment.cells(dist, TARGETS, ITEMS, baselines={"u"})
    default = table[table.condition == "default"]
    assert len(default) == 2 and default["answer_id"].nunique() == 1
    assert table.loc[table.condition == "cross_national", "answer_id"].iloc[0] != default["answer_id"].iloc[0]


@pytest.mark.parametrize("prompt_lang, item_lang, native, mode", [
    ("ja", "ja", True, "native"),        # template and item in Japanese
    ("ja", "en", False, "frame_only"),   # Japanese template, English question and options: not native
    ("en", "en", False, "non_native"),   # English is not a language of Japan
])
def test_native_needs_the_item_text_in_the_country_language(prompt_lang, item_lang, native, mode):
    dist = pd.DataFrame(dist_rows("m", "JP", "linguistic", [[1, 0]], prompt_lang, item_lang))
    cell = alignment.cells(dist, TARGETS, ITEMS, baselines=set()).iloc[0]
    assert (bool(cell.native), cell.language_mode) == (native, mode)
    assert "language_mode" in alignment.COLUMNS


def _cells_one_by_one(dist, targets, items, baselines):
    """The definition, cell by cell with the scalar metrics (as alignment.cells computed it before
    it worked on all cells at once): the vectorised table must equal it."""
    from itertools import combinations

    from culturelens import metrics

    n_options = {i: len(o) for i, o in zip(items["item_id"], items["options"])}
    tvec = alignment.target_vectors(targets, n_options)
    rows = []
    variants = {}
    for key, grp in dist.groupby(alignment.CELL + alignment.VARIANT + ["prompt_id"]):
        vec = np.zeros(n_options[key[1]])
        vec[grp["option_index"].to_numpy()] = grp["prob"].to_numpy()
        countries = [c for (i, c) in tvec if i == key[1]] if key[2] == "none" else [key[2]]
        for c in countries:
            variants.setdefault((key[0], key[1], c, key[3], key[4]), []).append((vec / vec.sum(), key[-1]))
    scale = dict(zip(items["item_id"], items["scale"]))
    for (model, item, country, condition, lang), vecs in variants.items():
        q = tvec.get((item, country))
        if q is None:
            continue
        ordinal = scale[item] == "ordinal"
        per = [metrics.alignment_scores(v, q, ordinal) for v, _ in vecs]
        mean = np.mean([v for v, _ in vecs], axis=0)
        pairs = [metrics.js_distance(a, b) for (a, _), (b, _) in combinations(vecs, 2)]
        rows.append({"model": model, "item_id": item, "country": country, "condition": condition,
                     "prompt_lang": lang, "n_variants": len(vecs),
                     **{m: np.mean([s[m] for s in per]) for m in alignment.METRICS},
                     **{f"{m}_of_mean": v for m, v in metrics.alignment_scores(mean, q, ordinal).items()},
                     "js_sim_min": min(s["js_sim"] for s in per), "js_sim_max": max(s["js_sim"] for s in per),
                     "spread_jsd": np.mean(pairs) if pairs else np.nan,
                     "answer_id": alignment.answer_id(model, [pid for _, pid in vecs])})
    return pd.DataFrame(rows)


def test_all_cells_at_once_equal_the_definition_cell_by_cell():
    """Random distributions over items of 2–5 options (ordinal and nominal), targeted and default
    prompts, 1–4 variants per cell, countries without data for some items."""
    rng = np.random.default_rng(0)
    items = pd.DataFrame([{"item_id": f"q{i}", "scale": "ordinal" if i % 2 else "nominal",
                           "options": [f"o{j}" for j in range(2 + i % 4)]} for i in range(8)])
    targets = pd.DataFrame([{"item_id": f"q{i}", "country": c, "option_index": j, "share": s}
                            for i in range(8) for c in ("US", "JP", "DE") if not (c == "DE" and i % 3 == 0)
                            for j, s in enumerate(rng.dirichlet(np.ones(2 + i % 4)))])
    rows = []
    for model in ("a", "b"):
        for i in range(8):
            k = 2 + i % 4
            for country, condition in (("none", "default"), ("US", "cross_national"), ("DE", "cross_national"),
                                       ("JP", "linguistic")):
                for v in range(rng.integers(1, 5)):
                    pid = f"{model}{i}{country}{v}"
                    for j, p in enumerate(rng.dirichlet(np.ones(k))):
                        rows.append({"model": model, "study": "s", "item_id": f"q{i}", "item_lang": "en",
                                     "prompt_lang": "en", "condition": condition, "persona": "none",
                                     "country": country, "paraphrase": v, "option_order": "listed",
                                     "prompt_id": pid, "option_index": j, "prob": p})
    dist = pd.DataFrame(rows).sample(frac=1, random_state=1)   # any row order
    got = alignment.cells(dist, targets, items, baselines={"a"})
    want = _cells_one_by_one(dist, targets, items, {"a"})
    assert len(got) == len(want) > 50
    key = alignment.CELL
    got, want = got.sort_values(key, ignore_index=True), want.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False, atol=1e-12, rtol=0)
    assert got["is_baseline"].eq(got["model"] == "a").all()


def test_a_wider_item_nobody_answered_does_not_widen_the_table():
    """A model that answered only the 2-option item (it abstained on the 5-option one) still gets
    its cells: the survey's wider targets are not forced into the answered items' width."""
    items = pd.DataFrame([{"item_id": "narrow", "scale": "nominal", "options": ["a", "b"]},
                          {"item_id": "wide", "scale": "nominal", "options": list("abcde")}])
    targets = pd.DataFrame([{"item_id": i, "country": "NL", "option_index": j, "share": s}
                            for i, shares in (("narrow", [0.25, 0.75]), ("wide", [0.2] * 5))
                            for j, s in enumerate(shares)])
    dist = pd.DataFrame([{"model": "m", "study": "s", "item_id": "narrow", "item_lang": "en", "prompt_lang": "en",
                          "condition": "cross_national", "persona": "NL", "country": "NL", "paraphrase": 0,
                          "option_order": "listed", "prompt_id": "p", "option_index": j, "prob": p}
                         for j, p in enumerate([0.25, 0.75])])
    got = alignment.cells(dist, targets, items, baselines=set())
    assert got["item_id"].tolist() == ["narrow"]
    assert got["js_sim"].iloc[0] == pytest.approx(1.0)
