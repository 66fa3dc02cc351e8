"""VSM 2013 indices and the comparison with published scores, checked against hand arithmetic."""

import math

import pandas as pd
import pytest
from scipy import stats

from culturelens import vsm


def linear_means():
    """m_k = 2 + 0.1·k for k = 1..24, so m_a − m_b = 0.1·(a − b)."""
    return {f"{k:02d}": 2 + 0.1 * k for k in range(1, 25)}


# ---------------------------------------------------------------- formulas
def test_formulas_table_shape():
    assert list(vsm.FORMULAS) == ["pdi", "idv", "mas", "uai", "lto", "ivr"]
    used = sorted(item for terms in vsm.FORMULAS.values() for _, a, b in terms for item in (a, b))
    assert used == [f"{k:02d}" for k in range(1, 25)]  # every content item exactly once


def test_indices_hand_computed():
    idx = vsm.indices(linear_means())
    # PDI = 35(m07 − m02) + 25(m20 − m23) = 35·0.5 + 25·(−0.3) = 17.5 − 7.5 = 10
    assert idx["pdi"] == pytest.approx(10.0)
    # IDV = 35(m04 − m01) + 35(m09 − m06) = 35·0.3 + 35·0.3 = 21
    assert idx["idv"] == pytest.approx(21.0)
    # MAS = 35(m05 − m03) + 35(m08 − m10) = 35·0.2 + 35·(−0.2) = 0
    assert idx["mas"] == pytest.approx(0.0, abs=1e-9)
    # UAI = 40(m18 − m15) + 25(m21 − m24) = 40·0.3 + 25·(−0.3) = 12 − 7.5 = 4.5
    assert idx["uai"] == pytest.approx(4.5)
    # LTO = 40(m13 − m14) + 25(m19 − m22) = 40·(−0.1) + 25·(−0.3) = −4 − 7.5 = −11.5
    assert idx["lto"] == pytest.approx(-11.5)
    # IVR = 35(m12 − m11) + 40(m17 − m16) = 35·0.1 + 40·0.1 = 3.5 + 4 = 7.5
    assert idx["ivr"] == pytest.approx(7.5)


# bumping one item from 3 to 4 moves exactly one index by ±its weight (hand-copied from the manual)
BUMPS = [
    ("01", "idv", -35), ("02", "pdi", -35), ("03", "mas", -35), ("04", "idv", 35),
    ("05", "mas", 35), ("06", "idv", -35), ("07", "pdi", 35), ("08", "mas", 35),
    ("09", "idv", 35), ("10", "mas", -35), ("11", "ivr", -35), ("12", "ivr", 35),
    ("13", "lto", 40), ("14", "lto", -40), ("15", "uai", -40), ("16", "ivr", -40),
    ("17", "ivr", 40), ("18", "uai", 40), ("19", "lto", 25), ("20", "pdi", 25),
    ("21", "uai", 25), ("22", "lto", -25), ("23", "pdi", -25), ("24", "uai", -25),
]  # fmt: skip


@pytest.mark.parametrize("item, dim, expected", BUMPS)
def test_single_item_bump(item, dim, expected):
    means = {f"{k:02d}": 3.0 for k in range(1, 25)}
    means[item] = 4.0
    idx = vsm.indices(means)
    assert idx[dim] == pytest.approx(expected)
    assert all(v == 0 for d, v in idx.items() if d != dim)


def test_missing_item_makes_only_its_dimension_nan():
    means = linear_means()
    del means["07"]
    idx = vsm.indices(means)
    assert math.isnan(idx["pdi"])
    assert idx["idv"] == pytest.approx(21.0)


def test_item_keys_without_leading_zero_are_accepted():
    means = {str(int(k)): v for k, v in linear_means().items()}  # "1".."24"
    assert vsm.indices(means)["pdi"] == pytest.approx(10.0)


# ---------------------------------------------------------------- mean_answer
def test_mean_answer_hand_computed():
    # 1·.1 + 2·.2 + 3·.3 + 4·.2 + 5·.2 = .1 + .4 + .9 + .8 + 1.0 = 3.2
    assert vsm.mean_answer([0.1, 0.2, 0.3, 0.2, 0.2]) == pytest.approx(3.2)
    assert vsm.mean_answer([1, 1, 1, 1, 1]) == pytest.approx(3.0)  # uniform counts → 3
    assert vsm.mean_answer([0, 0, 0, 0, 2]) == pytest.approx(5.0)


def test_mean_answer_wrong_length():
    with pytest.raises(ValueError, match="5 options"):
        vsm.mean_answer([0.5, 0.5])


# ---------------------------------------------------------------- indices_table
def test_indices_table_groups():
    rows = []
    for model, shift in [("a", 0.0), ("b", 1.0)]:
        for k, v in linear_means().items():
            # model b: item 07 one point higher → PDI = 10 + 35 = 45
            rows.append({"model": model, "persona": "US", "item_id": k,
                         "mean": v + (shift if k == "07" else 0.0)})  # fmt: skip
    out = vsm.indices_table(pd.DataFrame(rows))
    assert list(out.columns) == ["model", "persona", "dimension", "index"]
    assert len(out) == 2 * 6
    pdi = out[out["dimension"] == "pdi"].set_index("model")["index"]
    assert pdi["a"] == pytest.approx(10.0)
    assert pdi["b"] == pytest.approx(45.0)
    idv = out[out["dimension"] == "idv"].set_index("model")["index"]
    assert idv["b"] == pytest.approx(21.0)


def test_indices_table_no_group_columns():
    df = pd.DataFrame({"item_id": list(linear_means()), "mean": list(linear_means().values())})
    out = vsm.indices_table(df)
    assert list(out.columns) == ["dimension", "index"]
    assert out.set_index("dimension")["index"]["uai"] == pytest.approx(4.5)


def test_indices_table_duplicate_item_rejected():
    df = pd.DataFrame({"model": ["a", "a"], "item_id": ["01", "1"], "mean": [3.0, 3.5]})
    with pytest.raises(ValueError, match="more than one mean"):
        vsm.indices_table(df)


# ---------------------------------------------------------------- comparison
def published():
    # PDI scores for four countries, plus one country the model was not run for
    return pd.DataFrame(
        {"country": ["AA", "BB", "CC", "DD", "EE"], "dimension": "pdi", "score": [2, 4, 5, 9, 50]}
    )


def model_table(values, model="m1"):
    return pd.DataFrame(
        {"model": model, "country": ["AA", "BB", "CC", "DD"], "dimension": "pdi", "index": values}
    )


def test_correlation_hand_computed():
    corr, err = vsm.compare_with_published(model_table([1.0, 2, 3, 4]), published(), by=["model"])
    row = corr.iloc[0]
    # x = [1,2,3,4], y = [2,4,5,9]: x̄ = 2.5, ȳ = 5; dx = [−1.5,−.5,.5,1.5], dy = [−3,−1,0,4]
    # Σdx·dy = 4.5 + .5 + 0 + 6 = 11; Σdx² = 5; Σdy² = 9 + 1 + 0 + 16 = 26
    # r = 11 / sqrt(5·26) = 11 / sqrt(130) ≈ 0.964764
    assert row["n"] == 4  # EE has no model index
    assert row["pearson_r"] == pytest.approx(11 / math.sqrt(130))
    assert row["pearson_r"] == pytest.approx(0.964764, abs=1e-6)
    # t = r·sqrt(n−2)/sqrt(1−r²) = r·sqrt(2)/sqrt(9/130); two-sided p from t with 2 df
    t = (11 / math.sqrt(130)) * math.sqrt(2) / math.sqrt(9 / 130)
    assert row["pearson_p"] == pytest.approx(2 * stats.t.sf(t, 2))
    # same rank order on both sides → rho = 1
    assert row["spearman_rho"] == pytest.approx(1.0)
    assert row["note"] == ""

    # centred: model [−1.5,−.5,.5,1.5], published [−3,−1,0,4] → |diff| = [1.5,.5,.5,2.5]
    assert list(err["country"]) == ["AA", "BB", "CC", "DD"]
    assert err["abs_error"].tolist() == pytest.approx([1.5, 0.5, 0.5, 2.5])
    assert err["published_centred"].tolist() == pytest.approx([-3, -1, 0, 4])


def test_constant_offset_is_irrelevant():
    base = vsm.compare_with_published(model_table([1.0, 2, 3, 4]), published(), by=["model"])
    shifted = vsm.compare_with_published(model_table([101.0, 102, 103, 104]), published(), ["model"])
    assert shifted[1]["abs_error"].tolist() == pytest.approx(base[1]["abs_error"].tolist())
    assert shifted[0]["pearson_r"].iloc[0] == pytest.approx(base[0]["pearson_r"].iloc[0])
    # but the raw model values did change
    assert shifted[1]["model_index"].iloc[0] == 101.0


def test_degenerate_groups_give_nan_with_note():
    mi = pd.concat(
        [
            model_table([1.0, 2, 3, 4], "ok"),
            model_table([7.0, 7, 7, 7], "flat"),
            model_table([1.0, 2, math.nan, math.nan], "short"),
        ]
    )
    corr, err = vsm.compare_with_published(mi, published(), by=["model"])
    corr = corr.set_index("model")
    assert corr.loc["ok", "note"] == ""
    assert math.isnan(corr.loc["flat", "pearson_r"]) and math.isnan(corr.loc["flat", "spearman_rho"])
    assert "constant" in corr.loc["flat", "note"]
    assert corr.loc["short", "n"] == 2
    assert math.isnan(corr.loc["short", "pearson_r"])
    assert "< 3" in corr.loc["short", "note"]
    # flat model: centred model values are all 0 → errors are |published_centred| = [3,1,0,4]
    flat = err[err["model"] == "flat"]
    assert flat["abs_error"].tolist() == pytest.approx([3, 1, 0, 4])
    # short: centred over its two common countries: model [−.5,.5], published [−1,1] → [.5,.5]
    short = err[err["model"] == "short"]
    assert short["abs_error"].tolist() == pytest.approx([0.5, 0.5])


def test_constant_published_side():
    scores = pd.DataFrame({"country": ["AA", "BB", "CC"], "dimension": "idv", "score": [5, 5, 5]})
    mi = pd.DataFrame({"country": ["AA", "BB", "CC"], "dimension": "idv", "index": [1, 2, 3]})
    corr, _ = vsm.compare_with_published(mi, scores, by=[])
    assert "published score is constant" in corr["note"].iloc[0]
    assert math.isnan(corr["pearson_p"].iloc[0])


def test_duplicate_model_rows_rejected():
    mi = pd.concat([model_table([1.0, 2, 3, 4]), model_table([1.0, 2, 3, 4])])
    with pytest.raises(ValueError, match="add the distinguishing"):
        vsm.compare_with_published(mi, published(), by=["model"])
