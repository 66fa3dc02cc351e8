"""Values Survey Module 2013 importer (Hofstede & Minkov): 24 items, optional translations, and
Hofstede's published 6-D country scores.

``paths``:

* ``items_csv`` — ``vsm2013_questions_en.csv``: columns ``ID`` (01..24), ``Category`` (→ ``topic``) and
  ``Prompt Text`` (the authentic VSM 2013 wording with its numbered answer lines; see
  ``split_prompt_text``). The MIT-licensed ``vsm2013_items_options.xlsx`` beside it in the shared data
  rewrites items 15–20 ("How often should a person feel nervous…"), so it is not used.
* ``hofstede`` — Hofstede's 6-D CSV (``;``-separated, ``#NULL!`` = missing; ``ltowvs`` → ``lto``).
* ``translations_dir`` (optional) — every ``*.yaml`` in it adds one row per item in its language;
  missing or empty directory: English only. Format (validated strictly)::

      language: de
      provenance: {method: machine, translator: "…", date: "2026-11-22", reviewed: false, note: "…"}
      items:
        "01": {question: "…", options: ["…", "…", "…", "…", "…"]}   # all 24 ids, 5 options each

  ``translation`` = ``provenance.method`` (``machine`` or ``human``); ``note`` and
  ``source_language`` (ISO 639-1 the translation was made from) are optional; any other key, a
  missing item id, or a count of options other than 5 is an InputError.

Items: ``scale`` ordinal, 5 options (answers 1..5 in order), source ``VSM2013``. Targets: empty
(VSM has no answer distributions here). Scores: one row per (country, dimension) with a value;
only ``national`` rows of the country table are kept (regions, sub-national rows left out).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path

import pandas as pd
import yaml

from culturelens.errors import InputError
from culturelens.surveys.common import (
    CountryMapper, SurveyTables, items_frame, require_path, scores_frame, targets_frame,
)

ITEM_IDS = [f"{i:02d}" for i in range(1, 25)]
N_OPTIONS = 5
DIMENSIONS = {"pdi": "pdi", "idv": "idv", "mas": "mas", "uai": "uai", "ltowvs": "lto", "ivr": "ivr"}
PROVENANCE_REQUIRED = {"method", "translator", "date", "reviewed"}
PROVENANCE_ALLOWED = PROVENANCE_REQUIRED | {"note", "source_language"}
METHODS = ("machine", "human")


_OPTION_LINE = re.compile(r"^\s*([1-5])\s*(?:=|\.)\s*(\S.*?)\s*$")
_INSTRUCTION = "choosing an answer from the following"


def split_prompt_text(text: str) -> tuple[str, list[str]]:
    """(question, options) from one ``Prompt Text`` cell: the numbered lines are the options
    (1..5, prefix removed); the paragraph that is neither they nor the answering instruction is
    the question."""
    options, question_lines = [], []
    for line in text.splitlines():
        m = _OPTION_LINE.match(line)
        if m:
            options.append((int(m.group(1)), m.group(2)))
        elif line.strip() and _INSTRUCTION not in line:
            question_lines.append(line.strip())
    if [n for n, _ in options] != [1, 2, 3, 4, 5]:
        raise ValueError(f"expected answer lines numbered 1..5, found {[n for n, _ in options]}")
    if not question_lines:
        raise ValueError("no question paragraph")
    return " ".join(question_lines), [o for _, o in options]


def _read_items(csv: Path) -> list[dict]:
    """The 24 items in the authentic VSM 2013 English wording (ID, Category, Prompt Text)."""
    try:
        meta = pd.read_csv(csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(csv, "file", "a UTF-8 CSV with columns ID, Category, Prompt Text", str(exc)) from exc
    if not {"ID", "Category", "Prompt Text"} <= set(meta.columns):
        raise InputError(csv, "columns", "columns ID, Category, Prompt Text", list(meta.columns))
    ids = [i.strip().zfill(2) for i in meta["ID"]]
    if sorted(ids) != ITEM_IDS:
        raise InputError(csv, "ID", "the ids 01..24, each once", ids)
    items = []
    for item_id, topic, text in sorted(zip(ids, meta["Category"], meta["Prompt Text"])):
        try:
            question, options = split_prompt_text(text)
        except ValueError as exc:
            raise InputError(csv, f"Prompt Text (item {item_id})", "a question and answer lines 1..5", str(exc)) from None
        items.append({"item_id": item_id, "question": question, "options": options, "topic": topic.strip().lower()})
    return items


def load_translation(path: Path) -> tuple[str, str, dict[str, dict]]:
    """Validate one translation file; returns ``(language, method, {item_id: {question, options}})``."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(path, "file", "valid UTF-8 YAML", str(exc).splitlines()[0]) from exc
    if not isinstance(doc, dict) or set(doc) != {"language", "provenance", "items"}:
        raise InputError(path, "top level", "exactly the keys language, provenance, items",
                         sorted(doc) if isinstance(doc, dict) else type(doc).__name__)
    lang = doc["language"]
    if not isinstance(lang, str) or not re.fullmatch(r"[a-z]{2}", lang):
        raise InputError(path, "language", "an ISO 639-1 code such as 'de'", lang)
    if lang == "en":
        raise InputError(path, "language", "a language other than 'en' (English is the original)", lang)

    prov = doc["provenance"]
    if not isinstance(prov, dict) or not PROVENANCE_REQUIRED <= set(prov) or not set(prov) <= PROVENANCE_ALLOWED:
        raise InputError(path, "provenance", f"a mapping with keys {sorted(PROVENANCE_REQUIRED)} (+ optional note, source_language)",
                         sorted(prov) if isinstance(prov, dict) else prov)
    if prov["method"] not in METHODS:
        raise InputError(path, "provenance.method", f"one of {list(METHODS)}", prov["method"])
    if not isinstance(prov["translator"], str) or not prov["translator"].strip():
        raise InputError(path, "provenance.translator", "a non-empty string", prov["translator"])
    date = prov["date"]
    if isinstance(date, _dt.date):
        date = date.isoformat()
    if not isinstance(date, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise InputError(path, "provenance.date", "a date YYYY-MM-DD", prov["date"])
    if not isinstance(prov["reviewed"], bool):
        raise InputError(path, "provenance.reviewed", "true or false", prov["reviewed"])
    if "note" in prov and not isinstance(prov["note"], str):
        raise InputError(path, "provenance.note", "a string", prov["note"])
    if "source_language" in prov and (not isinstance(prov["source_language"], str)
                                      or not re.fullmatch(r"[a-z]{2}", prov["source_language"])):
        raise InputError(path, "provenance.source_language", "an ISO 639-1 code such as 'en'",
                         prov["source_language"])

    items = doc["items"]
    if not isinstance(items, dict):
        raise InputError(path, "items", "a mapping from item id (\"01\"..\"24\") to {question, options}")
    bad_keys = [k for k in items if not isinstance(k, str)]
    if bad_keys:
        raise InputError(path, "items", "quoted item ids such as \"01\" (unquoted 01 is read as a number)", bad_keys)
    if sorted(items) != ITEM_IDS:
        missing = sorted(set(ITEM_IDS) - set(items))
        extra = sorted(set(items) - set(ITEM_IDS))
        raise InputError(path, "items", "exactly the item ids 01..24", {"missing": missing, "unexpected": extra})
    out = {}
    for item_id in ITEM_IDS:
        entry = items[item_id]
        where = f"items.{item_id}"
        if not isinstance(entry, dict) or set(entry) != {"question", "options"}:
            raise InputError(path, where, "a mapping with exactly the keys question, options", entry)
        question, options = entry["question"], entry["options"]
        if not isinstance(question, str) or not question.strip():
            raise InputError(path, f"{where}.question", "a non-empty string", question)
        if (not isinstance(options, list) or len(options) != N_OPTIONS
                or not all(isinstance(o, str) and o.strip() for o in options)):
            raise InputError(path, f"{where}.options", f"a list of exactly {N_OPTIONS} non-empty strings", options)
        out[item_id] = {"question": question.strip(), "options": [o.strip() for o in options]}
    return lang, prov["method"], out


def _read_scores(path: Path, study: str, report: list[str], strict: bool = False) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(path, "file", "a ';'-separated CSV", str(exc)) from exc
    needed = ["country", *DIMENSIONS]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise InputError(path, "columns", f"columns {needed}", list(raw.columns))
    rows, left_out, missing_scores = [], [], 0
    mapper = CountryMapper(path, strict=strict)
    seen: dict[str, str] = {}
    for line, rec in enumerate(raw.itertuples(index=False), start=2):
        survey_name = rec.country.strip()
        code = mapper.national(survey_name)
        if code is None:
            if survey_name not in mapper.unknown:
                left_out.append(survey_name)
            continue
        if code in seen:
            raise InputError(path, f"country (line {line})", f"one row per country ({code} also on {seen[code]!r})",
                             survey_name)
        seen[code] = survey_name
        for column, dim in DIMENSIONS.items():
            value = getattr(rec, column).strip()
            if value in ("", "#NULL!"):
                missing_scores += 1
                continue
            try:
                score = float(value)
            except ValueError as exc:
                raise InputError(path, f"{column} (line {line})", "a number or #NULL!", value) from exc
            rows.append({"study": study, "country": code, "dimension": dim, "score": score})
    report.append(f"Hofstede scores: {len(seen)} countries, {len(rows)} (country, dimension) scores; "
                  f"{missing_scores} missing (#NULL!) omitted")
    mapper.check_strict()
    report.extend(line for line in mapper.notes() if "unknown" in line)
    if left_out:
        report.append(f"left out {len(left_out)} Hofstede rows that are regions or sub-national: {', '.join(left_out)}")
    return scores_frame(rows)


def load(study: str, paths: dict, *, strict_countries: bool = False) -> SurveyTables:
    """Import VSM 2013 items (+ translations) and Hofstede's 6-D scores.

    ``strict_countries``: an unknown country name in the Hofstede file is an InputError (default:
    the row is left out and reported)."""
    csv = require_path(paths, "items_csv", "vsm2013")
    hofstede = require_path(paths, "hofstede", "vsm2013")
    report: list[str] = []
    base = _read_items(csv)

    def row(item: dict, lang: str, translation: str, question: str, options: list[str]) -> dict:
        return {"study": study, "item_id": item["item_id"], "lang": lang, "translation": translation,
                "question": question, "options": options, "non_substantive": [False] * N_OPTIONS,
                "scale": "ordinal", "source": "VSM2013", "topic": item["topic"]}

    rows = [row(it, "en", "original", it["question"], it["options"]) for it in base]
    tdir = paths.get("translations_dir") if isinstance(paths, dict) else None
    files = sorted(Path(tdir).glob("*.yaml")) if tdir and Path(tdir).is_dir() else []
    langs: dict[str, Path] = {}
    for f in files:
        lang, method, texts = load_translation(f)
        if lang in langs:
            raise InputError(f, "language", f"one file per language ({lang!r} is also in {langs[lang].name})", lang)
        langs[lang] = f
        rows.extend(row(it, lang, method, texts[it["item_id"]]["question"], texts[it["item_id"]]["options"])
                    for it in base)
    report.append(f"{len(base)} items; languages: en" + "".join(f", {lang}" for lang in sorted(langs))
                  + ("" if files else " (no translations found)"))
    scores = _read_scores(hofstede, study, report, strict_countries)
    return SurveyTables(items_frame(rows), targets_frame([]), scores, report)
