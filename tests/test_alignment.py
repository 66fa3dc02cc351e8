"""Cells: variants averaged, compared with the survey, spread kept; default prompting expanded."""

import pandas as pd
import pytest

from culturelens import alignment


def dist_rows(model, country, condition, variants, prompt_lang="en", item_lang="en"):
    rows = []
    for v, probs in enumerate(variants):
        for i, p in enumerate(probs):
            rows.append({"model": model, "study": "s", "item_id": "q", "item_lang": item_lang, "prompt_lang": prompt_lang,
                         "condition": condition, "persona": "none", "country": country, "paraphrase": v,
                         "option_order": "listed", "prompt_id": f"{model}{v}", "option_index": i, "prob": p})
    return rows


TARGETS = pd.DataFrame([
    {"item_id": "q", "country": c, "option_index": i, "share": s}
    for c, shares in [("US", [0.5, 0.5]), ("JP", [1.0, 0.0])] for i, s in enumerate(shares)
])
ITEMS = pd.DataFrame([{"item_id": "q", "scale": "ordinal"}])


def test_cell_metrics_by_hand():
    dist = pd.DataFrame(dist_rows("m", "US", "cross_national", [[1, 0], [0, 1]]))
    cell = alignment.cells(dist, TARGETS, ITEMS, baselines=set()).iloc[0]
    # mean of the variants is [.5, .5] = the US survey: perfect alignment
    assert cell.js_sim == pytest.approx(1.0)
    assert cell.emd_sim == pytest.approx(1.0) and cell.tv == pytest.approx(0.0)
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
