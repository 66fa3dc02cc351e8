"""Generic importer for user surveys (CSV or Parquet, chosen by the file extension).

``paths``: ``items`` and ``targets``.

**items** file — one row per (item_id, lang):

=================  ========  ==============================================================
column             required  meaning
=================  ========  ==============================================================
item_id            yes       the item's id (text)
question           yes       question text
options            yes       answer options: a JSON list string in CSV (``["Yes", "No"]``),
                             a list in Parquet; for ordinal items in scale order
scale              yes       ``ordinal`` or ``nominal``
source             yes       free text (e.g. the survey's name)
topic              yes       free text, may be empty
lang               no        ISO 639-1 of question/options (default ``en``)
translation        no        ``original`` (default), ``machine`` or ``human``
non_substantive    no        JSON list of booleans, one per option; empty/missing: detected
                             from the labels (no-opinion answers: "Don't know", "Refused" …; see surveys.common)
=================  ========  ==============================================================

Every language row of one item must have the same number of options (same order) and the same
``scale``/``non_substantive``.

**targets** file — long format, one row per (item, country, option):

=======  ========  =====================================================================
column   required  meaning
=======  ========  =====================================================================
item_id  yes       an item_id of the items file
country  yes       a survey country name from ``resources/countries/survey_names.csv`` or an
                   ISO 3166-1 alpha-2 code (``DE``); non-national / excluded ones are left out
option   yes       an option label of the item, exactly as in the item's first row
share    one of    share of respondents, >= 0; options not listed get share 0
count    the two   respondents (or weighted respondents) who chose the option, >= 0
n        no        respondents (NaN where unknown; with ``count``: the sum of the counts)
=======  ========  =====================================================================

Per (item, country) shares summing to 0 are dropped, to more than 1 (or less than 0.99)
renormalised; both reported. Counts are divided by their (item, country) total. Any other deviation (missing columns, unknown item ids or options,
negative shares, repeated rows) is an InputError.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from culturelens.errors import InputError
from culturelens.surveys.common import (
    CountryMapper, DistributionCounter, SurveyTables, check_share, is_non_substantive, items_frame,
    parse_json_list, require_path, scores_frame, targets_frame,
)

ITEM_REQUIRED = ["item_id", "question", "options", "scale", "source", "topic"]
TARGET_REQUIRED = ["item_id", "country", "option"]
VALUE_COLUMNS = ("share", "count")   # exactly one of them
SCALES = ("ordinal", "nominal")
TRANSLATIONS = ("original", "machine", "human")


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if path.suffix.lower() in (".csv", ".txt"):
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # pyarrow / parser errors of every kind
        raise InputError(path, "file", "a readable CSV (UTF-8) or Parquet file", str(exc)) from exc
    raise InputError(path, "file", "a .csv or .parquet file", path.suffix)


def _text(value, path, field_name: str, *, allow_empty: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        value = ""
    if not isinstance(value, str):
        value = str(value)
    if not allow_empty and not value.strip():
        raise InputError(path, field_name, "a non-empty value")
    return value.strip()


def _items(path: Path, study: str, report: list[str]) -> tuple[list[dict], dict[str, list[str]]]:
    raw = _read(path)
    missing = [c for c in ITEM_REQUIRED if c not in raw.columns]
    if missing:
        raise InputError(path, "columns", f"columns {ITEM_REQUIRED} (+ optional lang, translation, "
                         "non_substantive)", list(raw.columns))
    rows, first_options, seen = [], {}, set()
    detected = 0
    for line, rec in enumerate(raw.to_dict("records"), start=2):
        where = f"line {line}"
        item_id = _text(rec["item_id"], path, f"item_id ({where})")
        lang = _text(rec.get("lang"), path, "lang", allow_empty=True) or "en"
        if (item_id, lang) in seen:
            raise InputError(path, f"item_id ({where})", "one row per (item_id, lang)", (item_id, lang))
        seen.add((item_id, lang))
        options = parse_json_list(rec["options"], path, f"options ({where})")
        if len(options) < 2 or not all(isinstance(o, str) and o.strip() for o in options):
            raise InputError(path, f"options ({where})", "a list of at least 2 non-empty strings", rec["options"])
        options = [o.strip() for o in options]
        if len(set(options)) != len(options):
            raise InputError(path, f"options ({where})", "distinct option labels", options)
        scale = _text(rec["scale"], path, f"scale ({where})")
        if scale not in SCALES:
            raise InputError(path, f"scale ({where})", f"one of {list(SCALES)}", scale)
        translation = _text(rec.get("translation"), path, "translation", allow_empty=True) or "original"
        if translation not in TRANSLATIONS:
            raise InputError(path, f"translation ({where})", f"one of {list(TRANSLATIONS)}", translation)
        ns_raw = rec.get("non_substantive")
        if ns_raw is None or (isinstance(ns_raw, str) and not ns_raw.strip()) or (
                isinstance(ns_raw, float) and math.isnan(ns_raw)):
            flags = [is_non_substantive(o) for o in options]
            detected += 1
        else:
            flags = [bool(f) if isinstance(f, np.bool_) else f
                     for f in parse_json_list(ns_raw, path, f"non_substantive ({where})")]
            if len(flags) != len(options) or not all(isinstance(f, bool) for f in flags):
                raise InputError(path, f"non_substantive ({where})",
                                 f"a list of {len(options)} booleans (true/false), one per option", ns_raw)
        row = {"study": study, "item_id": item_id, "lang": lang, "translation": translation,
               "question": _text(rec["question"], path, f"question ({where})"), "options": options,
               "non_substantive": [bool(f) for f in flags], "scale": scale,
               "source": _text(rec["source"], path, f"source ({where})"),
               "topic": _text(rec["topic"], path, "topic", allow_empty=True)}
        if item_id in first_options:
            first = next(r for r in rows if r["item_id"] == item_id)
            if len(options) != len(first["options"]) or scale != first["scale"] \
                    or row["non_substantive"] != first["non_substantive"]:
                raise InputError(path, f"options ({where})", f"the same number of options, scale and "
                                 f"non_substantive flags as the first row of item {item_id!r}", options)
        else:
            first_options[item_id] = options
        rows.append(row)
    if not rows:
        raise InputError(path, "rows", "at least one item")
    if detected:
        report.append(f"non_substantive flags detected from the labels for {detected} item rows")
    return rows, first_options


def load(study: str, paths: dict, *, strict_countries: bool = False) -> SurveyTables:
    """Import a user survey in the documented items/targets format (``strict_countries``: unknown
    country names are an InputError instead of being left out and reported)."""
    items_path = require_path(paths, "items", "generic")
    targets_path = require_path(paths, "targets", "generic")
    report: list[str] = []
    item_rows, options_of = _items(items_path, study, report)

    raw = _read(targets_path)
    missing = [c for c in TARGET_REQUIRED if c not in raw.columns]
    values = [c for c in VALUE_COLUMNS if c in raw.columns]
    if missing or len(values) != 1:
        raise InputError(targets_path, "columns", f"columns {TARGET_REQUIRED} and one of share or count "
                         "(+ optional n)", list(raw.columns))
    value = values[0]
    mapper = CountryMapper(targets_path, strict=strict_countries)
    dist = DistributionCounter()
    # (item_id, code) -> {"name": survey_name, "shares": [...], "n": float}
    cells: dict[tuple[str, str], dict] = {}
    names_of: dict[tuple[str, str], str] = {}
    clashes = []
    seen_rows = set()
    for line, rec in enumerate(raw.to_dict("records"), start=2):
        where = f"line {line}"
        item_id = _text(rec["item_id"], targets_path, f"item_id ({where})")
        if item_id not in options_of:
            raise InputError(targets_path, f"item_id ({where})", "an item_id of the items file", item_id)
        survey_name = _text(rec["country"], targets_path, f"country ({where})")
        option = _text(rec["option"], targets_path, f"option ({where})")
        options = options_of[item_id]
        if option not in options:
            raise InputError(targets_path, f"option ({where})", f"one of the options of item {item_id!r}: {options}",
                             option)
        share = rec[value]
        if isinstance(share, str):
            try:
                share = float(share)
            except ValueError as exc:
                raise InputError(targets_path, f"{value} ({where})", "a number >= 0", share) from exc
        share = check_share(share, targets_path, f"{value} ({where})")
        n = rec.get("n")
        if isinstance(n, str):
            try:
                n = float(n) if n.strip() else math.nan
            except ValueError as exc:
                raise InputError(targets_path, f"n ({where})", "a number of respondents or empty", n) from exc
        n = math.nan if n is None else float(n)
        if not math.isnan(n) and n < 0:
            raise InputError(targets_path, f"n ({where})", "a number of respondents >= 0", n)

        if (item_id, survey_name, option) in seen_rows:
            raise InputError(targets_path, f"option ({where})", "one row per (item_id, country, option)",
                             (item_id, survey_name, option))
        seen_rows.add((item_id, survey_name, option))
        code = mapper.national(survey_name)
        if code is None:
            continue
        key = (item_id, code)
        if key in names_of and names_of[key] != survey_name:
            clashes.append(f"{item_id}: {survey_name!r} and {names_of[key]!r} → {code}")
            continue
        names_of[key] = survey_name
        cell = cells.setdefault(key, {"name": survey_name, "shares": [0.0] * len(options), "n": math.nan})
        cell["shares"][options.index(option)] = share
        if not math.isnan(n):
            if not math.isnan(cell["n"]) and cell["n"] != n:
                raise InputError(targets_path, f"n ({where})", f"the same n on every row of {item_id}/{survey_name}", n)
            cell["n"] = n

    mapper.check_strict()
    rows = []
    for (item_id, code), cell in cells.items():
        if value == "count":
            total = sum(cell["shares"])
            cell["shares"] = [c / total for c in cell["shares"]] if total > 0 else cell["shares"]
            cell["n"] = total if math.isnan(cell["n"]) else cell["n"]
        clean = dist.clean(cell["shares"])
        if clean is None:
            continue
        rows.extend({"study": study, "item_id": item_id, "country": code, "option_index": k, "share": s,
                     "n": cell["n"], "survey_name": cell["name"]} for k, s in enumerate(clean))
    targets = targets_frame(rows)
    report.insert(0, f"{len(options_of)} items ({len(item_rows)} item rows), "
                     f"{targets['country'].nunique()} countries, {len(cells) - dist.zero} (item, country) distributions")
    report.extend(mapper.notes())
    report.extend(dist.notes())
    if clashes:
        uniq = sorted(set(clashes))
        report.append(f"kept the first of two survey names mapping to one country: {'; '.join(uniq[:5])}")
    return SurveyTables(items_frame(item_rows), targets, scores_frame([]), report)
