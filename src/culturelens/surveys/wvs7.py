"""World Values Survey wave 7 microdata: the official cross-national file, one row per respondent.

``paths``: ``microdata`` (the official ``WVS_Cross-National_Wave_7`` file as CSV, or SPSS ``.sav`` /
Stata ``.dta`` through pandas, the former needing pyreadstat), ``codebook`` and ``questions`` (the
WVS-7 item bank shipped in ``resources/surveys/wvs7/``: answer codes and labels per variable, item
wording and scale), optional ``adjustments`` (codes moved on or off the answer scale).

What it makes of them:

- an item per value question (``use_case: value`` in ``questions``) present in the file; its
  options are the codebook's answer labels in scale order. ``adjustments`` move a code to another
  scale position (Q119's "Hard to say" to the middle of the agree–disagree scale; Q241's
  "against democracy" merged into 1) or off the scale (``""``: "Other answer", "Not allowed to
  vote"), which makes it a flagged non-substantive option;
- "Don't know" (-1) and "No answer" (-2) are kept as flagged non-substantive options (dropped and
  renormalised by default, like every survey's: ``keep_non_substantive``); "Not applicable" (-3),
  "Not asked" (-4) and "Missing" (-5) are not answers: left out and counted in the notes;
- per country (``B_COUNTRY_ALPHA``: ISO 3166-1 alpha-3 through CLDR, else the codebook's name
  through the country table), the answer shares weighted by ``W_WEIGHT`` (the survey's weight; a
  file without it is read unweighted, said in the notes) and ``n``, the real number of respondents
  who answered (unweighted), which the oracle resamples with;
- the split-half noise ceiling (:func:`split_half`): per item and country, 1 − JS distance
  between the weighted answer shares of two random halves of the country's respondents.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from culturelens import countries, metrics
from culturelens.errors import InputError
from culturelens.surveys.common import CountryMapper, SurveyTables, items_frame, require_path, scores_frame, targets_frame

COUNTRY = "B_COUNTRY_ALPHA"
WEIGHT = "W_WEIGHT"
KEPT_MISSING = {-1: True, -2: True}        # Don't know, No answer: flagged options
NOT_ANSWERS = (-3, -4, -5)                 # not applicable, not asked, missing
SPLIT_SEED = 7
CEILING_COLUMNS = ["study", "item_id", "country", "split_half_js_sim", "n_half_a", "n_half_b"]


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, "file", "a JSON object", str(err)) from None


def options_of(variable: str, codebook: dict, adjustments: dict, where) -> tuple[list[str], list[bool], dict[int, int]]:
    """The item's option labels, their non-substantive flags, and raw answer code → option index
    (codes that are not answers have none)."""
    choices = {}
    for code, label in codebook[variable].get("choices", {}).items():
        try:
            choices[int(code)] = str(label)
        except ValueError:
            raise InputError(where, f"{variable}.choices", "integer answer codes", code) from None
    adjust = adjustments.get(variable, {})
    position: dict[int, int | None] = {}
    for code in sorted(c for c in choices if c >= 0):
        moved = adjust.get(str(code))
        position[code] = code if moved is None else (int(moved) if str(moved).strip() else None)
    on_scale = sorted({p for p in position.values() if p is not None})
    labels, flags, index = [], [], {}
    for p in on_scale:
        codes = [c for c, q in position.items() if q == p]
        label_code = p if p in codes else codes[0]   # merged codes take the label of the code at p
        for c in codes:
            index[c] = len(labels)
        labels.append(choices[label_code])
        flags.append(False)
    for code in [c for c, q in position.items() if q is None] + [c for c in KEPT_MISSING if c in choices]:
        index[code] = len(labels)
        labels.append(choices[code])
        flags.append(True)
    return labels, flags, index


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".sav":
            return pd.read_spss(path, usecols=columns, convert_categoricals=False)
        if suffix == ".dta":
            header = pd.read_stata(path, iterator=True).variable_labels()
            return pd.read_stata(path, columns=[c for c in columns if c in header], convert_categoricals=False)
        table = pd.read_csv(path, usecols=lambda c: c in set(columns), low_memory=False)
        if len(table.columns) <= 1:   # a ;-separated export
            table = pd.read_csv(path, sep=";", usecols=lambda c: c in set(columns), low_memory=False)
        return table
    except ImportError as err:
        raise InputError(path, "file", "a file pandas can read here (SPSS needs pyreadstat: "
                         "`uv pip install pyreadstat`)", str(err)) from None
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise InputError(path, "file", "the WVS-7 microdata as CSV, SPSS .sav or Stata .dta", str(err)) from None


def _country_codes(raw: pd.Series, codebook: dict, path: Path, mapper: CountryMapper) -> pd.Series:
    """ISO 3166-1 alpha-2 (or GB-NIR) per respondent; None where the country is left out."""
    names = codebook.get(COUNTRY, {}).get("choices", {})
    out = {}
    for alpha3 in raw.dropna().unique():
        key = str(alpha3).strip()
        # WVS's own codes (MOR for Morocco, NIR for Northern Ireland): by the codebook's name
        out[alpha3] = countries.from_iso_alias(key) or mapper.national(names.get(key, key))
    return raw.map(out)


def split_half(n: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """Half membership (0 or 1) of a country's n respondents, in file order: a seeded random
    permutation puts the first ⌈n/2⌉ in half 0. It depends on n and the seed only, never on the answers."""
    order = np.random.default_rng(seed).permutation(n)
    half = np.zeros(n, dtype=np.int8)
    half[order[(n + 1) // 2:]] = 1
    return half


def load(study: str, paths: dict, *, strict_countries: bool = False) -> SurveyTables:
    micro_path = require_path(paths, "microdata", "wvs7")
    codebook_path = require_path(paths, "codebook", "wvs7")
    questions_path = require_path(paths, "questions", "wvs7")
    codebook, questions = _json(codebook_path), _json(questions_path)
    adjustments = _json(Path(paths["adjustments"])) if paths.get("adjustments") else {}
    wanted = [q for q, meta in questions.items() if isinstance(meta, dict) and meta.get("use_case") == "value"]
    table = _read(micro_path, [COUNTRY, WEIGHT, *wanted])
    if COUNTRY not in table.columns:
        raise InputError(micro_path, COUNTRY, "the column of ISO 3166-1 alpha-3 country codes (official layout)",
                         list(table.columns)[:10])
    report: list[str] = []
    present = [q for q in wanted if q in table.columns and q in codebook]
    if not present:
        raise InputError(micro_path, "columns", "value questions of the WVS-7 item bank (Q1 … Q259)",
                         list(table.columns)[:10])
    if WEIGHT in table.columns:
        weights = pd.to_numeric(table[WEIGHT], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
        if len(bad):
            raise InputError(micro_path, f"{WEIGHT} (row {bad[0] + 2})", "a finite weight >= 0", table[WEIGHT].iloc[bad[0]])
    else:
        weights = np.ones(len(table))
        report.append(f"no {WEIGHT} column: shares are unweighted")
    mapper = CountryMapper(micro_path, strict=strict_countries, field=COUNTRY)
    country = _country_codes(table[COUNTRY], codebook, micro_path, mapper)
    mapper.check_strict()
    keep = country.notna().to_numpy()
    codes_of = sorted(country[keep].unique())
    country_idx = pd.Categorical(country[keep], categories=codes_of).codes
    weights = weights[keep]
    half = np.zeros(keep.sum(), dtype=np.int8)
    for c in range(len(codes_of)):
        rows = np.flatnonzero(country_idx == c)
        half[rows] = split_half(len(rows))

    item_rows, target_rows, ceiling_rows = [], [], []
    not_answers = 0
    for q in present:
        meta = questions[q]
        labels, flags, index = options_of(q, codebook, adjustments, codebook_path)
        if sum(not f for f in flags) < 2:
            report.append(f"{q}: fewer than two answers on its scale in the codebook, left out")
            continue
        scale = "ordinal" if meta.get("answer_data_type") == "ordinal" else "nominal"
        source = [c for c in codebook[q]["choices"] if int(c) in index]
        item_rows.append({"study": study, "item_id": q, "lang": "en", "translation": "original",
                          "question": str(meta.get("question") or codebook[q].get("question")), "options": labels,
                          "non_substantive": flags, "scale": scale, "source": "WVS-7",
                          "topic": str(meta.get("category", "")),
                          # the codebook's answers (and kept Don't know / No answer) as it lists
                          # them: a list in that order or an answer code (another tool's answers)
                          # lands on the moved or merged option
                          "source_options": [codebook[q]["choices"][c] for c in source],
                          "source_index": [index[int(c)] for c in source],
                          "source_numbers": [int(c) for c in source]})
        raw = pd.to_numeric(table[q], errors="coerce").to_numpy()[keep]
        lookup = np.full(raw.shape, -1)
        for code, k in index.items():
            lookup[raw == code] = k
        not_answers += int(np.isin(raw, NOT_ANSWERS).sum())
        answered = lookup >= 0
        k = len(labels)
        cells = country_idx[answered].astype(np.int64) * k + lookup[answered]
        size = len(codes_of) * k
        weighted = np.bincount(cells, weights=weights[answered], minlength=size).reshape(-1, k)
        counts = np.bincount(cells, minlength=size).reshape(-1, k)
        halves = [np.bincount(cells[half[answered] == h], weights=weights[answered][half[answered] == h],
                              minlength=size).reshape(-1, k) for h in (0, 1)]
        n_halves = [np.bincount(country_idx[answered][half[answered] == h], minlength=len(codes_of)) for h in (0, 1)]
        substantive = ~np.asarray(flags)
        for c, code in enumerate(codes_of):
            total = weighted[c].sum()
            if total <= 0:
                continue
            n = int(counts[c].sum())
            target_rows.extend({"study": study, "item_id": q, "country": code, "option_index": j,
                                "share": float(weighted[c, j] / total), "n": float(n), "survey_name": code}
                               for j in range(k))
            a, b = halves[0][c][substantive], halves[1][c][substantive]
            sim = metrics.js_similarity(a, b) if a.sum() > 0 and b.sum() > 0 else math.nan
            ceiling_rows.append({"study": study, "item_id": q, "country": code, "split_half_js_sim": sim,
                                 "n_half_a": int(n_halves[0][c]), "n_half_b": int(n_halves[1][c])})
    ceiling = pd.DataFrame(ceiling_rows, columns=CEILING_COLUMNS)
    targets = targets_frame(target_rows)
    report.insert(0, f"{len(item_rows)} value questions, {len(codes_of)} countries, {int(keep.sum())} respondents "
                     f"({int((~keep).sum())} in countries left out)")
    report.append(f"{not_answers} answers coded not applicable / not asked / missing (-3, -4, -5) left out")
    report.extend(mapper.notes())
    if len(ceiling):
        report.append(f"split-half noise ceiling (1 − JSD between random halves of each country's respondents): "
                      f"mean {ceiling['split_half_js_sim'].mean():.4f} over {ceiling['split_half_js_sim'].notna().sum()} "
                      f"(item, country) pairs")
    return SurveyTables(items_frame(item_rows), targets, scores_frame([]), report, ceiling)
