import json
import math
import re

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


def test_two_items_rendering_the_same_prompt_share_its_answer():
    """Two questions can be translated identically (CuLEmo's German file): the same prompt, asked
    once; each item's row gets the answer."""
    row = {**{k: "x" for k in elicit.META}, "prompt_id": "p1", "condition": "c", "country": "DE",
           "labels": ["A", "B"], "shown_options": [0, 1]}
    prompts = pd.DataFrame([{**row, "item_id": "q1"}, {**row, "item_id": "q2"}])
    answer = {"prompt_id": "p1", "condition": "c", "country": "DE", "status": "ok", "error": None,
              "payload": json.dumps(lp_payload([("A", 0.9), ("B", 0.1)]))}
    dist, invalid = elicit.distributions(prompts, pd.DataFrame([answer, answer]), "logprobs")
    assert invalid.empty
    assert dist.groupby("item_id")["prob"].apply(list).to_dict() == {"q1": pytest.approx([0.9, 0.1]),
                                                                     "q2": pytest.approx([0.9, 0.1])}


def test_responses_row_by_row_keep_each_items_own_answer():
    """Answered in process, one response per prompt row (an imported file answers each dataset row):
    two items with the same prompt text keep their own answers."""
    row = {**{k: "x" for k in elicit.META}, "prompt_id": "p1", "condition": "c", "country": "DE",
           "labels": ["A", "B"], "shown_options": [0, 1]}
    prompts = pd.DataFrame([{**row, "item_id": "q1"}, {**row, "item_id": "q2"}])
    answers = [{"prompt_id": "p1", "condition": "c", "country": "DE", "status": "ok", "error": None,
                "payload": json.dumps(lp_payload(pairs))} for pairs in ([("A", 0.9), ("B", 0.1)], [("B", 1.0)])]
    dist, _ = elicit.distributions(prompts, pd.DataFrame(answers), "logprobs")
    assert dist.groupby("item_id")["prob"].apply(list).to_dict() == {"q1": pytest.approx([0.9, 0.1]),
                                                                     "q2": pytest.approx([0.0, 1.0])}


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


# --- answers by option text (opt-in: option_texts / names) -------------------------------------------------------

SIX = ["A", "B", "C", "D", "E", "F"]
GERMAN = [("Wut", "anger"), ("Furcht", "fear"), ("Traurigkeit", "sadness"), ("Freude", "joy"), ("Schuld", "guilt"),
          ("Neutral", "neutral")]
HINDI = [("गुस्सा", "anger"), ("डर", "fear"), ("उदासी", "sadness"), ("खुशी", "joy"), ("अपराधबोध", "guilt"),
         ("तटस्थ", "neutral")]
AMHARIC = [("ቁጣ", "anger"), ("ፍርሃት", "fear"), ("ሀዘን", "sadness"), ("ደስታ", "joy"), ("ጥፋተኝነት", "guilt"),
           ("ገለልተኛ", "neutral")]
ARABIC = [("غضب", "anger"), ("خوف", "fear"), ("حزن", "sadness"), ("فرح", "joy"), ("ذنب", "guilt"), ("محايد", "neutral")]


@pytest.mark.parametrize("text,label", [("Freude", "D"), ("joy", "D"), ("Wut", "A")])
def test_option_named_by_its_exact_word(text, label):
    assert elicit.parse_answer(text, SIX, GERMAN) == label
    assert elicit.parse_answer(text, SIX) is None          # without names: letters only, as before


def test_the_whole_answer_rule_comes_before_names_inside_it():
    nested = [("very angry",), ("angry",)]
    assert elicit.parse_answer("Very angry!", ["A", "B"], nested) == "A"          # rule 2: the whole answer
    assert elicit.parse_answer("I am very angry", ["A", "B"], nested) is None      # rule 3: both names occur
    assert elicit.answer_kind("I am very angry", ["A", "B"], nested) == "ambiguous"


@pytest.mark.parametrize("text,label", [("FREUDE", "D"), ("**Freude**.", "D"), ("`joy`!", "D"), ("  «Furcht»\n", "B"),
                                        ('"Sadness."', "C"), ("ǹeutral", None)])
def test_option_word_ignores_case_punctuation_and_markdown(text, label):
    assert elicit.parse_answer(text, SIX, GERMAN) == label


@pytest.mark.parametrize("text,label", [("I would feel joy.", "D"), ("Answer: fear", "B"),
                                        ("Mostly **guilt**, I think.", "E"),
                                        ("Ich würde Freude empfinden.", "D"), ("Ich hätte große Wut!", "A"),
                                        ("Ich wäre wohl eher neutral", "F")])
def test_option_word_inside_a_sentence_english_and_german(text, label):
    assert elicit.parse_answer(text, SIX, GERMAN) == label
    assert elicit.parse_answer(text.replace("joy", "joyful"), SIX, GERMAN) == (None if "joy" in text else label)


@pytest.mark.parametrize("text,names,label", [("मुझे गुस्सा आएगा।", HINDI, "A"), ("मुझे बहुत खुशी होगी", HINDI, "D"),
                                              ("ቁጣ ይሰማኛል።", AMHARIC, "A"), ("በጣም ደስታ ይሰማኛል", AMHARIC, "D"),
                                              ("سأشعر بـ غضب شديد.", ARABIC, "A")])
def test_names_in_scripts_with_combining_marks_match_inside_a_sentence(text, names, label):
    if names is HINDI:   # what regex \b would do: the final vowel sign of "गुस्सा" (U+093E, category Mc) is not \w
        assert re.search(r"\bगुस्सा\b", text) is None and re.search(r"\bखुशी\b", text) is None
    assert elicit.parse_answer(text, SIX, names) == label
    assert elicit.answer_kind(text, SIX) == "other_script"     # what it was before: unreadable


def test_english_name_accepted_in_a_german_prompt():
    assert elicit.parse_answer("I would feel sadness", SIX, GERMAN) == "C"
    assert elicit.parse_answer("Ich fühle: sadness", SIX, GERMAN) == "C"
    assert elicit.parse_answer("anger", SIX, HINDI) == "A"


@pytest.mark.parametrize("text", ["Wut und Freude", "joy or fear", "Nicht Wut, sondern Traurigkeit.",
                                  "मुझे डर और गुस्सा"])
def test_two_options_named_is_ambiguous_and_not_counted(text):
    names = HINDI if "डर" in text else GERMAN
    assert elicit.parse_answer(text, SIX, names) is None
    assert elicit.answer_kind(text, SIX, names) == "ambiguous"
    assert elicit.answer_kind(text, SIX) != "ambiguous" and "ambiguous" in elicit.UNPARSEABLE_KINDS
    payload = {"choices": [{"message": {"content": c}} for c in [text, names[3][0]]]}
    assert elicit.why_unparseable({"choices": payload["choices"][:1]}, SIX, "sample", names) == "ambiguous"
    probs, coverage, n_valid, n_invalid, note = elicit.from_samples(payload, SIX, names)
    assert (n_valid, n_invalid, note) == (1, 1, "0 refusals, 0 unparseable, 1 ambiguous")


def test_the_letter_still_wins_over_a_word():
    assert elicit.parse_answer("B) Freude", SIX, GERMAN) == "B"       # B shows Furcht here: the letter counts
    assert elicit.parse_answer("Answer: C. (joy)", SIX, GERMAN) == "C"
    assert elicit.parse_answer("A", SIX, GERMAN) == "A"


def test_known_limits_refusals_clitics_and_stems_are_not_matched():
    assert elicit.parse_answer("As an AI, I cannot feel anger.", SIX, GERMAN) is None
    assert elicit.answer_kind("As an AI, I cannot feel anger.", SIX, GERMAN) == "refusal"
    assert elicit.parse_answer("سأشعر بالغضب", SIX, ARABIC) is None     # clitic "بـ" glued to the word
    assert elicit.parse_answer("I would be angry", SIX, GERMAN) is None
    assert elicit.parse_answer("I would not feel fear", SIX, GERMAN) == "B"  # no negation handling


def _sample(*texts):
    return json.dumps({"choices": [{"message": {"content": t}} for t in texts]})


DRAWS = {"p0": ["A", "Freude", "joy.", "Ich würde Freude empfinden", "B) Freude", "Wut und Furcht",
                "I cannot answer that."],
         "p1": ["**Freude**", "freude!"], "p2": ["Wut oder Freude?"], "p3": ["C", "Answer: fear", "ቁጣ"],
         "p4": ["**Freude**", "freude!"]}
SHOWN = {"p0": [2, 0, 1], "p1": [0, 1, 2], "p2": [0, 1, 2], "p3": [1, 2, 0], "p4": [0, 1, 2]}
GERMAN3 = [("Wut", "anger"), ("Freude", "joy"), ("Furcht", "fear")]           # per option INDEX
AMHARIC3 = [("ቁጣ", "anger"), ("ደስታ", "joy"), ("ፍርሃት", "fear")]
OPTION_TEXTS = [GERMAN3, GERMAN3, GERMAN3, AMHARIC3, AMHARIC3]                 # parallel to the prompt rows


def _word_fixture():
    prompts = pd.DataFrame([{**{k: "x" for k in elicit.META}, "prompt_id": p, "condition": "c", "country": "DE",
                             "labels": ["A", "B", "C"], "shown_options": s} for p, s in SHOWN.items()])
    responses = pd.DataFrame([{"prompt_id": p, "condition": "c", "country": "DE", "status": "ok", "error": None,
                               "payload": _sample(*d)} for p, d in reversed(list(DRAWS.items()))])
    return prompts, responses


def _probs(dist):
    return {(p, i): x for p, i, x in dist[["prompt_id", "option_index", "prob"]].itertuples(index=False)}


def test_without_option_texts_the_results_are_unchanged():
    prompts, responses = _word_fixture()
    dist, invalid = elicit.distributions(prompts, responses, "sample", option_texts=None)
    default = elicit.distributions(prompts, responses, "sample")
    pd.testing.assert_frame_equal(dist, default[0])
    pd.testing.assert_frame_equal(invalid, default[1])
    # what the code before option_texts returned for this fixture: words are unparseable
    assert _probs(dist) == pytest.approx({("p0", 2): 0.5, ("p0", 0): 0.5, ("p0", 1): 0.0,
                                          ("p3", 1): 0.0, ("p3", 2): 0.0, ("p3", 0): 1.0})
    per_prompt = dist.drop_duplicates("prompt_id").set_index("prompt_id")
    assert per_prompt["coverage"].to_dict() == pytest.approx({"p0": 2 / 7, "p3": 1 / 3})
    assert per_prompt["note"].to_dict() == {"p0": "1 refusals, 4 unparseable", "p3": "0 refusals, 2 unparseable"}
    assert per_prompt[["n_valid", "n_invalid"]].to_dict("list") == {"n_valid": [2, 1], "n_invalid": [5, 2]}
    assert invalid[["prompt_id", "reason"]].values.tolist() == [["p1", "no_label"], ["p2", "no_label"],
                                                                ["p4", "no_label"]]
    assert set(invalid["detail"]) == {"no draw named an option (0 refusals, 2 unparseable)",
                                      "no draw named an option (0 refusals, 1 unparseable)"}


def test_distribution_from_draws_mixing_letters_and_words():
    prompts, responses = _word_fixture()
    dist, invalid = elicit.distributions(prompts, responses, "sample", option_texts=OPTION_TEXTS)
    # p0 shows Furcht, Wut, Freude as A, B, C: A, 3 × Freude, "B) Freude" (letter B = Wut), 1 ambiguous, 1 refusal
    # p3 (Amharic names) shows joy, fear, anger as A, B, C: "C" = anger, "Answer: fear", "ቁጣ" = anger
    assert _probs(dist) == pytest.approx({("p0", 2): 0.2, ("p0", 0): 0.2, ("p0", 1): 0.6,
                                          ("p1", 0): 0.0, ("p1", 1): 1.0, ("p1", 2): 0.0,
                                          ("p3", 1): 0.0, ("p3", 2): 1 / 3, ("p3", 0): 2 / 3})
    per_prompt = dist.drop_duplicates("prompt_id").set_index("prompt_id")
    assert per_prompt.loc["p0", "note"] == "1 refusals, 0 unparseable, 1 ambiguous"
    assert per_prompt.loc["p0", "coverage"] == pytest.approx(5 / 7)
    assert per_prompt[["n_valid", "n_invalid"]].to_dict("list") == {"n_valid": [5, 2, 3], "n_invalid": [2, 0, 0]}
    # p4 has p1's payload but Amharic names, so it is parsed apart (the cache key includes the names)
    assert invalid[["prompt_id", "reason"]].values.tolist() == [["p2", "ambiguous"], ["p4", "no_label"]]


def test_option_texts_leave_logprobs_and_verbalized_alone():
    prompts, _ = _word_fixture()
    payloads = {"logprobs": json.dumps(lp_payload([("Freude", 0.6), ("A", 0.3), ("B", 0.1)])),
                "verbalized": json.dumps({"choices": [{"message": {"content": 'Freude {"A": 0.2, "B": 0.8}'}}]})}
    for method, payload in payloads.items():
        responses = pd.DataFrame([{"prompt_id": p, "condition": "c", "country": "DE", "status": "ok", "error": None,
                                   "payload": payload} for p in SHOWN])
        with_texts = elicit.distributions(prompts, responses, method, option_texts=OPTION_TEXTS)
        without = elicit.distributions(prompts, responses, method)
        for a, b in zip(with_texts, without):
            pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="option_texts"):
        elicit.distributions(prompts, responses, "sample", option_texts=OPTION_TEXTS[:2])
