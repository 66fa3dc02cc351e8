"""The CuLEmo importer on the shipped files and on small files with its known quirks."""

from pathlib import Path

import pandas as pd
import pytest

from culturelens import surveys
from culturelens.backends.reference import ReferenceRespondent
from culturelens.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "resources" / "surveys" / "culemo"
CODES = ["eng", "amh", "ara", "deu", "hin", "spn"]


@pytest.fixture(scope="module")
def shipped():
    return surveys.load("culemo", "culemo", {c: str(SHIPPED / f"{c}.tsv") for c in CODES})


def test_shipped_files_import_every_question_for_every_culture(shipped):
    # 400 rows, 400 items: a question eng.tsv asks twice is two scored observations, as in the paper
    assert shipped.items["item_id"].nunique() == 400
    assert shipped.items.groupby("lang").size().to_dict() == {l: 400 for l in ["am", "ar", "de", "en", "es", "hi"]}
    per_culture = shipped.labels.groupby("country").size().to_dict()
    assert per_culture == {c: 400 for c in ["AE", "DE", "ET", "IN", "MX", "none"]}
    # one-hot targets per (question, country): the gold label has share 1
    gold = shipped.targets[shipped.targets["share"] == 1]
    assert len(gold) == 5 * 400 and shipped.targets.groupby(["item_id", "country"])["share"].sum().eq(1).all()


def test_a_repeated_question_is_one_item_per_row_with_its_own_label_and_translation(shipped):
    """eng.tsv rows 347 and 348 ask the same question; in amh.tsv its rows 272 and 348 carry different
    gold labels (guilt, anger) and slightly different Amharic texts; in spn.tsv the cheek-kiss
    question's two rows are translated differently. Each row is its own item, in file order."""
    labels = shipped.labels.set_index(["item_id", "country"])["label"]
    assert labels[("culemo-346", "ET")] == "guilt" and labels[("culemo-347", "ET")] == "anger"
    texts = shipped.items.set_index(["item_id", "lang"])["question"]
    amh = pd.read_csv(SHIPPED / "amh.tsv", sep="\t", dtype=str)
    assert texts[("culemo-346", "am")] == amh["text_amh"].iloc[270].strip()
    assert texts[("culemo-347", "am")] == amh["text_amh"].iloc[346].strip()
    assert texts[("culemo-032", "en")].rstrip("?") == texts[("culemo-148", "en")].rstrip("?")
    assert texts[("culemo-032", "es")] != texts[("culemo-148", "es")]


def test_quoted_texts_lose_their_csv_quoting(shipped):
    en = shipped.items[shipped.items["lang"] == "en"]["question"]
    assert "How would you feel when someone shows you a \"you have five fathers\" gesture" in set(en)
    assert not any('""' in q for q in shipped.items["question"])


def test_gold_labels_follow_each_culture_not_the_row_order(shipped):
    """A question is joined on its English text: the German file's gold for a question is what the
    German file says for that text, wherever its row is."""
    deu = pd.read_csv(SHIPPED / "deu.tsv", sep="\t")
    text = "How would you feel when your gift opened in front of you"
    item = shipped.items[(shipped.items["lang"] == "en") & (shipped.items["question"] == text)]["item_id"].iloc[0]
    expected = deu.loc[deu["text_eng"].str.strip().str.rstrip("?") == text, "emotion_eng"].iloc[0]
    got = shipped.labels[(shipped.labels["item_id"] == item) & (shipped.labels["country"] == "DE")]["label"].iloc[0]
    assert got == expected
    de_item = shipped.items[(shipped.items["item_id"] == item) & (shipped.items["lang"] == "de")].iloc[0]
    assert de_item["options"] == ["wut", "furcht", "traurigkeit", "freude", "schuld", "neutral"]
    assert de_item["translation"] == "human"


def test_known_quirks_are_reported(shipped):
    notes = "\n".join(shipped.report)
    assert "appears 2 times" in notes                       # questions repeated in eng.tsv
    assert "spn.tsv: 1 rows joined to eng.tsv by a close English text" in notes
    assert "each row is its own item (culemo-346, culemo-347)" in notes


def _write(tmp_path, name, rows, columns):
    path = tmp_path / f"{name}.tsv"
    pd.DataFrame(rows, columns=columns).to_csv(path, sep="\t", index=False)
    return str(path)


ENG_COLS = ["text_eng", "emotion_eng", "sentiment_eng"]
DEU_COLS = ["text_eng", "text_deu", "emotion_eng", "emotion_deu", "sentiment_eng", "sentiment_deu"]


def test_rows_are_joined_on_text_in_any_order_and_unmatched_rows_reported(tmp_path):
    eng = _write(tmp_path, "eng", [["How would you feel if A?", "joy", "positive"],
                                   ["How would you feel if B?", "anger", "negative"]], ENG_COLS)
    deu = _write(tmp_path, "deu", [["how would you feel if b", "Wie B?", "fear", "furcht", "negative", "negativ"],
                                   ["How would you feel if A?", "Wie A?", "joy", "freude", "positive", "positiv"],
                                   ["Something else entirely", "Anders", "joy", "freude", "positive", "positiv"]],
                 DEU_COLS)
    tables = surveys.load("culemo", "s", {"eng": eng, "deu": deu})
    de = tables.labels[tables.labels["country"] == "DE"].set_index("item_id")["label"].to_dict()
    assert de == {"culemo-001": "joy", "culemo-002": "fear"}
    assert any("match no English question" in line and "rows 4" in line for line in tables.report)
    # sentiment is the other annotation of the same files
    sent = surveys.load("culemo", "s", {"eng": eng, "deu": deu}, label_set="sentiment")
    assert sent.items["options"].iloc[0] == ["positive", "negative", "neutral"]


def test_an_unknown_label_names_file_row_and_column(tmp_path):
    eng = _write(tmp_path, "eng", [["Q1?", "joy", "positive"], ["Q2?", "happiness", "positive"]], ENG_COLS)
    with pytest.raises(InputError) as err:
        surveys.load("culemo", "s", {"eng": eng, "deu": eng})
    with pytest.raises(InputError) as err:
        surveys.load("culemo", "s", {"eng": eng})
    message = str(err.value)
    assert "eng.tsv" in message and "row 3 column emotion_eng" in message and "happiness" in message


def test_a_missing_column_and_an_unknown_language_are_input_errors(tmp_path):
    eng = _write(tmp_path, "eng", [["Q1?", "joy"]], ["text_eng", "emotion"])
    with pytest.raises(InputError, match="emotion_eng"):
        surveys.load("culemo", "s", {"eng": eng})
    with pytest.raises(InputError, match="language codes"):
        surveys.load("culemo", "s", {"eng": eng, "fra": eng})


def _respondent(kind, tables):
    spec = {"provider": "reference", "respondent": kind, "elicitation": {"method": "logprobs"}}
    return ReferenceRespondent(kind, spec, targets=tables.targets, labels=tables.labels)


def _answer(resp, item, country):
    request = {"prompt_id": "p", "labels": ["A", "B", "C", "D", "E", "F"], "shown_options": [0, 1, 2, 3, 4, 5],
               "item_id": item, "country": country, "elicitation": resp.elicitation}
    out = resp.answer(request)
    if out["status"] != "ok":
        return None
    return out["payload"]["choices"][0]["message"]["content"]


def test_label_baselines(shipped):
    majority, unadapted = _respondent("majority_label", shipped), _respondent("unadapted_label", shipped)
    neutral = "F"   # option 5: the most frequent gold label of every culture in this dataset
    assert _answer(majority, "culemo-001", "DE") == neutral and _answer(majority, "culemo-002", "none") == neutral
    english = shipped.labels[shipped.labels["country"] == "none"].set_index("item_id")["option_index"]
    for item in ["culemo-001", "culemo-002", "culemo-100"]:
        for country in ["DE", "ET", "none"]:   # the English label, whatever the culture
            assert _answer(unadapted, item, country) == "ABCDEF"[english[item]]
    # no gold labels (any other study): they abstain, saying why
    empty = surveys.SurveyTables(shipped.items, shipped.targets, shipped.scores, labels=shipped.labels.iloc[:0])
    out = _respondent("majority_label", empty).answer(
        {"prompt_id": "p", "labels": ["A", "B"], "shown_options": [0, 1], "item_id": "x", "country": "DE",
         "elicitation": {"method": "logprobs"}})
    assert out["status"] == "abstained" and "label tasks only" in out["error"]
