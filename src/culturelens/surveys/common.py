"""Shared pieces of the survey importers: table columns, the result dataclass, non-substantive
option detection, distribution clean-up and :func:`substantive_view`.

Table columns are the contract in ``docs/architecture.md`` (items, targets, scores). List columns
(``options``, ``non_substantive``) hold Python lists; pyarrow writes them as ``list<>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from culturelens import countries
from culturelens.errors import InputError

log = logging.getLogger(__name__)

ITEM_COLUMNS = ["study", "item_id", "lang", "translation", "question", "options",
                "non_substantive", "scale", "source", "topic", "source_options", "source_index", "source_numbers"]
TARGET_COLUMNS = ["study", "item_id", "country", "option_index", "share", "n", "survey_name"]
SCORE_COLUMNS = ["study", "country", "dimension", "score"]

_LIST_COLUMNS = ("options", "non_substantive", "kept_options", "shown_options", "labels", "source_options",
                 "source_index", "source_numbers")
_DTYPES = {"option_index": "int64", "share": "float64", "n": "float64", "score": "float64"}


@dataclass
class SurveyTables:
    """What an importer returns: the three normalised tables and human-readable notes."""

    items: pd.DataFrame
    targets: pd.DataFrame
    scores: pd.DataFrame
    report: list[str] = field(default_factory=list)
    #: per (item, country) split-half agreement of the respondents (formats with microdata only)
    ceiling: pd.DataFrame | None = None
    #: gold label per (item, culture) (label tasks only: culemo.LABEL_COLUMNS)
    labels: pd.DataFrame | None = None


def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """A table with exactly ``columns`` in order and the contract dtypes (also when empty)."""
    df = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col in _DTYPES:
            df[col] = df[col].astype(_DTYPES[col])
        elif col in _LIST_COLUMNS:
            df[col] = pd.Series([list(v) for v in df[col]], index=df.index, dtype=object)
        else:
            df[col] = df[col].astype("str") if len(df) else pd.Series([], dtype="str")
    return df.reset_index(drop=True)


def items_frame(rows: list[dict]) -> pd.DataFrame:
    """The items table. ``source_options`` (the options as the source lists them, in its order:
    GOQA's option list, WVS-7's answer codes in the codebook's order; options the importer removed
    included), ``source_index`` (per source option, the position in the item's ``options`` AS
    IMPORTED — before :func:`substantive_view` drops non-substantive ones — of the option it counts
    towards, -1 for one that is no answer) and ``source_numbers`` (the number the source gives each
    source option: GOQA its position from 1, WVS-7 its answer code) default to ``options`` as they
    are, numbered from 1. An importer that reorders, merges or removes options (GOQA's scale order,
    WVS-7's code adjustments) sets them, so that anything given by position or number in the
    source's own terms (an imported distribution as a list, an option number) lands on the item's
    options (:func:`from_source`)."""
    rows = [{"source_options": list(r["options"]), "source_index": list(range(len(r["options"]))),
             "source_numbers": list(range(1, len(r.get("source_options", r["options"])) + 1)), **r} for r in rows]
    return frame(rows, ITEM_COLUMNS)


def from_source(values, source_index, n_options: int) -> np.ndarray:
    """Numbers given per option in the source's order → per option of the item (summed where the
    importer merged source options into one; those it removed are dropped)."""
    out = np.zeros(n_options)
    for value, k in zip(values, source_index):
        if int(k) >= 0:
            out[int(k)] += value
    return out


def source_index_of(order: list[int], n_source: int) -> list[int]:
    """``source_index`` from an importer's ``order`` (the source positions of the item's options,
    in the item's order): -1 for a source option that is not in it."""
    index = [-1] * n_source
    for k, position in enumerate(order):
        index[position] = k
    return index


def targets_frame(rows: list[dict]) -> pd.DataFrame:
    return frame(rows, TARGET_COLUMNS)


def scores_frame(rows: list[dict]) -> pd.DataFrame:
    return frame(rows, SCORE_COLUMNS)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a parquet table back with list columns as Python lists (pyarrow gives numpy arrays)."""
    df = pd.read_parquet(path)
    for col in df.columns:
        if col in _LIST_COLUMNS:
            df[col] = pd.Series([list(v) if v is not None else [] for v in df[col]], index=df.index, dtype=object)
    return df


def stable_id(prefix: str, text: str) -> str:
    """``prefix`` + first 12 hex of sha1 of ``text`` (UTF-8): stable across runs and machines."""
    return prefix + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def require_path(paths: dict, key: str, fmt: str, *, must_exist: bool = True) -> Path:
    """The file named by ``paths[key]``; InputError if the key is missing or the file absent."""
    if not isinstance(paths, dict) or not paths.get(key):
        raise InputError("<config>", f"paths.{key}", f"a file path (required by survey format '{fmt}')",
                         None if not isinstance(paths, dict) else sorted(paths))
    path = Path(paths[key])
    if must_exist and not path.is_file():
        raise InputError(path, "file", "an existing file")
    return path


# --------------------------------------------------------------------------------------------
# Non-substantive options.
#
# THE RULE: an option is non-substantive when it records NO OPINION: don't know, refused, no
# answer, missing, not applicable, not asked, never heard of (the object), can't choose / can't
# say, no opinion, not sure. Nothing else is.
#
# How an answer was obtained does not make it non-substantive. Pew marks answers the interviewer
# did not read out as "(VOL)" / "(Vol.)" (volunteered), "(DO NOT READ)"; WVS writes
# "(spontaneous)". Such a volunteered answer that takes a position — "Neither (VOL)", "Both (VOL)",
# "Both equally (VOL)", "Depends on the situation (VOL)", "Equal threats (VOL)", "No change (VOL)",
# "Other (VOL)", "None of these (VOL)", "Other (DO NOT READ)", "It is against democracy
# (spontaneous)", "Climate change does not exist (Vol.)", "News organizations should not do this
# (VOL)" — is SUBSTANTIVE. A volunteered non-answer ("Don't know (VOL)", "Refused (VOL)",
# "DK/Refused (DO NOT READ)") is non-substantive because of its words, not its marker: the marker
# is stripped (:func:`strip_volunteered`) and the rest is matched against the patterns below,
# case-insensitively, whitespace collapsed, curly apostrophes straightened.
# --------------------------------------------------------------------------------------------
NON_SUBSTANTIVE_PATTERNS = [
    # Don't know, Don't know/Refused, Don't know/ Unsure, Don't know enough to say
    # (not "I do not know examples concerned": that is an answer)
    r"^(i )?(don'?t|do not) know($|\s*[/;,(-]|\s+enough\b)",
    r"^dk\b",                              # DK, DK/Refused, DK/NA
    r"^no answer\b",                       # No answer, No answer/refused
    r"\brefused\b",                        # Refused, DK/Refused, No answer/refused
    r"^(other )?missing\b",                # Missing; Not available / Other missing; Multiple answers ...
    r"^not applicable\b", r"^n/?a$",       # Not applicable, NA, N/A
    r"^never heard of\b",                  # favourability items: no opinion possible
    r"^(haven'?t|have not) heard (enough|of)\b",  # "Haven't heard enough to say"
    r"^no opinion\b", r"^(not sure|unsure)$", r"^(can'?t|cannot) (say|choose)\b", r"^not asked\b",
]
#: Markers of a volunteered / not-read-out answer; they say how an answer was given, not whether
#: it is one. Stripped before matching (and before ladder matching in the GOQA importer).
VOLUNTEERED_PATTERN = r"\(\s*(vol\.?|volunteered|do not read|don'?t read|spontaneous)\s*\)"
#: Labels that are not answers at all (table furniture that slipped into the option list).
JUNK_PATTERNS = [r"^total\b.*\bn\s*=", r"^total$", r"^n\s*=", r"^base\s*[:=]"]

_NS_RE = [re.compile(p, re.IGNORECASE) for p in NON_SUBSTANTIVE_PATTERNS]
_VOL_RE = re.compile(VOLUNTEERED_PATTERN, re.IGNORECASE)
_JUNK_RE = [re.compile(p, re.IGNORECASE) for p in JUNK_PATTERNS]


def norm_label(label: str) -> str:
    """Lower-case, whitespace-collapsed, straight-apostrophe form of a label (for matching only)."""
    return " ".join(str(label).replace("\u2019", "'").replace("\u2018", "'").split()).lower()


def strip_volunteered(label: str) -> str:
    """:func:`norm_label` without the volunteered markers: ``"Neither (VOL)"`` → ``"neither"``."""
    return " ".join(_VOL_RE.sub(" ", norm_label(label)).split())


def is_volunteered(label: str) -> bool:
    """True when the label carries a volunteered marker ("(VOL)", "(DO NOT READ)", "(spontaneous)")."""
    return bool(_VOL_RE.search(norm_label(label)))


def is_junk(label: str) -> bool:
    """True for labels that are not answers (e.g. ``Total N=``)."""
    text = norm_label(label)
    return any(r.search(text) for r in _JUNK_RE)


def is_non_substantive(label: str) -> bool:
    """True when the option records no opinion (see THE RULE above) and for junk labels such as
    ``Total N=``. Volunteered answers that take a position ("Neither (VOL)") are substantive."""
    text = strip_volunteered(label)
    return is_junk(label) or any(r.search(text) for r in _NS_RE)


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------
def check_share(value, file, field_name: str) -> float:
    """A finite, non-negative number; InputError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(file, field_name, "a number", value)
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise InputError(file, field_name, "a finite number >= 0", value)
    return value


class DistributionCounter:
    """Cleans per-(item, country) distributions and counts what it did, for the report.

    * sum == 0 → dropped;  * sum > 1 → renormalised (rounding in the source);
    * sum < 0.99 → renormalised too, counted separately (the contract says shares sum to 1).
    """

    LOW = 0.99

    def __init__(self) -> None:
        self.zero = 0
        self.over = 0
        self.under = 0
        self.max_sum = 0.0

    def clean(self, shares: list[float]) -> list[float] | None:
        total = float(sum(shares))
        if total <= 0:
            self.zero += 1
            return None
        if total > 1 + 1e-9:
            self.over += 1
            self.max_sum = max(self.max_sum, total)
            return [s / total for s in shares]
        if total < self.LOW:
            self.under += 1
            return [s / total for s in shares]
        return list(shares)

    def notes(self) -> list[str]:
        out = []
        if self.zero:
            out.append(f"dropped {self.zero} (item, country) distributions that summed to 0")
        if self.over:
            out.append(f"renormalised {self.over} distributions that summed to more than 1 "
                       f"(largest sum {self.max_sum:.4f})")
        if self.under:
            out.append(f"renormalised {self.under} distributions that summed to less than {self.LOW}")
        return out


class CountryMapper:
    """Maps a survey's country names via :func:`countries.lookup` and counts what was left out.

    A name that neither the country table nor the rules of :mod:`culturelens.countries` know is, by
    default, left out (its rows are not imported), listed in :meth:`notes` and logged once as a
    warning. With ``strict=True`` the importer calls :meth:`check_strict` after reading the file,
    which raises InputError naming the file, the field and every unknown name.
    """

    def __init__(self, file, *, strict: bool = False, field: str = "country") -> None:
        self.file = file
        self.strict = strict
        self.field = field
        self.non_national: dict[str, int] = {}
        self.excluded: dict[str, int] = {}
        self.unknown: dict[str, int] = {}

    def national(self, survey_name: str) -> str | None:
        """The code for a national sample, else None (non-national / excluded / unknown, counted)."""
        if not isinstance(survey_name, str) or not survey_name.strip():
            raise InputError(self.file, self.field, "a non-empty country name or ISO code", survey_name)
        found = countries.lookup(survey_name)
        if found is None:
            if survey_name not in self.unknown:
                log.warning("%s: unknown country name %r (not in %s): its rows are left out%s", self.file,
                            survey_name, countries.TABLE_PATH.name,
                            "" if self.strict else " (set strict_countries: true to make this an error)")
            self.unknown[survey_name] = self.unknown.get(survey_name, 0) + 1
            return None
        code, sample = found
        if sample == "national":
            return code
        bucket = self.non_national if sample == "non-national" else self.excluded
        bucket[survey_name] = bucket.get(survey_name, 0) + 1
        return None

    def check_strict(self) -> None:
        """With ``strict``: InputError naming the file, the field and all unknown names."""
        if self.strict and self.unknown:
            raise InputError(self.file, self.field, f"known country names (strict_countries): "
                             f"{countries.UNKNOWN_EXPECTED}", sorted(self.unknown))

    def notes(self) -> list[str]:
        out = []
        if self.unknown:
            out.append(f"left out {sum(self.unknown.values())} samples with unknown country names "
                       f"(not in resources/countries/{countries.TABLE_PATH.name}; add a row to use them): "
                       + ", ".join(repr(n) for n in sorted(self.unknown)))
        if self.non_national:
            out.append(f"left out {sum(self.non_national.values())} non-national samples "
                       f"({len(self.non_national)} survey names, e.g. {sorted(self.non_national)[0]!r})")
        if self.excluded:
            out.append(f"left out {sum(self.excluded.values())} excluded samples (regions / sub-national rows: "
                       f"{', '.join(sorted(self.excluded))})")
        return out


def parse_json_list(text, file, field_name: str) -> list:
    """A JSON list from a CSV cell (a list value from Parquet passes through)."""
    if isinstance(text, (list, tuple, np.ndarray)):
        return list(text)
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise InputError(file, field_name, "a JSON list such as [\"Yes\", \"No\"]", text) from exc
    if not isinstance(value, list):
        raise InputError(file, field_name, "a JSON list", text)
    return value


# --------------------------------------------------------------------------------------------
# Flagged items
# --------------------------------------------------------------------------------------------
#: Optional boolean item columns that flag an item as unusable for the analysis (set by importers).
FLAG_COLUMNS = {"options_mismatch": "its option list holds statements of other questions"}


def exclude_flagged(items: pd.DataFrame, targets: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Items and targets without the items an importer flagged (:data:`FLAG_COLUMNS`), the flag
    columns removed, and one note per flag listing the items left out (item_id and question start).
    Pure: the inputs are not modified."""
    notes: list[str] = []
    drop = pd.Series(False, index=items.index)
    for col, why in FLAG_COLUMNS.items():
        if col not in items.columns:
            continue
        flagged = items[col].fillna(False).astype(bool)
        if flagged.any():
            listed = items[flagged].drop_duplicates("item_id")
            notes.append(f"left {len(listed)} items out of the analysis ({col}: {why}): "
                         + "; ".join(f"{r.item_id} {r.question[:50]!r}" for r in listed.itertuples(index=False)))
        drop |= flagged
    ids = set(items.loc[drop, "item_id"])
    kept = items[~drop].drop(columns=[c for c in FLAG_COLUMNS if c in items.columns]).reset_index(drop=True)
    return kept, targets[~targets["item_id"].isin(ids)].reset_index(drop=True), notes


# --------------------------------------------------------------------------------------------
# Substantive view
# --------------------------------------------------------------------------------------------
def substantive_view(items: pd.DataFrame, targets: pd.DataFrame,
                     keep_non_substantive: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items and targets as prompts and alignment should see them.

    With ``keep_non_substantive=False``: non-substantive options are removed from each item's
    ``options``/``non_substantive``; ``targets.option_index`` is re-indexed to the kept options,
    rows of removed options are dropped and shares renormalised to 1 per (item, country);
    (item, country) pairs with no substantive mass are dropped, and so are items with no
    substantive option. ``n`` is scaled by the kept mass (respondents who gave a substantive
    answer). Either way a column ``kept_options`` (original option indices kept) is added to the
    returned items so callers can map back. Pure: the inputs are not modified.
    """
    items = items.copy()
    targets = targets.copy()
    opts = [list(o) for o in items["options"]]
    flags = [list(f) for f in items["non_substantive"]]
    if keep_non_substantive:
        items["kept_options"] = pd.Series([list(range(len(o))) for o in opts], index=items.index, dtype=object)
        return items, targets

    items_all = items
    kept = [[i for i, f in enumerate(fl) if not f] for fl in flags]
    items["options"] = pd.Series([[o[i] for i in k] for o, k in zip(opts, kept)], index=items.index, dtype=object)
    items["non_substantive"] = pd.Series([[False] * len(k) for k in kept], index=items.index, dtype=object)
    items["kept_options"] = pd.Series(kept, index=items.index, dtype=object)
    items = items[[len(k) > 0 for k in kept]].reset_index(drop=True)

    keys = [c for c in ("study", "item_id") if c in items.columns and c in targets.columns]
    remap: dict[tuple, dict[int, int]] = {}
    for row in items.itertuples(index=False):
        key = tuple(getattr(row, c) for c in keys)
        mapping = {old: new for new, old in enumerate(row.kept_options)}
        if remap.setdefault(key, mapping) != mapping:
            raise InputError("<items>", "non_substantive", "the same flags in every language of an item", key)
    if targets.empty:
        return items, targets.reset_index(drop=True)

    target_keys = list(zip(*(targets[c] for c in keys)))
    all_keys = {tuple(getattr(r, c) for c in keys) for r in items_all.itertuples(index=False)}
    unknown = sorted({k for k in target_keys if k not in all_keys})
    if unknown:
        raise InputError("<targets>", "item_id", "items present in the items table", unknown[:5])
    new_index = [remap.get(k, {}).get(int(i), -1) for k, i in zip(target_keys, targets["option_index"])]
    out = targets.assign(option_index=new_index)
    out = out[out["option_index"] >= 0]
    group = keys + ["country"]
    mass = out.groupby(group, sort=False)["share"].transform("sum")
    out = out.assign(share=out["share"] / mass.where(mass > 0))
    if "n" in out.columns:
        out["n"] = out["n"] * mass
    out = out[mass > 0].astype({"option_index": "int64"})
    return items, out.reset_index(drop=True)
