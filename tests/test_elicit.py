import json
import math

import pandas as pd
import pytest

from culturelens import elicit

LABELS = ["A", "B", "C"]


def lp_payload(pairs):
    top = [{"token": t, "logprob": math.log(p)} for t, p in pairs]
    return {"choices": [{"logprobs": {"content": [{"token": pairs[0][0], "logprob": top[0]["logprob"], "top_logprobs": top}]}}]}


def test_logprobs_merge_tokenizer_variants_and_keep_coverage():
    # "A" 0.4 + " A" 0.1 → A 0.5; "B." 0.2; "(C" 0.1; "Hello" 0.2 is not an option
    probs, coverage, n_valid, n_invalid, _ = elicit.from_logprobs(
        lp_payload([("A", 0.4), ("Hello", 0.2), ("B.", 0.2), (" A", 0.1), ("(C", 0.1)]), LABELS)
    assert coverage == pytest.approx(0.8)
    assert probs == pytest.approx([0.5 / 0.8, 0.2 / 0.8, 0.1 / 0.8])
    assert (n_valid, n_invalid) == (1, 0)


def test_logprobs_missing_or_no_label():
    assert elicit.from_logprobs({"choices": [{"message": {"content": "A"}}]}, LABELS)[0] is None
    assert elicit.from_logprobs(lp_payload([("Hello", 0.9)]), LABELS)[0] is None


def test_samples_count_refusals_and_unparseable():
    payload = {"choices": [{"message": {"content": c}} for c in
                           ["A", "A.", "B) because", "I cannot answer that.", "Absolutely", "As an AI, I have no view."]]}
    probs, coverage, n_valid, n_invalid, note = elicit.from_samples(payload, LABELS)
    assert probs == pytest.approx([2 / 3, 1 / 3, 0])
    assert (n_valid, n_invalid) == (3, 3)
    assert coverage == pytest.approx(3 / 6)
    assert note == "2 refusals, 1 unparseable"


def test_verbalized_renormalises_and_rejects_bad_values():
    ok = {"choices": [{"message": {"content": 'Sure: {"A": 0.5, "B": 0.3, "C": 0.4}'}}]}
    probs, *_rest, note = elicit.from_verbalized(ok, LABELS)
    assert probs == pytest.approx([0.5 / 1.2, 0.3 / 1.2, 0.4 / 1.2]) and "renormalised" in note
    bad = {"choices": [{"message": {"content": '{"A": -1, "B": 1}'}}]}
    assert elicit.from_verbalized(bad, LABELS)[0] is None


def test_distributions_maps_labels_back_to_options_and_reports_failures():
    prompts = pd.DataFrame([
        {**{k: "x" for k in elicit.META}, "prompt_id": "p1", "condition": "c", "country": "US",
         "labels": ["A", "B", "C"], "shown_options": [2, 1, 0]},
        {**{k: "x" for k in elicit.META}, "prompt_id": "p2", "condition": "c", "country": "US",
         "labels": ["A", "B", "C"], "shown_options": [0, 1, 2]},
    ])
    responses = pd.DataFrame([
        {"prompt_id": "p1", "condition": "c", "country": "US", "status": "ok", "error": None,
         "payload": json.dumps(lp_payload([("A", 0.7), ("B", 0.2), ("C", 0.1)]))},
        {"prompt_id": "p2", "condition": "c", "country": "US", "status": "failed", "error": "HTTP 500", "payload": "null"},
    ])
    dist, invalid = elicit.distributions(prompts, responses, "logprobs")
    got = dist.set_index("option_index")["prob"].to_dict()
    assert got == pytest.approx({2: 0.7, 1: 0.2, 0: 0.1})   # label A showed option 2
    assert invalid.iloc[0]["reason"] == "failed" and invalid.iloc[0]["detail"] == "HTTP 500"


def test_words_starting_with_a_label_are_not_answers():
    labels = list("ABCDEFGHJK")
    assert elicit.parse_answer("A lot depends on it", labels) is None
    assert elicit.parse_answer("I think B", labels) is None
    assert elicit.parse_answer("B.", labels) == "B" and elicit.parse_answer("Answer: K", labels) == "K"


def test_odd_payload_shapes_are_reported_not_fatal():
    prompts = pd.DataFrame([{**{k: "x" for k in elicit.META}, "prompt_id": "p", "condition": "c", "country": "US",
                             "labels": ["A", "B"], "shown_options": [0, 1]}])
    bad = {"choices": [{"logprobs": {"content": [{"token": "A", "logprob": None,
                                                   "top_logprobs": [{"token": "A", "logprob": None}]}]}}]}
    responses = pd.DataFrame([{"prompt_id": "p", "condition": "c", "country": "US", "status": "ok", "error": None,
                               "payload": json.dumps(bad)}])
    dist, invalid = elicit.distributions(prompts, responses, "logprobs")
    assert dist.empty and invalid.iloc[0]["reason"] == "unexpected_shape"
    assert "unexpected response shape" in invalid.iloc[0]["detail"]


@pytest.mark.parametrize("text,kind", [("", "empty"), ("   ", "empty"), ("As an AI, I don't have opinions.", "refusal"),
                                       ("E", "off_scale"), ("Answer: F.", "off_scale"), ("はい、賛成です", "other_script"),
                                       ("Я согласен", "other_script"), ("Probably the second one", "no_label")])
def test_unusable_answers_are_classified(text, kind):
    assert elicit.answer_kind(text, ["A", "B", "C", "D"]) == kind


def test_unusable_answers_are_counted_by_kind_and_never_crash():
    labels = ["A", "B"]
    prompts = pd.DataFrame([{**{k: "x" for k in elicit.META}, "prompt_id": f"p{i}", "condition": "c", "country": "US",
                             "labels": labels, "shown_options": [0, 1]} for i in range(5)])

    def sample(*texts):
        return json.dumps({"choices": [{"message": {"content": t}} for t in texts]})

    payloads = [sample("", ""), sample("I'm sorry, I cannot answer that."), sample("C", "C", "I can't"),
                sample("はい"), json.dumps({"choices": "not a list"})]
    responses = pd.DataFrame([{"prompt_id": f"p{i}", "condition": "c", "country": "US", "status": "ok", "error": None,
                               "payload": p} for i, p in enumerate(payloads)])
    dist, invalid = elicit.distributions(prompts, responses, "sample")
    assert dist.empty
    assert list(invalid.sort_values("prompt_id")["reason"]) == ["empty", "refusal", "off_scale", "other_script",
                                                                "unexpected_shape"]
