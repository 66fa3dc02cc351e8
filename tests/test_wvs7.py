"""WVS wave 7 microdata importer, on a small file in the official layout (same column names and
answer codes as the WVS-7 cross-national CSV) with the shipped item bank."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from culturelens import metrics, surveys
from culturelens.errors import InputError
from culturelens.surveys import wvs7

BANK = Path(__file__).resolve().parent.parent / "resources" / "surveys" / "wvs7"

# respondents: country (alpha-3 as in B_COUNTRY_ALPHA), weight, Q1 (family important, 1–4),
# Q57 (most people can be trusted, 1–2), Q119 (women less corrupt: 0 "Hard to say", 1–4)
RESPONDENTS = [
    ("DEU", 1.0, 1, 1, 1), ("DEU", 2.0, 1, 2, 0), ("DEU", 1.0, 2, 2, 4), ("DEU", 0.5, -1, -2, 3),
    ("DEU", 1.5, -4, 1, -5),
    ("MOR", 1.0, 1, 2, 2), ("MOR", 1.0, 1, 2, 2), ("MOR", 3.0, 3, 1, -1),
    ("NIR", 1.0, 4, 1, 1), ("NIR", 1.0, 1, 1, 1),
    ("XXX", 1.0, 1, 1, 1),          # not a country: left out
]


def write_microdata(path, rows=RESPONDENTS, weight=True):
    table = pd.DataFrame(rows, columns=["B_COUNTRY_ALPHA", "W_WEIGHT", "Q1", "Q57", "Q119"])
    table.insert(0, "version", "5-0-0 (2022-12-14)")
    table.insert(1, "A_YEAR", 2018)
    table.insert(3, "D_INTERVIEW", range(len(table)))
    if not weight:
        table = table.drop(columns="W_WEIGHT")
    table.to_csv(path, index=False)
    return {"microdata": str(path), "codebook": str(BANK / "codebook.json"),
            "questions": str(BANK / "question_metadata.json"), "adjustments": str(BANK / "answer_adjustment.json")}


@pytest.fixture
def tables(tmp_path):
    return surveys.load("wvs7", "wvs7", write_microdata(tmp_path / "WVS_Cross-National_Wave_7_csv_v5_0.csv"))


def shares(t, item, country):
    rows = t.targets[(t.targets.item_id == item) & (t.targets.country == country)].sort_values("option_index")
    return rows["share"].to_numpy(), rows["n"].iloc[0]


def test_items_from_the_item_bank_in_scale_order(tables):
    items = tables.items.set_index("item_id")
    assert set(items.index) == {"Q1", "Q57", "Q119"}
    q1 = items.loc["Q1"]
    assert q1.options == ["Very important", "Rather important", "Not very important", "Not at all important",
                          "Don't know", "No answer"]
    assert q1.non_substantive == [False] * 4 + [True, True] and q1.scale == "ordinal"
    assert "how important is family in your life" in q1.question
    # the adjustment puts "Hard to say" (code 0) in the middle of the agree-disagree scale
    assert items.loc["Q119"].options[:5] == ["Strongly agree", "Agree", "Hard to say", "Disagree", "Strongly disagree"]


def test_weighted_shares_by_hand_and_real_n(tables):
    de, n = shares(tables, "Q1", "DE")
    # answers 1 (w 1), 1 (w 2), 2 (w 1), DK (w 0.5); "not asked" (-4) is not an answer
    assert de == pytest.approx(np.array([3, 1, 0, 0, 0.5, 0]) / 4.5) and n == 4
    ma, n = shares(tables, "Q119", "MA")      # Morocco: WVS writes MOR, not ISO's MAR
    # "Agree" (code 2) twice with weight 1, "Don't know" with weight 3
    assert ma == pytest.approx([0, 0.4, 0, 0, 0, 0.6, 0]) and n == 3
    de119, n = shares(tables, "Q119", "DE")
    # "Strongly agree" (1) w 1, "Hard to say" (0) w 2, "Disagree" (3) w 0.5, "Strongly disagree" (4)
    # w 1; "Missing" (-5) is not an answer
    assert de119[:5] == pytest.approx(np.array([1, 0, 2, 0.5, 1]) / 4.5) and n == 4


def test_countries_by_alpha3_and_by_name(tables):
    assert set(tables.targets.country) == {"DE", "MA", "GB-NIR"}
    assert any("XXX" in line for line in tables.report)


def test_split_half_ceiling(tables):
    ceiling = tables.ceiling.set_index(["item_id", "country"])
    row = ceiling.loc[("Q57", "DE")]
    assert row.n_half_a + row.n_half_b == 5
    # recomputed from the documented split: the country's respondents in file order
    half = wvs7.split_half(5)
    answers = np.array([1, 2, 2, -2, 1]) - 1
    weights = np.array([1.0, 2.0, 1.0, 0.5, 1.5])
    sub = answers >= 0
    a = np.bincount(answers[sub & (half == 0)], weights=weights[sub & (half == 0)], minlength=2)
    b = np.bincount(answers[sub & (half == 1)], weights=weights[sub & (half == 1)], minlength=2)
    if a.sum() and b.sum():
        assert row.split_half_js_sim == pytest.approx(metrics.js_similarity(a, b))
    else:
        assert np.isnan(row.split_half_js_sim)
    assert sorted(np.bincount(wvs7.split_half(7))) == [3, 4]
    assert any("split-half" in line for line in tables.report)


def test_without_weights_and_bad_weights(tmp_path):
    t = surveys.load("wvs7", "w", write_microdata(tmp_path / "a.csv", weight=False))
    de, _ = shares(t, "Q1", "DE")
    assert de == pytest.approx(np.array([2, 1, 0, 0, 1, 0]) / 4)
    assert any("unweighted" in line for line in t.report)
    rows = [RESPONDENTS[0][:1] + (-1.0,) + RESPONDENTS[0][2:]] + RESPONDENTS[1:]
    with pytest.raises(InputError) as err:
        surveys.load("wvs7", "w", write_microdata(tmp_path / "b.csv", rows))
    assert err.value.field == "W_WEIGHT (row 2)"


def test_a_file_without_the_country_column(tmp_path):
    paths = write_microdata(tmp_path / "c.csv")
    pd.read_csv(paths["microdata"]).drop(columns="B_COUNTRY_ALPHA").to_csv(paths["microdata"], index=False)
    with pytest.raises(InputError) as err:
        surveys.load("wvs7", "w", paths)
    assert err.value.field == "B_COUNTRY_ALPHA"


def test_the_stata_file_gives_the_same_tables(tmp_path, tables):
    paths = write_microdata(tmp_path / "w.csv")
    stata = tmp_path / "WVS_Cross-National_Wave_7_stata_v5_0.dta"
    pd.read_csv(paths["microdata"]).to_stata(stata, write_index=False)
    t = surveys.load("wvs7", "wvs7", {**paths, "microdata": str(stata)})
    pd.testing.assert_frame_equal(t.targets, tables.targets)
    pd.testing.assert_frame_equal(t.ceiling, tables.ceiling)


def test_a_list_in_the_codebooks_order_and_an_answer_code_land_on_moved_options(tables):
    """Q119 lists codes 0 ("Hard to say"), 1..4 in the codebook; the adjustment moves code 0 to the
    middle of the scale. A distribution given by position in the codebook's order (its answers and the
    kept Don't know / No answer) must put its first number on "Hard to say", and the option number 1
    (the answer code) must be "Strongly agree", wherever the import placed them."""
    from culturelens import imported

    q119 = tables.items.set_index("item_id").loc["Q119"]
    codebook = json.loads((BANK / "codebook.json").read_text())["Q119"]["choices"]
    assert list(q119.source_options) == [codebook[c] for c in ("0", "1", "2", "3", "4", "-1", "-2")]
    assert list(q119.source_numbers) == [0, 1, 2, 3, 4, -1, -2]
    view, _ = surveys.substantive_view(tables.items, tables.targets, True)
    resolved = imported._Items(view, tables.items)
    probs, reason, _ = imported._distribution("distribution", "[0.5, 0.1, 0.1, 0.1, 0.2, 0, 0]", "Q119", resolved)
    assert reason == ""
    options = list(q119.options)
    assert probs[options.index("Hard to say")] == pytest.approx(0.5)
    assert probs[options.index("Strongly agree")] == pytest.approx(0.1)
    one, why = imported._choice(1, "Q119", resolved)
    assert why == "" and one[options.index("Strongly agree")] == 1
    zero, _ = imported._choice("0", "Q119", resolved)
    assert zero[options.index("Hard to say")] == 1
    assert imported._choice(7, "Q119", resolved) == (None, "off_scale")
