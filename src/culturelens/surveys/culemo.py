"""CuLEmo (Belay et al. 2025): culture-dependent emotion questions, one TSV file per language.

``paths``: ``eng`` (required: ``text_eng, emotion_eng, sentiment_eng``, the English questions and
their English annotation) and any of ``amh ara deu hin spn`` (``text_eng, text_<lang>,
emotion_eng, emotion_<lang>, sentiment_eng, sentiment_<lang>``). Each language is annotated by that
culture: the gold label of a question can differ between Ethiopia and Germany. Language codes are
the dataset's own; the paper pairs them with a country (``LANGUAGES``); English has no country.

The files are not in the same row order and a few English texts differ slightly, so a language row
is joined to ``eng.tsv`` on its English text: exactly after case-folding and collapsing whitespace
and final punctuation, else the closest English text with difflib similarity >= 0.9 (reported). The
files use standard CSV quoting (a text holding quotes is quoted, its quotes doubled). One dataset
row is one scored observation, as in the paper: a question eng.tsv asks twice is two items (its two
rows' ids), each with its own gold label per culture and its own translation where the language
file's two rows differ (a language file's k-th row of the question is joined to eng.tsv's k-th).
Where the two rows render the very same prompt, the model is asked once and both items are scored
on that answer (reported). Rows that match nothing are left out and reported.

Tables (a task of kind ``labels``):

- ``items``: one row per (question, language): the question and the label names in that language
  (options in ``LABEL_SETS`` order; the native names are the ones the file pairs with each English
  label), ``scale`` nominal; item ids ``culemo-001`` … by ``eng.tsv`` row (``culemo-001`` is its first
  data row), so a repeated question's rows have ids of their own.
- ``targets``: per (question, country) the gold label as a one-hot answer distribution, so the
  shards, prompts and reference respondents work as for any survey.
- ``labels`` (:data:`LABEL_COLUMNS`): the gold label per (question, culture): the country, or
  ``none`` for the English annotation, which names no country and is the gold of prompts that name
  no country (default prompting in English).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

from culturelens.errors import InputError
from culturelens.surveys.common import SurveyTables, frame, items_frame, scores_frame, targets_frame

#: dataset language code → (ISO 639-1 prompt language, country of the culture; None: no country)
LANGUAGES = {"eng": ("en", None), "amh": ("am", "ET"), "ara": ("ar", "AE"), "deu": ("de", "DE"),
             "hin": ("hi", "IN"), "spn": ("es", "MX")}
#: the label sets the dataset annotates, in the order options are listed
LABEL_SETS = {"emotion": ["anger", "fear", "sadness", "joy", "guilt", "neutral"],
              "sentiment": ["positive", "negative", "neutral"]}
LABEL_COLUMNS = ["study", "item_id", "country", "lang", "option_index", "label"]
NO_COUNTRY = "none"
SIMILARITY = 0.9


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", str(text).casefold()).strip().rstrip("?.!。 ").strip()


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        # standard CSV quoting: the files quote texts holding quotes ("a ""you have five fathers""
        # gesture"); read with quoting off, the doubled quotes would reach the prompts
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise InputError(path, "file", "a tab-separated UTF-8 file with a header row", str(err)) from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(path, "columns", f"columns {columns}", f"missing {missing}")
    for col in columns:
        empty = table.index[table[col].str.strip() == ""]
        if len(empty):
            raise InputError(path, f"row {empty[0] + 2} column {col}", "a non-empty value", "")
    return table


def _gold(table: pd.DataFrame, path: Path, column: str, names: list[str]) -> list[int]:
    out = []
    for row, value in enumerate(table[column]):
        label = value.strip().casefold()
        if label not in names:
            raise InputError(path, f"row {row + 2} column {column}", f"one of {names}", value)
        out.append(names.index(label))
    return out


def _native_names(table: pd.DataFrame, code: str, label_set: str, names: list[str], path: Path,
                  report: list[str]) -> list[str]:
    """The name the file gives each label in its language (most frequent pairing; English if unseen)."""
    pairs = Counter(zip(table[f"{label_set}_eng"].str.strip().str.casefold(), table[f"{label_set}_{code}"].str.strip()))
    out = []
    for name in names:
        native = [(n, k) for (e, n), k in pairs.most_common() if e == name]
        if not native:
            report.append(f"{path.name}: no question has gold label '{name}'; it is shown in English")
            out.append(name)
            continue
        if len(native) > 1:
            report.append(f"{path.name}: label '{name}' is written {len(native)} ways ({dict(native)}); "
                          f"'{native[0][0]}' is shown")
        out.append(native[0][0])
    return out


def _match(table: pd.DataFrame, eng_keys: list[str], path: Path, report: list[str],
           label_set: str) -> list[int | None]:
    """The eng.tsv row each row of ``table`` is (see the module docstring), or None. Exact texts are
    joined first (a question eng.tsv asks twice: the file's first row of it to eng.tsv's first, the
    second to the second); only then is a row without one joined to the closest question no row has
    taken."""
    positions: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(eng_keys):
        positions[key].append(i)
    keys = [_key(t) for t in table["text_eng"]]
    out: list[int | None] = [None] * len(table)
    taken: set[int] = set()
    surplus, fuzzy, unmatched = [], [], []
    for row, key in enumerate(keys):             # pass 1: exact texts
        free = [i for i in positions.get(key, ()) if i not in taken]
        if free:
            out[row] = free[0]
            taken.add(free[0])
        elif key in positions:
            surplus.append(row)
    for row, key in enumerate(keys):             # pass 2: close texts, among questions not taken
        if key in positions:
            continue
        free = {eng_keys[i]: i for i in range(len(eng_keys) - 1, -1, -1) if i not in taken}
        close = difflib.get_close_matches(key, list(free), n=1, cutoff=SIMILARITY)
        if not close:
            unmatched.append(row + 2)
            continue
        fuzzy.append(row + 2)
        out[row] = free[close[0]]
        taken.add(free[close[0]])
    if fuzzy:
        report.append(f"{path.name}: {len(fuzzy)} rows joined to eng.tsv by a close English text (similarity "
                      f">= {SIMILARITY}): rows {', '.join(map(str, fuzzy))}")
    if unmatched:
        report.append(f"{path.name}: {len(unmatched)} rows match no English question of eng.tsv and are left out: "
                      f"rows {', '.join(map(str, unmatched[:20]))}")
    for row in surplus:
        report.append(f"{path.name}: row {row + 2} repeats a question more often than eng.tsv asks it and is left "
                      f"out ('{keys[row][:60]}')")
    return out


def load(study: str, paths: dict[str, str], *, strict_countries: bool = False,
         label_set: str = "emotion", **_) -> SurveyTables:
    if label_set not in LABEL_SETS:
        raise InputError("<config>", "label_set", f"one of {sorted(LABEL_SETS)}", label_set)
    unknown = sorted(set(paths) - set(LANGUAGES))
    if unknown:
        raise InputError("<config>", "paths", f"keys among {sorted(LANGUAGES)} (the dataset's language codes)", unknown)
    if not paths.get("eng"):
        raise InputError("<config>", "paths.eng", "the English file (eng.tsv): it defines the questions")
    names = LABEL_SETS[label_set]
    report: list[str] = []
    eng_path = Path(paths["eng"])
    if not eng_path.is_file():
        raise InputError(eng_path, "file", "an existing file")
    eng = _read(eng_path, ["text_eng", f"{label_set}_eng"])
    eng_keys = [_key(t) for t in eng["text_eng"]]
    ids = [f"culemo-{i + 1:03d}" for i in range(len(eng))]   # by row: stable when a repeat is removed
    eng_gold = _gold(eng, eng_path, f"{label_set}_eng", names)
    for key in (k for k, n in Counter(eng_keys).items() if n > 1):
        rows = [i for i, k in enumerate(eng_keys) if k == key]
        report.append(f"eng.tsv: the question '{key[:60]}' appears {len(rows)} times (rows {[i + 2 for i in rows]}, "
                      f"labels {[names[eng_gold[i]] for i in rows]}); each row is its own item "
                      f"({', '.join(ids[i] for i in rows)}), scored with its own label, as the dataset counts them")
    keep = list(range(len(eng)))
    items = [{"study": study, "item_id": ids[i], "lang": "en", "translation": "original",
              "question": eng["text_eng"].iloc[i].strip(), "options": list(names),
              "non_substantive": [False] * len(names), "scale": "nominal", "source": "CuLEmo", "topic": label_set}
             for i in keep]
    labels = [{"study": study, "item_id": ids[i], "country": NO_COUNTRY, "lang": "en", "option_index": eng_gold[i],
               "label": names[eng_gold[i]]} for i in keep]
    english = {i: row for row, i in enumerate(keep)}   # eng row → its entry in items
    targets = []
    for code, path in sorted(paths.items()):
        if code == "eng" or not path:
            continue
        lang, country = LANGUAGES[code]
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "file", "an existing file")
        table = _read(path, ["text_eng", f"text_{code}", f"{label_set}_eng", f"{label_set}_{code}"])
        gold = _gold(table, path, f"{label_set}_eng", names)
        native = _native_names(table, code, label_set, names, path, report)
        seen: dict[int, int] = {}
        for row, (pos, text, g) in enumerate(zip(_match(table, eng_keys, path, report, label_set), table[f"text_{code}"], gold)):
            if pos is None:
                continue
            seen[pos] = g
            item = ids[pos]
            items.append({**items[english[pos]], "lang": lang, "translation": "human", "question": text.strip(),
                          "options": list(native)})
            labels.append({"study": study, "item_id": item, "country": country, "lang": lang, "option_index": g,
                           "label": names[g]})
            targets += [{"study": study, "item_id": item, "country": country, "option_index": k,
                         "share": float(k == g), "n": float("nan"), "survey_name": f"CuLEmo {code}"}
                        for k in range(len(names))]
        missing = len(keep) - len(seen)
        report.append(f"{path.name}: {len(seen)} questions with a {label_set} label for {country} ({lang})"
                      + (f"; {missing} questions of eng.tsv have no row here" if missing else ""))
    return SurveyTables(items_frame(items), targets_frame(targets), scores_frame([]), report,
                        labels=frame(labels, LABEL_COLUMNS))
