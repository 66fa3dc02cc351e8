"""Metrics against values worked out by hand (arithmetic in the comments)."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from culturelens import metrics as m


# ---------------------------------------------------------------- Jensen–Shannon
def test_js_disjoint_supports_is_zero_similarity():
    # m = [.5, .5]; KL(p||m) = 1·log2(1/.5) = 1, same for q; JSD = ½(1+1) = 1; distance 1 → sim 0
    assert m.js_similarity([1, 0], [0, 1]) == pytest.approx(0.0, abs=1e-12)


def test_js_identical_is_one_and_never_nan():
    p = [0.2, 0.3, 0.5]
    assert m.js_similarity(p, p) == 1.0
    assert m.js_distance([1 / 3] * 3, [1 / 3] * 3) == 0.0


def test_js_hand_computed():
    # p = [1, 0], q = [.5, .5] → m = [.75, .25]
    # KL(p||m) = log2(1/.75) = log2(4/3)
    # KL(q||m) = .5·log2(.5/.75) + .5·log2(.5/.25) = .5·log2(2/3) + .5
    # JSD = ½(KL(p||m) + KL(q||m)) ≈ ½(0.4150375 + 0.2075187) = 0.3112781
    jsd = 0.5 * (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5)
    assert jsd == pytest.approx(0.3112781, abs=1e-7)
    # distance = sqrt(0.3112781) ≈ 0.5579230 → similarity ≈ 0.4420770
    assert m.js_similarity([1, 0], [0.5, 0.5]) == pytest.approx(1 - math.sqrt(jsd), abs=1e-12)
    assert m.js_similarity([1, 0], [0.5, 0.5]) == pytest.approx(0.442077, abs=1e-6)
    # counts normalise to the same thing
    assert m.js_similarity([7, 0], [3, 3]) == pytest.approx(0.442077, abs=1e-6)


def test_js_matches_scipy_and_is_symmetric():
    p, q = [0.1, 0.2, 0.3, 0.4], [0.4, 0.1, 0.1, 0.4]
    assert m.js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert m.js_distance(p, q) == pytest.approx(m.js_distance(q, p), abs=1e-15)


# ---------------------------------------------------------------- EMD
def test_emd_mass_moved_end_to_end_is_zero():
    # CDF_p = [1,1,1], CDF_q = [0,0,1] → W1 = 1+1+0 = 2 = K−1 → sim = 1 − 2/2 = 0
    assert m.emd_similarity([1, 0, 0], [0, 0, 1]) == pytest.approx(0.0, abs=1e-12)


def test_emd_hand_computed():
    # p = [.5,.5,0] CDF [.5,1,1]; q = [0,.5,.5] CDF [0,.5,1]
    # W1 = |.5−0| + |1−.5| + 0 = 1 → sim = 1 − 1/(3−1) = 0.5
    assert m.emd_similarity([0.5, 0.5, 0], [0, 0.5, 0.5]) == pytest.approx(0.5)
    # K = 5, p all on option 0, q all on option 1: W1 = 1 → sim = 1 − 1/4 = 0.75
    assert m.emd_similarity([1, 0, 0, 0, 0], [0, 1, 0, 0, 0]) == pytest.approx(0.75)


def test_emd_is_order_sensitive_unlike_tv():
    # moving the mass one step or four steps is the same TV (1) but different EMD
    near = m.emd_similarity([1, 0, 0, 0, 0], [0, 1, 0, 0, 0])  # 1 − 1/4 = 0.75
    far = m.emd_similarity([1, 0, 0, 0, 0], [0, 0, 0, 0, 1])  # 1 − 4/4 = 0
    assert near == pytest.approx(0.75) and far == pytest.approx(0.0)
    assert m.total_variation([1, 0, 0, 0, 0], [0, 1, 0, 0, 0]) == pytest.approx(1.0)


def test_emd_single_option_is_one():
    assert m.emd_similarity([3], [1]) == 1.0


# ---------------------------------------------------------------- TV
def test_total_variation_hand_computed():
    # ½(|.5−0| + |.5−.5| + |0−.5|) = ½(1) = 0.5
    assert m.total_variation([0.5, 0.5, 0], [0, 0.5, 0.5]) == pytest.approx(0.5)
    # ½(|.2−.1| + |.8−.9|) = ½(.2) = 0.1
    assert m.total_variation([2, 8], [0.1, 0.9]) == pytest.approx(0.1)


# ---------------------------------------------------------------- top-1
def test_top1_single_modes():
    assert m.top1_agreement([0.1, 0.9], [0.2, 0.8]) == 1.0
    assert m.top1_agreement([0.1, 0.9], [0.9, 0.1]) == 0.0


def test_top1_uniform_model_scores_one_over_k():
    # argmax(p) = {0,1,2,3}, argmax(q) = {1} → |∩|/|argmax p| = 1/4
    assert m.top1_agreement([1, 1, 1, 1], [0.1, 0.6, 0.2, 0.1]) == pytest.approx(0.25)
    # floats that only tie up to rounding still count as ties
    assert m.top1_agreement([1 / 3, 1 / 3, 1 / 3], [0, 1, 0]) == pytest.approx(1 / 3)


def test_top1_ties_in_model_and_survey():
    # argmax p = {0,1}, argmax q = {0} → 1/2
    assert m.top1_agreement([0.4, 0.4, 0.2], [0.5, 0.3, 0.2]) == pytest.approx(0.5)
    # argmax p = {0}, argmax q = {0,2} → 1/1 (p's single mode is one of q's modes)
    assert m.top1_agreement([0.6, 0.3, 0.1], [0.4, 0.2, 0.4]) == 1.0


# ---------------------------------------------------------------- spread
def test_mean_pairwise_js_distance():
    # pairs: (a,b) = 1, (a,c) = 0, (b,c) = 1 → mean 2/3
    d = [[1, 0], [0, 1], [1, 0]]
    assert m.mean_pairwise_js_distance(d) == pytest.approx(2 / 3)


def test_mean_pairwise_js_distance_fewer_than_two_is_nan():
    assert math.isnan(m.mean_pairwise_js_distance([[0.5, 0.5]]))
    assert math.isnan(m.mean_pairwise_js_distance([]))


def test_mean_pairwise_js_distance_length_mismatch():
    with pytest.raises(ValueError, match="different numbers of options"):
        m.mean_pairwise_js_distance([[1, 0], [1, 0, 0]])


# ---------------------------------------------------------------- alignment_scores
def test_alignment_scores_keys_and_values():
    s = m.alignment_scores([0.5, 0.5, 0], [0, 0.5, 0.5], ordinal=True)
    assert set(s) == {"js_sim", "emd_sim", "tv", "top1"}
    assert s["emd_sim"] == pytest.approx(0.5)
    assert s["tv"] == pytest.approx(0.5)
    # argmax p = {0,1}, argmax q = {1,2} → 1/2
    assert s["top1"] == pytest.approx(0.5)
    # m = [.25,.5,.25]; KL(p||m) = .5·log2(2) + .5·log2(1) = .5; KL(q||m) = .5 by symmetry
    # JSD = .5 → sim = 1 − sqrt(.5)
    assert s["js_sim"] == pytest.approx(1 - math.sqrt(0.5))


def test_alignment_scores_nominal_has_nan_emd():
    s = m.alignment_scores([0.5, 0.5], [0.5, 0.5], ordinal=False)
    assert math.isnan(s["emd_sim"])
    assert s["js_sim"] == 1.0 and s["tv"] == 0.0 and s["top1"] == 1.0


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "p, q, match",
    [
        ([0.5, -0.1, 0.6], [1, 1, 1], "negative"),
        ([0.5, np.nan], [1, 1], "NaN"),
        ([0.5, 0.5], [1, 1, 1], "different numbers of options"),
        ([0, 0], [1, 1], "sums to zero"),
        ([], [], "empty"),
    ],
)
@pytest.mark.parametrize(
    "fn",
    [m.js_similarity, m.emd_similarity, m.total_variation, m.top1_agreement],
)
def test_bad_input_raises(fn, p, q, match):
    with pytest.raises(ValueError, match=match):
        fn(p, q)


def test_js_distance_in_nats_matches_scipys_default():
    """Published GlobalOpinionQA reproductions call scipy's jensenshannon with its default base (e)."""
    p, q = [0.7, 0.2, 0.1], [0.1, 0.3, 0.6]
    assert m.js_distance(p, q, base=np.e) == pytest.approx(jensenshannon(p, q))
    assert m.js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2))
    # disjoint supports: the largest distance is sqrt(ln 2) in nats, 1 in bits
    assert m.js_distance([1, 0], [0, 1], base=np.e) == pytest.approx(np.sqrt(np.log(2)))
    assert m.js_similarity([1, 0], [0, 1]) == pytest.approx(0.0)


def test_alignment_cells_in_nats():
    import pandas as pd

    from culturelens import alignment

    items = pd.DataFrame([{"item_id": "q", "scale": "nominal", "options": ["a", "b", "c"]}])
    targets = pd.DataFrame([{"item_id": "q", "country": "US", "option_index": i, "share": s}
                            for i, s in enumerate([0.1, 0.3, 0.6])])
    dist = pd.DataFrame([{"model": "m", "study": "s", "item_id": "q", "item_lang": "en", "prompt_lang": "en",
                          "condition": "c", "country": "US", "paraphrase": 0, "option_order": "listed",
                          "prompt_id": "p", "option_index": i, "prob": x} for i, x in enumerate([0.7, 0.2, 0.1])])
    cell = alignment.cells(dist, targets, items, baselines=set(), js_base="e").iloc[0]
    assert cell.js_sim == pytest.approx(1 - jensenshannon([0.7, 0.2, 0.1], [0.1, 0.3, 0.6]))
    assert cell.js_base == "e"


def test_row_metrics_equal_the_scalar_ones():
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(5), size=40)
    Q = rng.dirichlet(np.ones(5), size=40)
    P[0] = Q[0]                       # identical rows: distance exactly 0
    P[1] = [0.5, 0.5, 0, 0, 0]        # ties among the modes
    for base in (2.0, np.e):
        assert m.js_distance_rows(P, Q, base) == pytest.approx([m.js_distance(p, q, base) for p, q in zip(P, Q)])
    assert m.js_distance_rows(P, Q)[0] == 0.0
    assert m.emd_similarity_rows(P, Q) == pytest.approx([m.emd_similarity(p, q) for p, q in zip(P, Q)])
    assert m.total_variation_rows(P, Q) == pytest.approx([m.total_variation(p, q) for p, q in zip(P, Q)])
    assert m.top1_agreement_rows(P, Q) == pytest.approx([m.top1_agreement(p, q) for p, q in zip(P, Q)])
    # EMD of rows that sum to zero (no scale point answered) is NaN, not an error
    assert np.isnan(m.emd_similarity_rows(np.zeros((1, 3)), Q[:1, :3])).all()
