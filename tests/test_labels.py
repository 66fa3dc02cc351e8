"""Label-task scoring (culturelens.labels) against hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from culturelens import labels

NAMES = ["anger", "fear", "joy"]


def _dist(rows):
    """rows: (item, condition, country, prompt_id, probs) → a long distributions table."""
    out = []
    for item, cond, country, pid, probs in rows:
        for k, p in enumerate(probs):
            out.append({"model": "m", "item_id": item, "item_lang": "en", "prompt_lang": "en", "condition": cond,
                        "persona": country, "country": country, "paraphrase": 0, "option_order": "listed",
                        "prompt_id": pid, "option_index": k, "prob": p})
    return pd.DataFrame(out)


GOLD = pd.DataFrame({"item_id": ["q1", "q2", "q3", "q1", "q2", "q3"], "country": ["DE"] * 3 + ["none"] * 3,
                     "lang": ["de"] * 3 + ["en"] * 3, "option_index": [0, 2, 1, 2, 2, 2]})


def test_prediction_is_the_top_label_and_scored_against_the_culture_of_the_prompt():
    dist = _dist([("q1", "c", "DE", "p1", [0.6, 0.3, 0.1]),     # anger, gold anger: right
                  ("q2", "c", "DE", "p2", [0.1, 0.2, 0.7]),     # joy, gold joy: right
                  ("q3", "c", "DE", "p3", [0.5, 0.4, 0.1]),     # anger, gold fear: wrong
                  ("q1", "c", "none", "p4", [0.6, 0.3, 0.1])])  # anger, English gold joy: wrong
    pred = labels.predictions(dist, GOLD, NAMES).set_index("prompt_id")
    assert pred["predicted_label"].to_dict() == {"p1": "anger", "p2": "joy", "p3": "anger", "p4": "anger"}
    assert pred["gold_label"].to_dict() == {"p1": "anger", "p2": "joy", "p3": "fear", "p4": "joy"}
    assert pred["correct"].to_dict() == {"p1": 1, "p2": 1, "p3": 0, "p4": 0}
    assert pred.loc["p3", "p_gold"] == pytest.approx(0.4)
    assert pred.loc["p4", "language"] == "en" and pred.loc["p1", "language"] == "de"


def test_a_row_without_a_gold_label_for_its_culture_is_not_scored():
    dist = _dist([("q1", "c", "JP", "p1", [0.6, 0.3, 0.1])])
    assert labels.predictions(dist, GOLD, NAMES).empty


def test_ties_are_broken_at_random_but_reproducibly():
    rows = [(f"q{i % 3 + 1}", "c", "DE", f"p{i}", [1 / 3] * 3) for i in range(3000)]
    pred = labels.predictions(_dist(rows), GOLD, NAMES)
    assert (pred["tied"] == 3).all()
    shares = pred["predicted"].value_counts(normalize=True)
    assert shares.min() > 0.3 and shares.max() < 0.37        # a uniform guess, not always the first
    assert pred["correct"].mean() == pytest.approx(1 / 3, abs=0.03)
    again = labels.predictions(_dist(rows), GOLD, NAMES)
    assert pred["predicted"].tolist() == again["predicted"].tolist()


def test_macro_f1_by_hand():
    gold = np.array([0, 0, 1, 2])
    pred = np.array([0, 1, 1, 1])
    # anger: tp 1, gold 2, pred 1 → 2/3; fear: tp 1, gold 1, pred 3 → 2/4; joy: tp 0, gold 1 → 0
    assert labels.macro_f1(gold, pred, 3) == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    # a label that is neither gold nor predicted is left out of the mean
    assert labels.macro_f1(np.array([0, 1]), np.array([0, 1]), 3) == pytest.approx(1.0)
    # weights: counting the first row twice is the same as repeating it
    w = np.array([[2.0, 1, 1, 1]])
    assert labels.macro_f1(gold, pred, 3, w)[0] == pytest.approx(
        labels.macro_f1(np.array([0, 0, 0, 1, 2]), np.array([0, 0, 1, 1, 1]), 3))


def test_scores_and_intervals():
    rows = []
    for i in range(40):   # 40 questions, two variants each; right on 30 questions
        for v in range(2):
            probs = [0.9, 0.05, 0.05] if i < 30 else [0.05, 0.9, 0.05]
            rows.append((f"x{i}", "c", "DE", f"p{i}-{v}", probs))
    gold = pd.DataFrame({"item_id": [f"x{i}" for i in range(40)], "country": "DE", "lang": "de", "option_index": 0})
    pred = labels.predictions(_dist(rows), gold, NAMES)
    table = labels.scores(pred, 3)
    row = table.iloc[0]
    assert (row["n_items"], row["n_rows"]) == (40, 80)
    assert row["accuracy"] == pytest.approx(0.75)
    # gold always anger: anger F1 = 2·30/(40+30); fear F1 = 0 (predicted 10 times, never gold)
    assert row["macro_f1"] == pytest.approx((60 / 70 + 0) / 2)
    assert row["accuracy_low"] < 0.75 < row["accuracy_high"]
    # the interval of a question-level bootstrap: sd of a mean of 40 Bernoulli(0.75) ≈ 0.068
    assert 0.2 < row["accuracy_high"] - row["accuracy_low"] < 0.35
    assert labels.scores(pred, 3).equals(table)   # fixed seed


def test_paired_difference():
    rows = []
    for i in range(50):
        rows.append((f"x{i}", "native", "DE", f"a{i}", [0.9, 0.05, 0.05] if i < 40 else [0.05, 0.9, 0.05]))
        rows.append((f"x{i}", "english", "DE", f"b{i}", [0.9, 0.05, 0.05] if i < 30 else [0.05, 0.9, 0.05]))
    gold = pd.DataFrame({"item_id": [f"x{i}" for i in range(50)], "country": "DE", "lang": "de", "option_index": 0})
    pred = labels.predictions(_dist(rows), gold, NAMES)
    diff = labels.differences(pred, "native", "english").iloc[0]
    assert diff["difference"] == pytest.approx(0.8 - 0.6)
    # paired: the 30 questions right in both never move the difference; only the 10 that differ do
    assert 0.08 < diff["difference_low"] < 0.2 < diff["difference_high"] < 0.32


def test_confusion_counts():
    dist = _dist([("q1", "c", "DE", "p1", [0.6, 0.3, 0.1]), ("q3", "c", "DE", "p3", [0.5, 0.4, 0.1])])
    table = labels.confusion(labels.predictions(dist, GOLD, NAMES))
    assert table[["gold_label", "predicted_label", "n"]].values.tolist() == [["anger", "anger", 1], ["fear", "anger", 1]]


def _invalid(rows):
    """rows: (item, condition, country, prompt_id, reason) → elicit's invalid table."""
    return pd.DataFrame([{"model": "m", "item_id": item, "item_lang": "en", "prompt_lang": "en", "condition": cond,
                          "persona": country, "country": country, "paraphrase": 0, "option_order": "listed",
                          "prompt_id": pid, "reason": reason} for item, cond, country, pid, reason in rows])


def test_an_unreadable_answer_counts_as_wrong_and_is_counted_by_kind():
    """Four questions asked: two read (one right), a refusal and an answer in another script. The
    field's accuracy is 1/4 (every row asked), not 1/2 (the readable ones); an abstention (not asked)
    is not scored at all."""
    dist = _dist([("q1", "c", "DE", "p1", [0.6, 0.3, 0.1]),     # anger, gold anger: right
                  ("q3", "c", "DE", "p3", [0.1, 0.1, 0.8])])    # joy, gold fear: wrong
    invalid = _invalid([("q2", "c", "DE", "p2", "refusal"), ("q1", "c", "none", "p4", "other_script"),
                        ("q3", "c", "none", "p5", "abstained")])
    pred = labels.predictions(dist, GOLD, NAMES, invalid).set_index("prompt_id")
    assert sorted(pred.index) == ["p1", "p2", "p3", "p4"]
    assert pred.loc["p2", "correct"] == 0 and pred.loc["p2", "predicted_label"] == labels.UNREADABLE_LABEL
    assert pred["unreadable"].to_dict() == {"p1": "", "p2": "refusal", "p3": "", "p4": "other_script"}
    table = labels.scores(pred.reset_index().assign(country="DE"), 3).iloc[0]
    assert (table["n_rows"], table["n_readable"], table["n_unreadable"]) == (4, 2, 2)
    assert (table["n_refusal"], table["n_other_script"], table["n_ambiguous"]) == (1, 1, 0)
    assert table["accuracy"] == pytest.approx(1 / 4) and table["accuracy_readable"] == pytest.approx(1 / 2)
    assert table["mean_p_gold"] == pytest.approx((0.6 + 0 + 0.1 + 0) / 4)


def test_macro_f1_with_unreadable_answers_equals_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(3)
    for _ in range(50):
        gold = rng.integers(0, 4, 30)
        pred = np.where(rng.random(30) < 0.3, labels.NO_PREDICTION, rng.integers(0, 4, 30))
        present = sorted(set(gold) | set(pred[pred != labels.NO_PREDICTION]))
        expected = f1_score(gold, pred, labels=present, average="macro", zero_division=0)
        assert labels.macro_f1(gold, pred, 4) == pytest.approx(expected)
    # by hand: gold [0, 0, 1], predictions [0, unreadable, 1]: anger 2·1/(2+1), fear 1 → (2/3 + 1)/2
    assert labels.macro_f1(np.array([0, 0, 1]), np.array([0, -1, 1]), 3) == pytest.approx((2 / 3 + 1) / 2)


def test_a_request_that_got_no_answer_is_counted_not_scored():
    dist = _dist([("q1", "c", "DE", "p1", [0.6, 0.3, 0.1])])
    invalid = _invalid([("q2", "c", "DE", "p2", "failed"), ("q3", "c", "DE", "p3", "refusal")])
    pred = labels.predictions(dist, GOLD, NAMES, invalid)
    assert sorted(pred["prompt_id"]) == ["p1", "p3"]            # the refusal is wrong, the failure not an answer
    table = labels.scores(pred, 3, failures=labels.failed(invalid, GOLD)).iloc[0]
    assert (table["n_rows"], table["n_failed"], table["n_unreadable"]) == (2, 1, 1)
    assert table["accuracy"] == pytest.approx(0.5)
    assert labels.failed(invalid.iloc[:0], GOLD).empty
