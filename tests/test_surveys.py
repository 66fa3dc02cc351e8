"""Survey importers: each quirk on a tiny hand-made file, then the shipped data."""

import hashlib
import json
import re
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from culturelens import surveys
from culturelens.errors import InputError
from culturelens.surveys import goqa
from culturelens.surveys.common import is_junk, is_non_substantive, read_table

ROOT = Path(__file__).resolve().parents[1]
RES = ROOT / "resources/surveys"
GOQA_PATHS = {"csv": str(RES / "goqa/global_opinions_sample.csv")}
VSM_PATHS = {
    "items_csv": str(RES / "vsm2013/vsm2013_questions_en.csv"),
    "hofstede": str(RES / "hofstede/6-dimensions-for-website-2015-08-16.csv"),
    "translations_dir": str(RES / "vsm2013/translations"),
}
WVS_PATHS = {"targets": str(RES / "wvs_stance/ground_truth_every_country.csv"),
             "stances": str(RES / "wvs_stance/stance_labels.json")}


# ------------------------------------------------------------------------------ helpers
def goqa_csv(tmp_path, rows, name="goqa.csv"):
    """rows: (question, {country: shares}, options, source) → a CSV in the official layout."""
    records = [{"question": q, "selections": f"defaultdict(<class 'list'>, {sel!r})", "options": repr(opts),
                "source": src} for q, sel, opts, src in rows]
    path = tmp_path / name
    pd.DataFrame(records, columns=["question", "selections", "options", "source"]).to_csv(path, index=False)
    return {"csv": str(path)}


def one_item(tmp_path, selections, options, question="Q?", source="GAS"):
    return surveys.load("goqa", "t", goqa_csv(tmp_path, [(question, selections, options, source)]))


def shares_of(tables, country):
    t = tables.targets[tables.targets["country"] == country].sort_values("option_index")
    return list(t["share"])


# ------------------------------------------------------------------------------ goqa quirks
def test_goqa_defaultdict_text_and_stable_id(tmp_path):
    t = one_item(tmp_path, {"Japan": [0.7, 0.3]}, ["Yes", "No"], question="Is it so?")
    item = t.items.iloc[0]
    assert item["item_id"] == "goqa-" + hashlib.sha1('["Is it so?", ["Yes", "No"]]'.encode()).hexdigest()[:12]
    assert (item["lang"], item["translation"], item["scale"], item["source"]) == ("en", "original", "nominal", "GAS")
    assert list(item["options"]) == ["Yes", "No"]
    assert shares_of(t, "JP") == [0.7, 0.3]
    assert t.targets["n"].isna().all() and set(t.targets["survey_name"]) == {"Japan"}
    assert t.scores.empty


def test_goqa_bare_dict_accepted_and_eval_never_used(tmp_path):
    path = tmp_path / "g.csv"
    pd.DataFrame([{"question": "Q", "selections": "{'Japan': [1.0, 0.0]}", "options": "['Yes', 'No']",
                   "source": "WVS"}]).to_csv(path, index=False)
    assert len(surveys.load("goqa", "t", {"csv": str(path)}).targets) == 2
    pd.DataFrame([{"question": "Q", "selections": "__import__('os').system('echo hi')",
                   "options": "['Yes', 'No']", "source": "WVS"}]).to_csv(path, index=False)
    with pytest.raises(InputError, match="selections"):
        surveys.load("goqa", "t", {"csv": str(path)})


def test_goqa_numeric_options_become_strings(tmp_path):
    opts = ["Not important at all", 1.0, 2.0, 3.0, "Very important"]
    t = one_item(tmp_path, {"Peru": [0.1, 0.2, 0.3, 0.2, 0.2]}, opts)
    item = t.items.iloc[0]
    assert list(item["options"]) == ["Not important at all", "1", "2", "3", "Very important"]
    assert item["scale"] == "ordinal"
    assert shares_of(t, "PE") == [0.1, 0.2, 0.3, 0.2, 0.2]


def test_goqa_unordered_ladder_is_reordered_with_shares(tmp_path):
    opts = ["Somewhat important", "Not too important", "Very important", "Not important at all", "DK/Refused"]
    t = one_item(tmp_path, {"Kenya": [0.3, 0.2, 0.4, 0.05, 0.05]}, opts)
    item = t.items.iloc[0]
    assert list(item["options"]) == ["Very important", "Somewhat important", "Not too important",
                                     "Not important at all", "DK/Refused"]
    assert list(item["non_substantive"]) == [False, False, False, False, True]
    assert item["scale"] == "ordinal"
    assert shares_of(t, "KE") == [0.4, 0.3, 0.2, 0.05, 0.05]
    assert any("reordered" in line for line in t.report)


def test_goqa_middle_category_listed_last_is_moved(tmp_path):
    t = one_item(tmp_path, {"Chile": [0.5, 0.2, 0.3]}, ["Increased", "Decreased", "No change"])
    assert list(t.items.iloc[0]["options"]) == ["Increased", "No change", "Decreased"]
    assert shares_of(t, "CL") == [0.5, 0.3, 0.2]


@pytest.mark.parametrize("options,expected,scale", [
    # already in order (either direction): unchanged
    (["Strongly agree", "Agree", "Disagree", "Strongly disagree"], [0, 1, 2, 3], "ordinal"),
    (["Very unfavorable", "Somewhat unfavorable", "Somewhat favorable", "Very favorable"], [0, 1, 2, 3], "ordinal"),
    (["Not a member", "Inactive member", "Active member"], [0, 1, 2], "ordinal"),
    # scrambled: sorted, survey's majority direction kept
    (["Agree", "Strongly agree", "Disagree", "Strongly disagree"], [1, 0, 2, 3], "ordinal"),
    (["Too much", "Not enough", "Right amount"], [0, 2, 1], "ordinal"),
    (["Very likely", "Not at all likely", "Somewhat likely", "Not too likely"], [0, 2, 3, 1], "ordinal"),
    (["Very good", "Somewhat bad", "Somewhat good", "Very bad"], [0, 2, 1, 3], "ordinal"),
    # numeric scale with labelled end points; non-substantive moved last
    (["Don't know (VOL)", "Not essential", "2", "3", "4", "Essential"], [1, 2, 3, 4, 5, 0], "ordinal"),
    # a substantive volunteered option off the scale makes the item nominal (never a scale end)
    (["It is against democracy (spontaneous)", "Not essential", "2", "3", "4", "Essential"],
     [0, 1, 2, 3, 4, 5], "nominal"),
    (["Neither (VOL)", "2", "3", "4", "Essential"], [0, 1, 2, 3, 4], "nominal"),
    (["Strongly agree", "Agree", "Disagree", "Strongly disagree", "Neither (VOL)", "DK/Refused"],
     [0, 1, 2, 3, 4, 5], "nominal"),
    (["Increased", "Decreased", "Depends on the situation (VOL)"], [0, 1, 2], "nominal"),
    # a volunteered option that IS on the ladder keeps the item ordinal, in its place
    (["Very good influence", "Good influence", "Bad influence", "Very bad influence", "No influence (DO NOT READ)",
      "DK/Refused"], [0, 1, 4, 2, 3, 5], "ordinal"),
    (["Increased", "Decreased", "No change (VOL)", "Don't know (VOL)"], [0, 2, 1, 3], "ordinal"),
    (["1 None", "3", "2", "4", "5 All"], [0, 2, 1, 3, 4], "ordinal"),
    # numbers that fall along the list: the first listed end point is the high end, and the
    # survey's direction (falling) is kept
    (["Satisfied", "9", "8", "7", "6", "5", "4", "3", "2", "Dissatisfied"], list(range(10)), "ordinal"),
    (["Completely agree", "4", "3", "2", "Completely disagree", "Don't know"], [0, 1, 2, 3, 4, 5], "ordinal"),
    # end points with numbers in no direction: not a scale
    (["Low", "3", "2", "4", "High"], [0, 1, 2, 3, 4], "nominal"),
    # not recognised / too few substantive options: nominal, survey order
    (["China", "United States", "Japan"], [0, 1, 2], "nominal"),
    (["Approve", "Disapprove", "DK/Refused"], [0, 1, 2], "nominal"),
    (["Always", "Usually", "Never", "Not allowed to vote"], [0, 1, 2, 3], "nominal"),
])
def test_scale_order(options, expected, scale):
    flags = [is_non_substantive(o) for o in options]
    assert goqa.scale_order(options, flags) == (expected, scale)


def test_every_numeric_scale_of_the_goqa_sample_keeps_its_end_points_at_their_ends():
    """Each item of the shipped sample with a numeric scale: after scale ordering, the first and last
    substantive options are the labelled end points (or the extreme numbers) on the side their
    numbers put them, whichever way the numbers run."""
    import ast

    table = pd.read_csv(GOQA_PATHS["csv"], dtype=str, keep_default_na=False)
    checked = 0
    for cell in table["options"]:
        options = [str(int(o)) if isinstance(o, float) else str(o) for o in ast.literal_eval(cell)]
        flags = [is_non_substantive(o) for o in options]
        subst = [o for o, f in zip(options, flags) if not f]
        numbers = [int(re.match(r"\d+", o).group()) if re.match(r"\d+", o) else None for o in subst]
        known = [n for n in numbers if n is not None]
        if len(known) < 3:
            continue
        order, scale = goqa.scale_order(options, flags)
        if scale != "ordinal":
            continue
        checked += 1
        ordered = [options[i] for i in order if not flags[i]]
        ranked = [int(re.match(r"\d+", o).group()) for o in ordered if re.match(r"\d+", o)]
        rising = ranked == sorted(ranked)
        assert rising or ranked == sorted(ranked, reverse=True), ordered
        # an unnumbered end point sits next to the number it continues
        listed_rising = known == sorted(known)
        for end, pos in ((subst[0], 0), (subst[-1], -1)):
            if re.match(r"\d+", end):
                continue
            assert ordered[0 if (pos == 0) == (listed_rising == rising) else -1] == end, (subst, ordered)
    assert checked >= 10


def test_a_falling_numeric_scale_is_not_turned_upside_down(tmp_path):
    options = ["Satisfied", "9", "8", "7", "6", "5", "4", "3", "2", "Dissatisfied"]
    shares = [0.3, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03]
    t = one_item(tmp_path, {"Chile": shares}, options)
    assert list(t.items.iloc[0]["options"]) == options
    assert shares_of(t, "CL") == shares


def test_ladder_lexicon_is_consistent():
    for name, tiers in goqa.LADDERS.items():
        spellings = [s for tier in tiers for s in tier]
        assert len(spellings) == len(set(spellings)), name
        assert all(s == " ".join(s.lower().split()) for s in spellings), name


def test_goqa_zero_sum_dropped_and_over_one_renormalised(tmp_path):
    t = one_item(tmp_path, {"Japan": [0.0, 0.0], "France": [0.5, 0.52], "Spain": [0.6, 0.4]}, ["Yes", "No"])
    assert set(t.targets["country"]) == {"FR", "ES"}
    assert shares_of(t, "FR") == pytest.approx([0.5 / 1.02, 0.52 / 1.02])
    assert any("dropped 1" in line and "summed to 0" in line for line in t.report)
    assert any("renormalised 1" in line and "more than 1" in line for line in t.report)


def test_goqa_length_mismatch_names_the_row(tmp_path):
    paths = goqa_csv(tmp_path, [("Q1", {"Japan": [0.5, 0.5]}, ["Yes", "No"], "GAS"),
                                ("Q2", {"Japan": [0.5, 0.5]}, ["Yes", "No", "DK"], "GAS")])
    with pytest.raises(InputError) as err:
        surveys.load("goqa", "t", paths)
    assert "row 2" in err.value.field and "Japan" in err.value.field
    assert err.value.file == paths["csv"]


@pytest.mark.parametrize("bad", [[-0.1, 1.1], ["x", 1.0], [float("nan"), 1.0]])
def test_goqa_bad_share_is_input_error(tmp_path, bad):
    with pytest.raises(InputError):
        one_item(tmp_path, {"Japan": bad}, ["Yes", "No"])


@pytest.mark.parametrize("label", [
    "Don't know", "Don\u2019t know", "No answer", "Refused", "DK/Refused", "No answer/refused",
    "Missing; Not available", "Missing; Unknown", "Other missing; Multiple answers Mail (EVS)",
    "Not applicable", "Never heard of", "Don't know (VOL)", "Refused (VOL)", "DK/Refused (DO NOT READ)",
    "Don't know/ Unsure", "Can't choose", "No opinion", "Haven't heard enough to say (VOL)",
])
def test_non_substantive_spellings_flagged(tmp_path, label):
    assert is_non_substantive(label)
    t = one_item(tmp_path, {"Japan": [0.5, 0.4, 0.1]}, ["Yes", "No", label])
    assert list(t.items.iloc[0]["non_substantive"]) == [False, False, True]


@pytest.mark.parametrize("label", ["Yes", "Agree", "Both", "Neither", "None", "Not important at all",
                                   "Both (Values/Policies)", "I do not know examples concerned",
                                   "Neither (VOL)", "Both (DO NOT READ)", "No change (VOL)", "Other (VOL)",
                                   "It is against democracy (spontaneous)", "No, have not heard of it"])
def test_substantive_labels_not_flagged(label):
    assert not is_non_substantive(label)


# Every option label of the shipped sample that carries a volunteered marker, with its expected
# class (True = non-substantive). A new such label in the sample fails
# test_volunteered_labels_of_the_sample_are_all_listed until it is classified here.
VOLUNTEERED_SAMPLE_LABELS = {
    "Both (DO NOT READ)": False,
    "Both (VOL)": False,
    "Both equally (VOL)": False,
    "Climate change does not exist (Vol.)": False,
    "Depends on the situation (VOL)": False,
    "Equal threats (VOL)": False,
    "It is against democracy (spontaneous)": False,
    "Neither (DO NOT READ)": False,
    "Neither (VOL)": False,
    "Neither/both (DO NOT READ)": False,
    "Neither/both (VOL)": False,
    "News organizations should not do this (VOL)": False,
    "No influence (DO NOT READ)": False,
    "None / There is no leading economic power (VOL)": False,
    "None of these (VOL)": False,
    "None/There is no leading economic power (DO NOT READ)": False,
    "Other (DO NOT READ)": False,
    "Other (VOL)": False,
}


def sample_volunteered_labels() -> list[str]:
    import ast
    import re

    raw = pd.read_csv(GOQA_PATHS["csv"], dtype=str, keep_default_na=False)
    labels = {str(x).strip() for text in raw["options"] for x in ast.literal_eval(text)}
    marker = re.compile(r"\bvol\b|vol\.|do not read|spontaneous", re.IGNORECASE)
    return sorted(label for label in labels if marker.search(label))


def test_volunteered_labels_of_the_sample_are_all_listed():
    assert sample_volunteered_labels() == sorted(VOLUNTEERED_SAMPLE_LABELS)


@pytest.mark.parametrize("label", sample_volunteered_labels())
def test_volunteered_label_of_the_sample_classified(label):
    assert label in VOLUNTEERED_SAMPLE_LABELS, f"new volunteered label {label!r}: classify it in the test table"
    assert is_non_substantive(label) is VOLUNTEERED_SAMPLE_LABELS[label]


def test_shipped_goqa_volunteered_substantive_options_make_items_nominal(goqa_tables):
    items = goqa_tables.items
    for options, flags, scale in zip(items["options"], items["non_substantive"], items["scale"]):
        vol_subst = [o for o, f in zip(options, flags) if not f and "(VOL)" in o and "No change" not in o]
        if vol_subst:
            assert scale == "nominal", options
    by_first = {tuple(o): s for o, s in zip(items["options"], items["scale"])}
    influence = [o for o in by_first if "No influence (DO NOT READ)" in o]
    assert influence and by_first[influence[0]] == "ordinal"
    assert list(influence[0])[:5] == ["Very good influence", "Good influence", "No influence (DO NOT READ)",
                                      "Bad influence", "Very bad influence"]


def test_junk_option_removed_and_reported(tmp_path):
    assert is_junk("Total                  N=") and not is_junk("Totally agree")
    t = one_item(tmp_path, {"Kenya": [0.16, 0.33, 0.01, 0.5]}, ["Good thing", "Bad thing", "DK/Refused", "Total N="])
    # 'Total N=' is no answer: removed even when non-substantive options are kept; 0.5 of mass renormalised
    assert list(t.items.iloc[0]["options"]) == ["Good thing", "Bad thing", "DK/Refused"]
    assert list(t.items.iloc[0]["non_substantive"]) == [False, False, True]
    assert shares_of(t, "KE") == pytest.approx([0.32, 0.66, 0.02])
    assert any("junk" in line for line in t.report)


def test_goqa_non_national_left_out_and_counted(tmp_path):
    t = one_item(tmp_path, {"Brazil (Non-national sample)": [0.2, 0.8], "Brazil": [0.4, 0.6],
                            "India (Non-national sample)": [0.5, 0.5],
                            "India (Current national sample)": [0.3, 0.7]}, ["Yes", "No"])
    assert set(t.targets["country"]) == {"BR", "IN"}
    assert shares_of(t, "BR") == [0.4, 0.6] and shares_of(t, "IN") == [0.3, 0.7]
    assert any("left out 2 non-national samples" in line for line in t.report)


def test_goqa_northern_ireland_kept_apart(tmp_path):
    t = one_item(tmp_path, {"Great Britain": [0.4, 0.6], "Northern Ireland": [0.7, 0.3]}, ["Yes", "No"])
    assert shares_of(t, "GB") == [0.4, 0.6] and shares_of(t, "GB-NIR") == [0.7, 0.3]


def test_goqa_two_names_one_code_keeps_first(tmp_path):
    t = one_item(tmp_path, {"Britain": [0.4, 0.6], "Great Britain": [0.9, 0.1]}, ["Yes", "No"])
    assert shares_of(t, "GB") == [0.4, 0.6]
    assert set(t.targets["survey_name"]) == {"Britain"}
    assert any("kept the first" in line and "Great Britain" in line for line in t.report)


def test_goqa_unknown_country_strict_and_missing_column(tmp_path):
    with pytest.raises(InputError) as err:
        surveys.load("goqa", "t", goqa_csv(tmp_path, [("Q?", {"Atlantis": [0.5, 0.5]}, ["Yes", "No"], "GAS")]),
                     strict_countries=True)
    assert err.value.field == "country" and "Atlantis" in str(err.value) and "goqa.csv" in err.value.file
    path = tmp_path / "cols.csv"
    pd.DataFrame([{"question": "Q", "options": "['a']"}]).to_csv(path, index=False)
    with pytest.raises(InputError, match="columns"):
        surveys.load("goqa", "t", {"csv": str(path)})


def test_goqa_repeated_question(tmp_path):
    paths = goqa_csv(tmp_path, [("Q", {"Japan": [0.5, 0.5]}, ["Yes", "No"], "GAS"),
                                ("Q", {"Peru": [0.2, 0.8], "Japan": [1.0, 0.0]}, ["Yes", "No"], "GAS"),
                                ("Q", {"Chile": [0.2, 0.8], "Japan": [0.6, 0.4]}, ["A", "B"], "GAS")])
    t = surveys.load("goqa", "t", paths)
    assert len(t.items) == 2 and t.items["item_id"].is_unique and set(t.items["question"]) == {"Q"}
    id_of = {tuple(o): i for o, i in zip(t.items["options"], t.items["item_id"])}
    yes_no, a_b = id_of[("Yes", "No")], id_of[("A", "B")]
    assert yes_no == goqa.item_id_of("Q", ["Yes", "No"]) and a_b == goqa.item_id_of("Q", ["A", "B"])
    cells = t.targets.set_index(["item_id", "country", "option_index"])["share"]
    assert [cells[(yes_no, "JP", k)] for k in (0, 1)] == [0.5, 0.5]  # merged, first wins per country
    assert [cells[(yes_no, "PE", k)] for k in (0, 1)] == [0.2, 0.8]
    assert [cells[(a_b, "CL", k)] for k in (0, 1)] == [0.2, 0.8]
    assert [cells[(a_b, "JP", k)] for k in (0, 1)] == [0.6, 0.4]  # the differing option list is kept
    assert any("merged 1" in line for line in t.report)
    assert any("kept 1 questions asked with different option lists as separate items" in line for line in t.report)


def test_goqa_item_id_depends_on_the_row_only(tmp_path):
    rows = [("Q1", {"Japan": [0.5, 0.5]}, ["Yes", "No"], "GAS"), ("Q2", {"Japan": [0.5, 0.5]}, ["Yes", "No"], "GAS"),
            ("Q1", {"Peru": [0.1, 0.9]}, ["Good", "Bad"], "GAS")]
    full = surveys.load("goqa", "t", goqa_csv(tmp_path, rows, "full.csv"))
    subset = surveys.load("goqa", "t", goqa_csv(tmp_path, rows[2:] + rows[:1], "subset.csv"))
    ids = dict(zip(full.items["options"].map(tuple) + full.items["question"].map(lambda q: (q,)),
                   full.items["item_id"]))
    for _, row in subset.items.iterrows():
        assert ids[tuple(row["options"]) + (row["question"],)] == row["item_id"]


def test_goqa_any_source_kept(tmp_path):
    t = one_item(tmp_path, {"Japan": [0.5, 0.5]}, ["Yes", "No"], source="MySurvey")
    assert t.items.iloc[0]["source"] == "MySurvey"


# ------------------------------------------------------------------------------ shipped goqa
@pytest.fixture(scope="module")
def goqa_tables():
    return surveys.load("goqa", "goqa", GOQA_PATHS)


def test_shipped_goqa(goqa_tables):
    t = goqa_tables
    assert len(t.items) == 195 and t.items["item_id"].is_unique
    assert set(t.items["source"]) == {"GAS", "WVS", "unknown"}
    sums = t.targets.groupby(["item_id", "country"])["share"].sum()
    assert np.allclose(sums, 1.0, atol=0.005)
    assert not t.targets.duplicated(["study", "item_id", "country", "option_index"]).any()
    n_opts = t.items.set_index("item_id")["options"].map(len)
    assert (t.targets["option_index"] < t.targets["item_id"].map(n_opts)).all()
    assert all(len(o) == len(f) for o, f in zip(t.items["options"], t.items["non_substantive"]))
    assert "GB" in set(t.targets["country"]) and not t.targets["country"].str.contains("Non").any()
    report = " | ".join(t.report)
    assert "left out 56 non-national samples" in report
    assert "renormalised 62 distributions" in report


# ------------------------------------------------------------------------------ vsm2013
def write_translation(path, **over):
    doc = {"language": "de",
           "provenance": {"method": "machine", "translator": "test", "date": "2026-11-22", "reviewed": False,
                          "note": "n"},
           "items": {f"{i:02d}": {"question": f"Frage {i}", "options": ["a", "b", "c", "d", "e"]}
                     for i in range(1, 25)}}
    doc.update(over)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def vsm_paths(tdir):
    return {**VSM_PATHS, "translations_dir": str(tdir)}


def test_vsm_english_only_when_no_translations(tmp_path):
    for tdir in (tmp_path / "missing", tmp_path):
        t = surveys.load("vsm2013", "vsm2013", vsm_paths(tdir))
        assert len(t.items) == 24 and set(t.items["lang"]) == {"en"}
    items = t.items
    assert list(items["item_id"]) == [f"{i:02d}" for i in range(1, 25)]
    assert (items["scale"] == "ordinal").all() and (items["source"] == "VSM2013").all()
    assert items["options"].map(len).eq(5).all()
    assert set(items["topic"]) == {"ideal job", "private life", "statements"}
    assert t.targets.empty and list(t.targets.columns) == surveys.TARGET_COLUMNS


def test_vsm_translation_added(tmp_path):
    write_translation(tmp_path / "de.yaml")
    t = surveys.load("vsm2013", "vsm2013", vsm_paths(tmp_path))
    de = t.items[t.items["lang"] == "de"]
    assert len(de) == 24 and (de["translation"] == "machine").all()
    assert de.iloc[0]["question"] == "Frage 1"


@pytest.mark.parametrize("change,field", [
    ({"language": "deu"}, "language"),
    ({"language": "en"}, "language"),
    ({"provenance": {"method": "magic", "translator": "t", "date": "2026-01-01", "reviewed": False}},
     "provenance.method"),
    ({"provenance": {"method": "human", "translator": "t", "date": "2026-01-01"}}, "provenance"),
    ({"provenance": {"method": "human", "translator": "t", "date": "2026-01-01", "reviewed": "no"}},
     "provenance.reviewed"),
    ({"provenance": {"method": "human", "translator": "t", "date": "2026-01-01", "reviewed": True, "x": 1}},
     "provenance"),
    ({"items": {f"{i:02d}": {"question": "q", "options": list("abcde")} for i in range(1, 24)}}, "items"),
    ({"items": {**{f"{i:02d}": {"question": "q", "options": list("abcde")} for i in range(1, 24)},
                "24": {"question": "q", "options": list("abcd")}}}, "items.24.options"),
    ({"items": {**{f"{i:02d}": {"question": "q", "options": list("abcde")} for i in range(1, 24)},
                "24": {"question": "", "options": list("abcde")}}}, "items.24.question"),
    ({"extra": 1}, "top level"),
])
def test_vsm_translation_validated(tmp_path, change, field):
    write_translation(tmp_path / "bad.yaml", **change)
    with pytest.raises(InputError) as err:
        surveys.load("vsm2013", "vsm2013", vsm_paths(tmp_path))
    assert err.value.field == field
    assert err.value.file.endswith("bad.yaml")


def test_vsm_translation_unquoted_ids_and_bad_yaml(tmp_path):
    (tmp_path / "x.yaml").write_text("language: de\nprovenance: {method: machine, translator: t, date: 2026-01-01, "
                                     "reviewed: false}\nitems:\n  1: {question: q, options: [a, b, c, d, e]}\n")
    with pytest.raises(InputError, match="quoted"):
        surveys.load("vsm2013", "vsm2013", vsm_paths(tmp_path))
    (tmp_path / "x.yaml").write_text("language: [de\n")
    with pytest.raises(InputError, match="YAML"):
        surveys.load("vsm2013", "vsm2013", vsm_paths(tmp_path))


def test_vsm_duplicate_language(tmp_path):
    write_translation(tmp_path / "a.yaml")
    write_translation(tmp_path / "b.yaml")
    with pytest.raises(InputError, match="one file per language"):
        surveys.load("vsm2013", "vsm2013", vsm_paths(tmp_path))


def test_vsm_scores():
    t = surveys.load("vsm2013", "vsm2013", {**VSM_PATHS, "translations_dir": ""})
    s = t.scores
    assert set(s["dimension"]) == {"pdi", "idv", "mas", "uai", "lto", "ivr"}
    assert s["country"].nunique() == 100
    assert not s.duplicated(["country", "dimension"]).any()
    us = s[s["country"] == "US"].set_index("dimension")["score"]
    assert us["pdi"] == 40 and us["idv"] == 91
    al = s[s["country"] == "AL"]  # pdi..uai are #NULL! for Albania: omitted
    assert set(al["dimension"]) == {"lto", "ivr"}
    assert not s["country"].isin(["", "Arab countries"]).any()


def test_vsm_shipped_translations_are_valid():
    t = surveys.load("vsm2013", "vsm2013", VSM_PATHS)
    assert t.items.groupby("lang").size().eq(24).all()
    assert set(t.items["translation"]) <= {"original", "machine", "human"}


# ------------------------------------------------------------------------------ wvs_stance
def test_shipped_wvs_stance():
    t = surveys.load("wvs_stance", "wvs_stance", WVS_PATHS)
    assert len(t.items) == 37 and "F118" in set(t.items["item_id"])
    assert t.targets["country"].nunique() == 13 and "GB-NIR" in set(t.targets["country"])
    assert t.targets["item_id"].nunique() == 32
    sums = t.targets.groupby(["item_id", "country"])["share"].sum()
    assert np.allclose(sums, 1.0)
    f118 = t.items.set_index("item_id").loc["F118"]
    assert f118["question"] == "Homosexuality is justifiable." and list(f118["options"]) == ["agree", "disagree"]
    assert any("5 stance items have no target data" in line for line in t.report)


def test_wvs_stance_hand_made(tmp_path):
    stances = tmp_path / "s.json"
    stances.write_text(json.dumps({"f118": ["Pro.", "Con."], "a001": ["P", "C"]}))
    gt = tmp_path / "gt.csv"
    gt.write_text("cntry_an,question_key,pro_score,lnge_iso\nNIR,F118,0.25,en\nDE,F118,0.5,de\nDE,X999,0.1,de\n")
    t = surveys.load("wvs_stance", "w", {"targets": str(gt), "stances": str(stances)})
    nir = t.targets[t.targets["country"] == "GB-NIR"].sort_values("option_index")
    assert list(nir["share"]) == [0.25, 0.75] and set(nir["survey_name"]) == {"NIR"}
    assert any("A001" in line for line in t.report)
    gt.write_text("cntry_an,question_key,pro_score,lnge_iso\nDE,F118,1.2,de\n")
    with pytest.raises(InputError, match="pro_score"):
        surveys.load("wvs_stance", "w", {"targets": str(gt), "stances": str(stances)})


# ------------------------------------------------------------------------------ generic
def generic_files(tmp_path, items=None, targets=None):
    items = items if items is not None else pd.DataFrame([
        {"item_id": "q1", "question": "Trust?", "options": json.dumps(["A lot", "Some", "None", "Don't know"]),
         "scale": "ordinal", "source": "mine", "topic": "trust"},
        {"item_id": "q2", "question": "Pets?", "options": json.dumps(["Cats", "Dogs"]), "scale": "nominal",
         "source": "mine", "topic": "", "non_substantive": json.dumps([False, False])},
    ])
    targets = targets if targets is not None else pd.DataFrame([
        {"item_id": "q1", "country": "DE", "option": "A lot", "share": 0.5, "n": 1000},
        {"item_id": "q1", "country": "DE", "option": "Some", "share": 0.5, "n": 1000},
        {"item_id": "q1", "country": "Great Britain", "option": "None", "share": 1.0, "n": ""},
        {"item_id": "q2", "country": "Brazil (Non-national sample)", "option": "Cats", "share": 1.0, "n": ""},
        {"item_id": "q2", "country": "jp", "option": "Dogs", "share": 0.7, "n": ""},
        {"item_id": "q2", "country": "jp", "option": "Cats", "share": 0.8, "n": ""},
    ])
    ip, tp = tmp_path / "items.csv", tmp_path / "targets.csv"
    items.to_csv(ip, index=False)
    targets.to_csv(tp, index=False)
    return {"items": str(ip), "targets": str(tp)}, items, targets


def test_generic_csv(tmp_path):
    paths, _, _ = generic_files(tmp_path)
    t = surveys.load("generic", "mine", paths)
    q1 = t.items.set_index("item_id").loc["q1"]
    assert list(q1["non_substantive"]) == [False, False, False, True]  # detected from labels
    assert q1["lang"] == "en" and q1["translation"] == "original"
    de = t.targets[(t.targets["item_id"] == "q1") & (t.targets["country"] == "DE")].sort_values("option_index")
    assert list(de["share"]) == [0.5, 0.5, 0.0, 0.0] and (de["n"] == 1000).all()  # missing options get 0
    gb = t.targets[t.targets["country"] == "GB"]
    assert gb["n"].isna().all()
    jp = t.targets[t.targets["country"] == "JP"].sort_values("option_index")
    assert list(jp["share"]) == pytest.approx([0.8 / 1.5, 0.7 / 1.5])
    assert "BR" not in set(t.targets["country"])
    assert any("non-national" in line for line in t.report) and any("renormalised 1" in line for line in t.report)


def test_generic_parquet(tmp_path):
    items = pd.DataFrame([{"item_id": "q1", "question": "Q", "options": ["Yes", "No"], "scale": "nominal",
                           "source": "s", "topic": "t", "lang": "de", "non_substantive": [False, False]}])
    targets = pd.DataFrame([{"item_id": "q1", "country": "AT", "option": "Yes", "share": 1.0}])
    items.to_parquet(tmp_path / "i.parquet")
    targets.to_parquet(tmp_path / "t.parquet")
    t = surveys.load("generic", "g", {"items": str(tmp_path / "i.parquet"), "targets": str(tmp_path / "t.parquet")})
    assert t.items.iloc[0]["lang"] == "de" and list(t.targets["share"]) == [1.0, 0.0]


def test_generic_counts(tmp_path):
    """Targets as counts (weighted ones too): shares are the counts over their (item, country)
    total, n is that total unless given, and nothing is reported as renormalised."""
    targets = pd.DataFrame([
        {"item_id": "q1", "country": "DE", "option": "A lot", "count": 30},
        {"item_id": "q1", "country": "DE", "option": "Some", "count": 90},
        {"item_id": "q2", "country": "JP", "option": "Cats", "count": 12.5},
        {"item_id": "q2", "country": "JP", "option": "Dogs", "count": 37.5},
    ])
    paths, _, _ = generic_files(tmp_path, targets=targets)
    t = surveys.load("generic", "mine", paths)
    de = t.targets[t.targets["country"] == "DE"].sort_values("option_index")
    assert list(de["share"]) == [0.25, 0.75, 0.0, 0.0] and (de["n"] == 120).all()
    jp = t.targets[t.targets["country"] == "JP"].sort_values("option_index")
    assert list(jp["share"]) == [0.25, 0.75] and (jp["n"] == 50).all()
    assert not any("renormalised" in line for line in t.report)


@pytest.mark.parametrize("mutate,field", [
    (lambda i, t: (i.drop(columns=["scale"]), t), "columns"),
    (lambda i, t: (i, t.assign(count=1)), "columns"),           # share and count: which one?
    (lambda i, t: (i, t.drop(columns=["share"]).assign(count=["x"] + [1] * (len(t) - 1))), "count (line 2)"),
    (lambda i, t: (i, t.drop(columns=["share"])), "columns"),
    (lambda i, t: (i, t.assign(item_id=["q9"] + list(t["item_id"][1:]))), "item_id (line 2)"),
    (lambda i, t: (i, t.assign(option=["Maybe"] + list(t["option"][1:]))), "option (line 2)"),
    (lambda i, t: (i, t.assign(share=[-0.5] + list(t["share"][1:]))), "share (line 2)"),
    (lambda i, t: (i.assign(scale=["interval", "nominal"]), t), "scale (line 2)"),
    (lambda i, t: (i.assign(options=["not json", i["options"][1]]), t), "options (line 2)"),
    (lambda i, t: (i.assign(non_substantive=["[true]", "[false, false]"]), t), "non_substantive (line 2)"),
    (lambda i, t: (pd.concat([i, i.iloc[[0]]]), t), "item_id (line 4)"),
    (lambda i, t: (i, pd.concat([t, t.iloc[[0]]])), "option (line 8)"),
])
def test_generic_validation(tmp_path, mutate, field):
    _, items, targets = generic_files(tmp_path)
    items, targets = mutate(items, targets)
    paths, _, _ = generic_files(tmp_path, items.reset_index(drop=True), targets.reset_index(drop=True))
    with pytest.raises(InputError) as err:
        surveys.load("generic", "g", paths)
    assert err.value.field == field


# ------------------------------------------------------------------------------ load()
def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="format"):
        surveys.load("spss", "x", {})
    with pytest.raises(InputError, match=r"paths\.csv"):
        surveys.load("goqa", "x", {})
    with pytest.raises(InputError, match="existing file"):
        surveys.load("goqa", "x", {"csv": str(tmp_path / "nope.csv")})


# ------------------------------------------------------------------------------ substantive_view
def sv_example():
    items = pd.DataFrame([
        {"study": "s", "item_id": "A", "lang": "en", "options": ["Yes", "No", "DK"],
         "non_substantive": [False, False, True]},
        {"study": "s", "item_id": "A", "lang": "de", "options": ["Ja", "Nein", "WN"],
         "non_substantive": [False, False, True]},
        {"study": "s", "item_id": "B", "lang": "en", "options": ["Refused", "Agree", "Disagree"],
         "non_substantive": [True, False, False]},
        {"study": "s", "item_id": "C", "lang": "en", "options": ["DK", "NA"], "non_substantive": [True, True]},
    ])
    rows = [("A", "US", [0.6, 0.2, 0.2], 100.0), ("A", "DE", [0.0, 0.0, 1.0], 50.0),
            ("B", "US", [0.5, 0.25, 0.25], math.nan), ("C", "US", [0.5, 0.5], math.nan)]
    targets = pd.DataFrame([{"study": "s", "item_id": i, "country": c, "option_index": k, "share": s, "n": n,
                             "survey_name": c} for i, c, shares, n in rows for k, s in enumerate(shares)])
    return items, targets


def test_substantive_view_drops_and_renormalises():
    items, targets = sv_example()
    before = (items.copy(deep=True), targets.copy(deep=True))
    vi, vt = surveys.substantive_view(items, targets, keep_non_substantive=False)
    # item C has no substantive option: gone
    assert list(vi["item_id"]) == ["A", "A", "B"]
    assert [list(o) for o in vi["options"]] == [["Yes", "No"], ["Ja", "Nein"], ["Agree", "Disagree"]]
    assert [list(f) for f in vi["non_substantive"]] == [[False, False]] * 3
    assert [list(k) for k in vi["kept_options"]] == [[0, 1], [0, 1], [1, 2]]
    # A/US: kept mass .8 → [.6/.8, .2/.8] = [.75, .25], n = 100·.8 = 80; A/DE: no substantive mass → dropped
    a_us = vt[(vt["item_id"] == "A") & (vt["country"] == "US")].sort_values("option_index")
    assert list(a_us["option_index"]) == [0, 1]
    assert list(a_us["share"]) == pytest.approx([0.75, 0.25]) and list(a_us["n"]) == pytest.approx([80, 80])
    assert vt[(vt["item_id"] == "A") & (vt["country"] == "DE")].empty
    # B/US: options 1,2 → 0,1; .25/.5 each
    b_us = vt[vt["item_id"] == "B"].sort_values("option_index")
    assert list(b_us["option_index"]) == [0, 1] and list(b_us["share"]) == pytest.approx([0.5, 0.5])
    assert vt[vt["item_id"] == "C"].empty
    assert vt["option_index"].dtype == "int64"
    # pure: inputs untouched
    pd.testing.assert_frame_equal(items, before[0])
    pd.testing.assert_frame_equal(targets, before[1])


def test_substantive_view_keep_adds_kept_options_only():
    items, targets = sv_example()
    vi, vt = surveys.substantive_view(items, targets, keep_non_substantive=True)
    assert [list(k) for k in vi["kept_options"]] == [[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1]]
    pd.testing.assert_frame_equal(vt, targets)
    assert list(vi["options"]) == list(items["options"])


def test_substantive_view_on_shipped_goqa(goqa_tables):
    vi, vt = surveys.substantive_view(goqa_tables.items, goqa_tables.targets, keep_non_substantive=False)
    assert not any(any(f) for f in vi["non_substantive"])
    assert np.allclose(vt.groupby(["item_id", "country"])["share"].sum(), 1.0)
    n_opts = vi.set_index("item_id")["options"].map(len)
    assert (vt["option_index"] < vt["item_id"].map(n_opts)).all()


def test_substantive_view_rejects_unknown_items():
    items, targets = sv_example()
    with pytest.raises(InputError):
        surveys.substantive_view(items[items["item_id"] != "B"], targets, keep_non_substantive=False)


# ------------------------------------------------------------------------------ parquet round trip
@pytest.mark.parametrize("fmt,paths", [("goqa", GOQA_PATHS), ("vsm2013", VSM_PATHS), ("wvs_stance", WVS_PATHS)])
def test_tables_round_trip_parquet(tmp_path, fmt, paths):
    t = surveys.load(fmt, fmt, paths)
    for name in ("items", "targets", "scores"):
        df = getattr(t, name)
        path = tmp_path / f"{name}.parquet"
        df.to_parquet(path)
        back = read_table(path)
        assert list(back.columns) == list(df.columns)
        assert len(back) == len(df)
        for col in df.columns:
            if col in ("options", "non_substantive"):
                assert [list(v) for v in back[col]] == [list(v) for v in df[col]]
                assert all(isinstance(v, list) for v in back[col])
            else:
                pd.testing.assert_series_equal(back[col], df[col], check_dtype=False, check_names=True)
        if name == "items":
            raw = pd.read_parquet(path)  # plain pandas read works too (numpy arrays in the cells)
            assert list(raw.iloc[0]["options"]) == list(df.iloc[0]["options"])


def test_vsm_english_is_the_authentic_wording():
    """Items 15–20 in the shared xlsx were rewritten ("should a person …"); the CSV wording is used."""
    items = surveys.load("vsm2013", "vsm2013", {k: v for k, v in VSM_PATHS.items() if k != "translations_dir"}).items
    q = items.set_index("item_id")["question"]
    assert q["15"] == "How often do you feel nervous or tense?"
    assert q["16"] == "Are you a happy person?"
    assert q["01"].startswith("In choosing an ideal job, how important would it be to you to have sufficient time")
    assert q["21"].startswith("To what extent do you agree or disagree: One can be a good manager")
    opts = items.set_index("item_id")["options"]
    assert list(opts["20"]) == ["never", "seldom", "sometimes", "usually", "always"]
    assert list(opts["21"])[0] == "strongly agree"


def test_vsm_prompt_text_split():
    from culturelens.surveys.vsm2013 import split_prompt_text

    text = "Please answer the below question by choosing an answer from the following:\n1. a\n2. b\n3. c\n4. d\n5. e\n\nWhy?"
    assert split_prompt_text(text) == ("Why?", ["a", "b", "c", "d", "e"])
    with pytest.raises(ValueError):
        split_prompt_text("Why?\n1. a\n2. b")


# ------------------------------------------------------------------------------ unknown countries, samples
def test_goqa_unknown_country_left_out_reported_and_warned_once(tmp_path, caplog):
    paths = goqa_csv(tmp_path, [("Q1", {"Atlantis": [0.5, 0.5], "Japan": [0.7, 0.3]}, ["Yes", "No"], "GAS"),
                                ("Q2", {"Atlantis": [0.1, 0.9], "Lilliput": [0.2, 0.8]}, ["Yes", "No"], "GAS")])
    with caplog.at_level("WARNING"):
        t = surveys.load("goqa", "t", paths)
    assert set(t.targets["country"]) == {"JP"} and len(t.items) == 2
    note = next(line for line in t.report if "unknown country names" in line)
    assert "'Atlantis'" in note and "'Lilliput'" in note and "left out 3 samples" in note
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert sorted(w.getMessage().split("'")[1] for w in warned) == ["Atlantis", "Lilliput"]  # once per name


def test_goqa_strict_countries_raises_naming_file_field_and_names(tmp_path):
    paths = goqa_csv(tmp_path, [("Q1", {"Atlantis": [0.5, 0.5], "Japan": [0.7, 0.3]}, ["Yes", "No"], "GAS"),
                                ("Q2", {"Lilliput": [0.2, 0.8]}, ["Yes", "No"], "GAS")])
    with pytest.raises(InputError) as err:
        surveys.load("goqa", "t", paths, strict_countries=True)
    assert err.value.file == paths["csv"] and err.value.field == "country"
    assert err.value.got == ["Atlantis", "Lilliput"]
    with pytest.raises(InputError, match="strict_countries"):
        surveys.load("goqa", "t", paths, strict_countries="yes")


def test_goqa_old_national_sample_used_but_current_wins(tmp_path):
    rows = [("Q1", {"India (Old national sample)": [0.9, 0.1], "India (Current national sample)": [0.3, 0.7],
                    "India (Non-national sample)": [0.5, 0.5]}, ["Yes", "No"], "GAS"),
            ("Q2", {"India (Current national sample)": [0.3, 0.7], "India (Old national sample)": [0.9, 0.1]},
             ["Yes", "No"], "GAS"),
            ("Q3", {"India (Old national sample)": [0.9, 0.1], "Pakistan (Non-national sample)": [0.5, 0.5]},
             ["Yes", "No"], "GAS")]
    t = surveys.load("goqa", "t", goqa_csv(tmp_path, rows))
    by_item = {q: t.items.set_index("question").loc[q, "item_id"] for q in ("Q1", "Q2", "Q3")}
    for q, expected, name in (("Q1", [0.3, 0.7], "India (Current national sample)"),
                              ("Q2", [0.3, 0.7], "India (Current national sample)"),
                              ("Q3", [0.9, 0.1], "India (Old national sample)")):
        cell = t.targets[t.targets["item_id"] == by_item[q]].sort_values("option_index")
        assert list(cell["share"]) == expected and set(cell["survey_name"]) == {name}
        assert set(cell["country"]) == {"IN"}
    report = " | ".join(t.report)
    assert "preferred the current over the old national sample on 2" in report
    assert "used an old national sample on 1" in report
    assert "left out 2 non-national samples" in report and "kept the first" not in report


def test_other_importers_leave_unknown_countries_out_unless_strict(tmp_path):
    stances = tmp_path / "s.json"
    stances.write_text(json.dumps({"f118": ["Pro.", "Con."]}))
    gt = tmp_path / "gt.csv"
    gt.write_text("cntry_an,question_key,pro_score,lnge_iso\nXYZ,F118,0.25,en\nDE,F118,0.5,de\n")
    paths = {"targets": str(gt), "stances": str(stances)}
    t = surveys.load("wvs_stance", "w", paths)
    assert set(t.targets["country"]) == {"DE"} and any("'XYZ'" in line for line in t.report)
    with pytest.raises(InputError) as err:
        surveys.load("wvs_stance", "w", paths, strict_countries=True)
    assert err.value.field == "cntry_an" and err.value.got == ["XYZ"]
    gpaths, items, targets = generic_files(tmp_path)
    targets.loc[0, "country"] = "Atlantis"
    gpaths, _, _ = generic_files(tmp_path, items, targets)
    t = surveys.load("generic", "g", gpaths)
    assert any("'Atlantis'" in line for line in t.report)
    with pytest.raises(InputError, match="Atlantis"):
        surveys.load("generic", "g", gpaths, strict_countries=True)


# ------------------------------------------------------------------------------ options of another question
COVID = ["If (survey country) had cooperated more with other countries, the number of coronavirus cases would "
         "have been lower in this country",
         "No amount of cooperation between (survey country) and other countries would have reduced the number of "
         "coronavirus cases in this country"]


def test_goqa_options_of_another_question_flagged(tmp_path):
    air = ["We should reduce air pollution even if it means slower economic growth",
           "Air pollution is the price we have to pay for continued economic growth"]
    generic_q = ["Which statement comes closer to your view?", "Which statement comes closer to your own views?"]
    hard = ["Most people who want to get ahead can make it if they are willing to work hard",
            "Hard work and determination are no guarantee of success for most people"]
    rows = [
        # the source question of the coronavirus statements: they are its own options
        ("Would more cooperation between countries have reduced the number of coronavirus cases here?",
         {"Japan": [0.6, 0.3, 0.1]}, COVID + ["DK/Refused"], "GAS"),
        # air-pollution item answered on the coronavirus statements: flagged
        ("Which statement comes closer to your own views? We should reduce air pollution even if it means slower "
         "economic growth, or air pollution is the price we have to pay",
         {"Japan": [0.0, 0.6, 0.0, 0.3, 0.1]}, [air[0], COVID[0], air[1], COVID[1], "DK/Refused"], "GAS"),
        # one pair of statements under two generic wordings: every option recurs, none is the item's own: kept
        (generic_q[0], {"Japan": [0.5, 0.5]}, hard, "GAS"),
        (generic_q[1], {"Peru": [0.5, 0.5]}, hard, "GAS"),
        # short answers recur everywhere: kept
        ("Is it good?", {"Japan": [0.5, 0.5]}, ["Very good", "Somewhat good"], "GAS"),
        ("Is it bad?", {"Japan": [0.5, 0.5]}, ["Very good", "Somewhat good"], "GAS"),
    ]
    t = surveys.load("goqa", "t", goqa_csv(tmp_path, rows))
    flagged = t.items[t.items["options_mismatch"]]
    assert list(flagged["question"].str[:40]) == [rows[1][0][:40]]
    item_id = flagged["item_id"].item()
    note = next(line for line in t.report if line.startswith("flagged 1 items"))
    assert item_id in note and "(1 foreign option)" in note  # COVID[1] shares "reduc" with the question
    assert goqa.foreign_options([(rows[1][0], rows[1][2], [False] * 4 + [True])]) == [[]]  # needs the file

    items, targets, notes = surveys.exclude_flagged(t.items, t.targets)
    assert item_id not in set(items["item_id"]) and item_id not in set(targets["item_id"])
    assert "options_mismatch" not in items.columns and len(items) == len(t.items) - 1
    assert len(notes) == 1 and item_id in notes[0] and "'Which statement comes closer" in notes[0]
    assert item_id in set(t.targets["item_id"])  # raw tables keep it


def test_shipped_goqa_flags_exactly_the_five_items_on_coronavirus_options(goqa_tables):
    items = goqa_tables.items
    flagged = items[items["options_mismatch"]]
    starts = sorted(q[:45] for q in flagged["question"])
    assert starts == sorted([
        "Which statement comes closer to your view abo",       # involvement in the global economy
        "The United States has announced plans to comm",      # US military resources to Asia
        "Which statement comes closer to your own view",       # air pollution
        "Which statement comes closer to your own view",       # EU trade agreements
        "Which of the following two statements about a",      # global climate change
    ]), starts
    assert all(any("coronavirus" in o for o in opts) for opts in flagged["options"])
    assert not any(any("coronavirus" in o for o in opts) for opts in items[~items["options_mismatch"]]["options"])
    vi, vt, notes = surveys.exclude_flagged(items, goqa_tables.targets)
    assert len(vi) == 190 and "left 5 items out" in notes[0]


def test_exclude_flagged_without_flag_column_is_identity():
    items, targets = sv_example()
    vi, vt, notes = surveys.exclude_flagged(items, targets)
    pd.testing.assert_frame_equal(vi, items)
    pd.testing.assert_frame_equal(vt, targets)
    assert notes == []


# ------------------------------------------------------------------------------ docs/surveys.md
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "my_survey"
SCHEMAS = Path(__file__).resolve().parent.parent / "workflow" / "schemas"


def test_the_documented_example_survey_imports_and_follows_the_json_schemas():
    import jsonschema
    import yaml

    from culturelens.surveys import generic

    items_schema = yaml.safe_load((SCHEMAS / "generic_items.schema.yaml").read_text())
    targets_schema = yaml.safe_load((SCHEMAS / "generic_targets.schema.yaml").read_text())
    # the schemas and the importer ask for the same columns
    assert items_schema["required"] == generic.ITEM_REQUIRED
    assert targets_schema["required"] == generic.TARGET_REQUIRED
    assert {r["required"][0] for r in targets_schema["oneOf"]} == set(generic.VALUE_COLUMNS)
    items = pd.read_csv(EXAMPLE / "items.csv", keep_default_na=False)
    for rec in items.to_dict("records"):
        rec["options"] = json.loads(rec["options"])
        if rec["non_substantive"]:
            rec["non_substantive"] = json.loads(rec["non_substantive"])
        else:
            del rec["non_substantive"]
        jsonschema.validate(rec, items_schema)
    for rec in pd.read_csv(EXAMPLE / "targets.csv").to_dict("records"):
        jsonschema.validate(rec, targets_schema)
    with pytest.raises(jsonschema.ValidationError):   # share and count at once
        jsonschema.validate({"item_id": "q", "country": "DE", "option": "a", "share": 0.5, "count": 3}, targets_schema)
    t = surveys.load("generic", "my_survey", {"items": str(EXAMPLE / "items.csv"),
                                              "targets": str(EXAMPLE / "targets.csv")})
    jp = t.targets[(t.targets["item_id"] == "trust_people") & (t.targets["country"] == "JP")]
    assert list(jp["share"]) == pytest.approx([420 / 1353, 780 / 1353, 153 / 1353]) and (jp["n"] == 1353).all()
    assert set(t.items["lang"]) == {"en", "de"}


def _documented_errors() -> dict[str, str]:
    """mistake → message, from the errors table of docs/surveys.md."""
    text = (EXAMPLE.parent.parent / "surveys.md").read_text(encoding="utf-8")
    table = text.split("## 4. Errors", 1)[1]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| ([^|`]+?) \| `(.+)` \|$", table, re.M)}


# how each documented mistake is made in the example files: (items edit, targets edit)
MISTAKES = {
    "a required column missing": (lambda i: i.replace("scale,", "", 1), None),
    "an unknown scale": (lambda i: i.replace(",ordinal,", ",interval,"), None),
    "options that are not a JSON list": (lambda i: i.replace('"[""Very important""', '"[Very important""', 1), None),
    "a translation with another number of options": (
        lambda i: i.replace('""Weiß nicht""]', '""Weiß nicht"", ""Keine Angabe""]')
                   .replace('"[false, false, true]"', '"[false, false, true, true]"'), None),
    "an option the item does not have": (None, lambda t: t.replace("DE,Very important", "DE,Extremely important")),
    "an item the items file does not have": (None, lambda t: t.replace("work_importance,Japan,Very", "work,Japan,Very")),
    "a negative count or share": (None, lambda t: t.replace(",612", ",-612")),
    "the same option twice": (None, lambda t: t + "trust_people,DE,Don't know,45\n"),
    "both share and count": (None, lambda t: t.replace("count\n", "count,share\n", 1)),
}


def test_the_documented_error_table_is_complete():
    assert set(_documented_errors()) == set(MISTAKES)


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_documented_error_message_is_the_one_given(tmp_path, mistake):
    edit_items, edit_targets = MISTAKES[mistake]
    folder = tmp_path / "my_survey"
    folder.mkdir()
    for name, edit in (("items.csv", edit_items), ("targets.csv", edit_targets)):
        text = (EXAMPLE / name).read_text(encoding="utf-8")
        (folder / name).write_text(edit(text) if edit else text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        surveys.load("generic", "my_survey", {"items": str(folder / "items.csv"), "targets": str(folder / "targets.csv")})
    message = str(err.value).replace(str(tmp_path) + "/", "")
    pattern = ".*".join(re.escape(part) for part in _documented_errors()[mistake].split("..."))
    assert re.fullmatch(pattern, message), message
