"""WVS/EVS stance importer (Rystrøm et al. 2025, "Multilingual != Multicultural").

``paths``:

* ``stances`` — ``stance_labels.json``: lower-case item code → ``[pro statement, con statement]``.
* ``targets`` — ``ground_truth_every_country.csv``: ``cntry_an`` (country code; ``NIR`` =
  Northern Ireland → ``GB-NIR``), ``question_key`` (item code), ``pro_score`` (share on the pro
  side, 0..1), ``lnge_iso`` (interview language; not used).

Items: one per stance item (``item_id`` upper-case, ``F118``); the importer stays neutral about
prompting: ``question`` = the pro statement, ``options`` = ``["agree", "disagree"]``, ``nominal``,
source ``WVS/EVS``, ``topic`` from the WVS/EVS variable letter. Targets: two rows per
(item, country): agree = pro_score, disagree = 1 − pro_score; ``n`` NaN. Rows for items without a
stance statement are ignored (counted); stance items without data are reported.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from culturelens.errors import InputError
from culturelens.surveys.common import (
    CountryMapper, SurveyTables, items_frame, require_path, scores_frame, targets_frame,
)

OPTIONS = ["agree", "disagree"]
#: Top-level categories of the WVS/EVS integrated codebook, by the variable's first letter.
TOPICS = {
    "A": "perceptions of life", "B": "environment", "C": "work", "D": "family",
    "E": "politics and society", "F": "religion and morale", "G": "national identity",
    "H": "security", "I": "science and technology",
}


def _read_stances(path: Path) -> dict[str, tuple[str, str]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, "file", "a JSON object item code -> [pro, con]", str(exc)) from exc
    if not isinstance(doc, dict) or not doc:
        raise InputError(path, "top level", "a non-empty JSON object item code -> [pro, con]")
    out = {}
    for key, value in doc.items():
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, str) and v.strip() for v in value)):
            raise InputError(path, key, "a list [pro statement, con statement]", value)
        item_id = key.strip().upper()
        if item_id in out:
            raise InputError(path, key, "each item code once", key)
        out[item_id] = (value[0].strip(), value[1].strip())
    return out


def load(study: str, paths: dict, *, strict_countries: bool = False) -> SurveyTables:
    """Import the stance items and the per-country pro shares (``strict_countries``: unknown country
    codes are an InputError instead of being left out and reported)."""
    stances_path = require_path(paths, "stances", "wvs_stance")
    targets_path = require_path(paths, "targets", "wvs_stance")
    stances = _read_stances(stances_path)
    try:
        raw = pd.read_csv(targets_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(targets_path, "file", "a CSV with cntry_an, question_key, pro_score", str(exc)) from exc
    raw.columns = [c.strip().lower() for c in raw.columns]
    needed = ["cntry_an", "question_key", "pro_score"]
    if not set(needed) <= set(raw.columns):
        raise InputError(targets_path, "columns", f"columns {needed}", list(raw.columns))

    report: list[str] = []
    mapper = CountryMapper(targets_path, field="cntry_an", strict=strict_countries)
    seen: dict[tuple[str, str], str] = {}
    rows, ignored, clashes = [], set(), []
    for line, rec in enumerate(raw.itertuples(index=False), start=2):
        item_id = rec.question_key.strip().upper()
        if item_id not in stances:
            ignored.add(item_id)
            continue
        try:
            pro = float(rec.pro_score)
        except ValueError as exc:
            raise InputError(targets_path, f"pro_score (line {line})", "a number in [0, 1]", rec.pro_score) from exc
        if not math.isfinite(pro) or not 0.0 <= pro <= 1.0:
            raise InputError(targets_path, f"pro_score (line {line})", "a number in [0, 1]", rec.pro_score)
        survey_name = rec.cntry_an.strip()
        code = mapper.national(survey_name)
        if code is None:
            continue
        if (item_id, code) in seen:
            clashes.append(f"{item_id}/{code} (line {line})")
            continue
        seen[(item_id, code)] = survey_name
        for k, share in enumerate((pro, 1.0 - pro)):
            rows.append({"study": study, "item_id": item_id, "country": code, "option_index": k,
                         "share": share, "n": math.nan, "survey_name": survey_name})

    mapper.check_strict()
    items = [{"study": study, "item_id": item_id, "lang": "en", "translation": "original",
              "question": pro, "options": list(OPTIONS), "non_substantive": [False, False],
              "scale": "nominal", "source": "WVS/EVS", "topic": TOPICS.get(item_id[:1], "")}
             for item_id, (pro, _con) in stances.items()]
    targets = targets_frame(rows)
    with_data = set(targets["item_id"])
    without = sorted(set(stances) - with_data)
    report.append(f"{len(items)} stance items, {len(with_data)} with targets, "
                  f"{targets['country'].nunique()} countries")
    if without:
        report.append(f"{len(without)} stance items have no target data: {', '.join(without)}")
    if ignored:
        report.append(f"ignored rows of {len(ignored)} items without a stance statement")
    report.extend(mapper.notes())
    if clashes:
        report.append(f"kept the first of repeated (item, country) rows: {', '.join(clashes[:5])}"
                      + (" …" if len(clashes) > 5 else ""))
    return SurveyTables(items_frame(items), targets, scores_frame([]), report)
