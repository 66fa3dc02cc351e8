"""Survey importers: one per format, each returning the normalised tables of docs/architecture.md.

``load(fmt, study, paths, strict_countries=False)`` → :class:`SurveyTables` (``items``, ``targets``,
``scores``, ``report``). A country name the country table and rules do not know is reported and
its rows left out, unless ``strict_countries`` (study config key) makes it an InputError.

``paths`` keys per format:

============  =====================================================================
format        paths keys
============  =====================================================================
goqa          ``csv`` (official ``global_opinions.csv`` layout)
vsm2013       ``items_csv``, ``hofstede``; optional ``translations_dir``
wvs_stance    ``targets`` (ground_truth_every_country.csv), ``stances`` (stance_labels.json)
generic       ``items``, ``targets`` (CSV or Parquet; format in :mod:`.generic`)
culemo        ``eng`` and any of ``amh ara deu hin spn`` (one TSV per language; :mod:`.culemo`)
wvs7          ``microdata`` (official WVS-7 CSV / .sav / .dta), ``codebook``, ``questions``;
              optional ``adjustments`` (see :mod:`.wvs7`)
============  =====================================================================

``exclude_flagged`` leaves out items an importer flagged as unusable (GOQA ``options_mismatch``)
with a note; ``substantive_view`` is the one place where non-substantive options are dropped and shares
renormalised (used by both prompts and alignment). ``read_table`` reads a parquet table back with
list columns as Python lists.
"""

from __future__ import annotations

from culturelens.errors import InputError
from culturelens.surveys import culemo, generic, goqa, vsm2013, wvs7, wvs_stance
from culturelens.surveys.common import (
    ITEM_COLUMNS, SCORE_COLUMNS, TARGET_COLUMNS, SurveyTables, exclude_flagged, read_table, substantive_view,
)

FORMATS = {"goqa": goqa.load, "vsm2013": vsm2013.load, "wvs_stance": wvs_stance.load, "generic": generic.load,
           "wvs7": wvs7.load, "culemo": culemo.load}
PATH_KEYS = {
    "goqa": ["csv"],
    "vsm2013": ["items_csv", "hofstede", "translations_dir"],
    "wvs_stance": ["targets", "stances"],
    "generic": ["items", "targets"],
    "wvs7": ["microdata", "codebook", "questions", "adjustments"],
    "culemo": list(culemo.LANGUAGES),
}

__all__ = ["load", "substantive_view", "exclude_flagged", "read_table", "SurveyTables", "FORMATS", "PATH_KEYS",
           "ITEM_COLUMNS", "TARGET_COLUMNS", "SCORE_COLUMNS"]


def load(fmt: str, study: str, paths: dict[str, str], *, strict_countries: bool = False,
         label_set: str | None = None) -> SurveyTables:
    """Import one study's survey files in format ``fmt`` (see the table above for ``paths``);
    ``label_set`` chooses the annotation of a label task (culemo: ``emotion`` or ``sentiment``)."""
    if fmt not in FORMATS:
        raise InputError("<config>", "format", f"one of {sorted(FORMATS)}", fmt)
    if not isinstance(study, str) or not study:
        raise InputError("<config>", "study", "a non-empty study name", study)
    if not isinstance(paths, dict):
        raise InputError("<config>", "paths", f"a mapping with keys {PATH_KEYS[fmt]}", paths)
    if not isinstance(strict_countries, bool):
        raise InputError("<config>", "strict_countries", "true or false", strict_countries)
    extra = {"label_set": label_set} if fmt == "culemo" and label_set is not None else {}
    tables = FORMATS[fmt](study, {k: str(v) for k, v in paths.items() if v is not None},
                          strict_countries=strict_countries, **extra)
    _check_not_empty(fmt, paths, tables)
    return tables


def _check_not_empty(fmt: str, paths: dict, tables: SurveyTables) -> None:
    """A survey that imports to nothing is an error naming its file, not an empty table a later
    step trips over."""
    main = paths.get(PATH_KEYS[fmt][0])
    if tables.items.empty:
        raise InputError(main, "rows", "at least one survey item")
    if fmt == "vsm2013":
        return
    if tables.targets.empty:
        target_file = paths.get("targets", main)
        unknown = [line for line in tables.report if "unknown" in line.lower()]
        raise InputError(target_file, "rows", "at least one answer distribution of a known country"
                         + (f" ({unknown[0][:150]})" if unknown else ""), "no rows left")
