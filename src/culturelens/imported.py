"""Answers collected elsewhere (another tool, a published study's outputs), imported as a model.

A model entry ``provider: imported`` names its files with ``path``: a file, a glob, or a list of
them, in CSV, TSV, JSON Lines, a JSON array of objects or Parquet (by extension; ``.gz`` for the
text formats), with per-file values from ``{placeholders}`` in the path or given per file
(culturelens.answer_files). One row per answer. After renaming with the entry's ``columns`` (file
column → culturelens column), the file's own values fill columns it lacks, then ``defaults`` fill
what is still missing and ``recode`` maps values (``{prompt_lang: {amh: am}}``). The columns are:

===========  ========  ===========================================================================
column       required  meaning
===========  ========  ===========================================================================
study        yes       the study the answer belongs to (rows of other studies are counted apart)
item         yes       the item's id, or its question text (in any of the item's languages), see
                       "Matching" below
country      yes       target country: ISO 3166 code or survey country name; ``none`` or empty
                       for an answer without a target country (default prompting)
condition    yes       a condition name of ``catalog.conditions`` (e.g. ``cross_national``)
prompt_lang  no        language of the prompt (default ``en``)
model        no        with the entry's ``select_model``, only rows with this value are read
item_id      no        decides between items that share a question text
options      no        the option list the answer was given over (a list): also decides between
                       items that share a question text (GOQA asks some wordings twice)
one of:
distribution           probabilities over the item's options, in the order the SURVEY FILE lists
                       them (the item's ``source_options``, not the scale order an importer may
                       have put them into): a JSON or Python list (over all of the file's options,
                       or over the options the study keeps), or a JSON object option text (in any
                       of the item's languages) → probability
label                  the chosen option: its text (any of the item's languages), a letter, or its
                       number as the source numbers it (``source_numbers``: GOQA 1 = the file's
                       first option; WVS-7 the answer code)
answer                 a free-text answer, matched as a sampled answer is (culturelens.elicit):
                       a letter (A = the survey file's first option), or an option's text;
                       several rows for one prompt are several draws
===========  ========  ===========================================================================

Matching a question text to an item, as the survey importers join texts: exactly first (case,
whitespace and final punctuation ignored: "…kisses your wife/husband?" is "…wife/husband"), then
each text left over to the closest text (difflib ratio >= SIMILARITY) among the items no text
matched exactly, each item taken once and every close match reported ("porno" for
"pornographic"). A text several items share is decided by ``item_id``, then ``options``, then (for
a distribution) the one item of the analysis whose option count it fits; items that share text AND
options (a question a dataset repeats, one observation per row) take the file's rows in order: its
first row of that text (per country, condition and prompt language) is the first item, the second
the second (not for free-text ``answer`` draws, several of which answer one prompt). Otherwise the
row is reported with both candidates.

Each answer becomes a distribution over the study's options (non-substantive ones dropped and the
rest renormalised where the study drops them, exactly as the survey's own distributions). It is one
observation: the first paraphrase and option order of its (item, country, condition, prompt
language) cell receives it (culturelens.prompts.first_variant). Nothing is dropped silently: the
notes count the rows read, of the study, matched to an item, matched to a prompt cell and scored,
and every row not used under one reason (with a count and an example: item unknown, item left out
of the analysis and why, a country not selected, no survey data for that country, a distribution
over another number of options, a repeated answer ...); the counts add up. Prompt cells without an
imported answer are reported as abstained by the distributions job.
"""

from __future__ import annotations

import ast
import difflib
import gzip
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from . import answer_files, elicit
from .errors import InputError
from .surveys.common import from_source

KINDS = ("distribution", "label", "answer")
KEY = ["item_id", "country", "condition", "prompt_lang"]
COLUMNS = [*KEY, "probs", "rows", "unreadable"]
#: marks an answer whose own content is unusable (scored as unreadable, not left out)
UNREADABLE = "unreadable"
NO_COUNTRY = "none"
#: the least difflib ratio at which a question text is matched to a survey item it does not equal
SIMILARITY = 0.9


def read_file(path: str | Path) -> pd.DataFrame:
    """The file as a table of strings/values: CSV, TSV, JSON Lines, a JSON array of objects (one per
    answer) or Parquet, by extension (``.gz`` for the text formats)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file", "an existing file of imported answers (CSV, TSV, JSONL, JSON or Parquet)")
    suffix = answer_files.suffix(path)
    try:
        if suffix in (".csv", ".csv.gz"):
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix in (".tsv", ".tsv.gz"):
            return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        if suffix in (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"):
            return pd.read_json(path, lines=True, dtype=False)
        if suffix in (".json", ".json.gz"):
            opener = gzip.open if suffix.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as fh:
                records = json.load(fh)
            if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
                raise InputError(path, "file", "a JSON array of objects, one per answer (or JSON Lines: .jsonl)",
                                 type(records).__name__ if not isinstance(records, list) else "an array of other values")
            return pd.DataFrame.from_records(records)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as err:
        raise InputError(path, "file", f"a readable {suffix.lstrip('.')} file", str(err)[:200]) from None
    raise InputError(path, "file", f"a file ending in one of {', '.join(answer_files.SUFFIXES)}", path.name)


def _norm(text) -> str:
    """A question text for matching: case, runs of whitespace and final punctuation ignored."""
    return re.sub(r"\s+", " ", str(text)).strip().casefold().rstrip("?.!。؟ ").strip()


def _values(cell):
    """A list or mapping from a cell: JSON, or a Python literal (many published files hold reprs)."""
    if isinstance(cell, (list, tuple, np.ndarray)):
        return list(cell)
    if isinstance(cell, Mapping):
        return dict(cell)
    text = str(cell).strip()
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, (list, tuple, dict)):
            return list(value) if not isinstance(value, dict) else value
    # numpy's printed arrays: "[0.1 0.2 0.7]"
    if text.startswith("[") and text.endswith("]"):
        try:
            return [float(x) for x in text[1:-1].replace(",", " ").split()]
        except ValueError:
            pass
    return None


class _Items:
    """The study's items: by id, by question text, their raw and kept options, where each option
    stands in the source's own order (``source_index``: a list given by position is in that order,
    not in the scale order an importer may have put the options into), and why an item of the
    survey is not in the analysis."""

    def __init__(self, items: pd.DataFrame, raw_items: pd.DataFrame):
        self.kept = {i: [int(k) for k in kept] for i, kept in zip(items["item_id"], items["kept_options"])}
        self.raw: dict[str, list[str]] = {}
        self.source: dict[str, list[int]] = {}       # source option → the item's option (-1: none)
        self.numbers: dict[str, list[int]] = {}      # source option → its number in the source
        self.n_source: dict[str, int] = {}
        self.source_names: dict[str, tuple[str, ...]] = {}
        self.names: dict[str, list[set[str]]] = {}
        self.by_text: dict[str, set[str]] = defaultdict(set)
        self.left_out: dict[str, str] = {}           # item of the survey → why the analysis leaves it out
        for row in raw_items.to_dict("records"):
            item = row["item_id"]
            options = [str(o) for o in row["options"]]
            if item not in self.raw or row["lang"] == "en":   # the English options where there are
                self.raw[item] = options
                source_options = row.get("source_options")
                index, numbers = row.get("source_index"), row.get("source_numbers")
                if source_options is None or index is None or len(index) != len(source_options):
                    source_options, index, numbers = options, range(len(options)), None
                self.source[item] = [int(k) for k in index]
                self.numbers[item] = [int(n) for n in numbers] if numbers is not None and len(numbers) == len(
                    index) else list(range(1, len(index) + 1))
                self.n_source[item] = len(source_options)
                self.source_names[item] = tuple(_norm(o) for o in source_options)
            names = self.names.setdefault(item, [set() for _ in options])
            for k, option in enumerate(options[: len(names)]):
                names[k].add(_norm(option))
            self.by_text[_norm(row["question"])].add(item)
            if item not in self.kept:
                self.left_out[item] = ("its option list holds statements of other questions (options_mismatch)"
                                       if bool(row.get("options_mismatch", False)) else
                                       "fewer than two answer options the study keeps")

    def match_texts(self, texts) -> tuple[dict[str, list[str]], list[tuple[str, str, float]]]:
        """Question texts of a file → candidate item ids: an item id itself, else the items with that
        text exactly (case, whitespace and final punctuation ignored), else the closest text
        (difflib ratio >= SIMILARITY) among the items no text matched exactly, each item taken by
        one text only. Returns (mapping, the close matches as (text, item, similarity))."""
        out, used, pending = {}, set(), []
        for text in dict.fromkeys(map(str, texts)):
            if text in self.raw:
                out[text] = [text]
            elif _norm(text) in self.by_text:
                out[text] = sorted(self.by_text[_norm(text)])
                used.update(out[text])
            else:
                pending.append(text)
        free = {key: ids for key, ids in self.by_text.items() if not ids & used}
        close = []
        for text in pending:
            found = difflib.get_close_matches(_norm(text), list(free), n=1, cutoff=SIMILARITY)
            if not found:
                continue
            ids = sorted(free.pop(found[0]))
            out[text] = ids
            close.append((text, ids[0] if len(ids) == 1 else "/".join(ids),
                          difflib.SequenceMatcher(None, _norm(text), found[0]).ratio()))
        return out, close

    def from_position(self, item: str, position: int) -> int | None:
        """The item's option at ``position`` (0-based) of the source's option list; None for an
        option the importer removed (not an answer, e.g. GOQA's 'Total N=')."""
        k = self.source[item][position]
        return k if k >= 0 else None


def _distribution(kind: str, cell, item: str, items: _Items) -> tuple[np.ndarray | None, str, str]:
    """(probabilities over the item's RAW options, or None; the reason it is not usable; detail)."""
    raw = items.raw[item]
    if kind == "distribution":
        values = _values(cell)
        if isinstance(values, dict):
            # an option's text in any of the item's languages (as for `label`)
            index = {name: k for k, names in enumerate(items.names[item]) for name in names}
            unknown = [o for o in values if _norm(o) not in index]
            if unknown:
                return None, "a distribution naming options the item does not have", \
                    f"{unknown[:3]} are not options of item {item} ({raw})"
            probs = np.zeros(len(raw))
            for option, p in values.items():
                probs[index[_norm(option)]] = _number(p)
        elif isinstance(values, list):
            given = np.array([_number(v) for v in values], dtype=float)
            index, n_source, kept = items.source[item], items.n_source[item], items.kept[item]
            first = {k: j for j, k in reversed(list(enumerate(index))) if k >= 0}   # option → first source position
            probs = np.zeros(len(raw))
            if len(given) == n_source:                  # over every option, in the source's order
                probs = from_source(given, index, len(raw))
            elif len(given) == len(kept) and len(kept) != len(raw):
                # over the options the study keeps, in the source's order
                probs[sorted(kept, key=lambda k: first[k])] = given
            else:
                return None, "a distribution over a different number of options than the item's", (
                    f"{len(given)} probabilities for item {item}, which has {n_source} options"
                    + (f" ({len(kept)} substantive)" if len(kept) != len(raw) else "")
                    + f" (in the source's order: {_source_labels(item, items)})")
        else:
            return None, "a distribution that is not a list or object of probabilities", str(cell)[:60]
        if not np.all(np.isfinite(probs)) or (probs < 0).any() or probs.sum() <= 0:
            return None, UNREADABLE, "invalid_probabilities"   # the answer itself: scored as unreadable
        return probs / probs.sum(), "", ""
    raise ValueError(kind)


def _choice(text, item: str, items: _Items) -> tuple[np.ndarray | None, str]:
    """(one-hot probabilities over the item's RAW options, or None; the unreadable kind) of a label
    or free-text answer: an option number (1 = the source's first option), else read as a sampled
    answer is (culturelens.elicit: a letter, A = the source's first option, or an option's text in
    any of the item's languages); unreadable answers get elicit's kind (refusal, ambiguous,
    other_script, no_label, off_scale, empty)."""
    text = _text(text)
    n_source, index = items.n_source[item], items.source[item]
    if re.fullmatch(r"-?\d+(\.0+)?", text):   # the option's number as the source numbers it
        number = int(float(text))
        positions = [j for j, n in enumerate(items.numbers[item]) if n == number]
        k = items.from_position(item, positions[0]) if positions else None
        return (None, "off_scale") if k is None else (np.eye(len(items.raw[item]))[k], "")
    names, named = [], set()
    for k in index:    # an option's names once, at its first source position (merged codes share one)
        names.append(tuple(sorted(items.names[item][k])) if k >= 0 and k not in named else ())
        named.add(k)
    labels = [chr(ord("A") + p) for p in range(n_source)]
    label = elicit.parse_answer(text, labels, names)
    k = None if label is None else items.from_position(item, labels.index(label))
    if k is None:
        return None, elicit.answer_kind(text, labels, names) if label is None else "off_scale"
    return np.eye(len(items.raw[item]))[k], ""


def _source_labels(item: str, items: _Items) -> list[str]:
    """The item's options in the source's order ('?' for one the importer removed)."""
    return [items.raw[item][k] if k >= 0 else "?" for k in items.source[item]]


def _text(value) -> str:
    """A cell as text: an integral float (a JSON or Parquet column with a null becomes float) as an
    integer, ``2.0`` → ``"2"``; null as ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _country(value, mapper) -> str | None:
    from . import countries

    if value is None or (isinstance(value, float) and value != value):   # null in JSONL / Parquet
        return NO_COUNTRY
    text = str(value).strip()
    if text == "" or text.casefold() == NO_COUNTRY:
        return NO_COUNTRY
    if countries.is_code(text):
        return text
    return mapper.national(text) if mapper is not None else None


class _Funnel:
    """Rows of the file set through each step, and every row not used under one reason (with its
    count and one example): the counts add up (rows of the study = scored + every reason's count)."""

    def __init__(self):
        self.reasons: dict[str, list[tuple[str, int, str]]] = defaultdict(list)   # reason → (file, line, detail)

    def drop(self, reason: str, row: Mapping, detail: str = "") -> None:
        self.reasons[reason].append((row["_file"], row["_line"], detail))

    def lines(self) -> list[str]:
        out = []
        for reason, rows in sorted(self.reasons.items(), key=lambda kv: -len(kv[1])):
            file, line, detail = rows[0]
            out.append(f"  not used, {reason}: {len(rows)} rows, e.g. {file} row {line}" + (f" ({detail})" if detail else ""))
        return out

    def count(self) -> int:
        return sum(len(rows) for rows in self.reasons.values())


def _read_all(files, spec: Mapping) -> pd.DataFrame:
    """Every file's rows, renamed (``columns``), with the file's own values (from its path or given
    per file), the entry's ``defaults`` and ``recode`` applied, and ``_file`` / ``_line`` for
    reporting (the data line: 2 for a CSV's first row under its header, 1 for JSON's first)."""
    parts = []
    for path, values in files:
        table = read_file(path).rename(columns=dict(spec.get("columns") or {}))
        for column, value in values.items():
            if column not in table.columns:
                table[column] = value
        first = 2 if answer_files.suffix(path) in (".csv", ".tsv", ".csv.gz", ".tsv.gz") else 1
        parts.append(table.assign(_file=str(path), _line=np.arange(len(table)) + first))
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for column, value in (spec.get("defaults") or {}).items():
        if column not in table.columns:
            table[column] = value
        else:   # a file that has the column but not for every row: the default fills its gaps
            table[column] = table[column].where(table[column].notna() & (table[column].astype(str) != ""), value)
    for column, mapping in (spec.get("recode") or {}).items():
        if column in table.columns:
            lookup = {str(k): v for k, v in mapping.items()}   # YAML may give 1 for '1'
            table[column] = [lookup.get(_text(v), v) if v is not None else v for v in table[column]]
    return table


def load(files, spec: Mapping, study: str, items: pd.DataFrame, raw_items: pd.DataFrame,
         conditions: list[str], mapper=None, prompt_keys: set | None = None, survey_pairs: set | None = None,
         countries: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The imported answers of ``study``: one row per (item_id, country, condition, prompt_lang)
    that the run's prompts ask, with ``probs`` over the study's kept options, and notes: the rows
    read, matched to an item, matched to a prompt cell and scored, and every row not used under one
    reason (count and example), plus each question matched by a close text.

    ``files``: a path, or ``[(path, values)]`` (culturelens.answer_files.resolve). ``prompt_keys``:
    the (item_id, country, condition, prompt_lang) the run's prompts ask (None: every answer is
    kept); ``survey_pairs`` (item_id, country) with survey data and ``countries`` (the run's
    selection) say why an answer no prompt asks is not scored."""
    if isinstance(files, (str, Path)):
        files = [(str(files), {})]
    name = files[0][0] if len(files) == 1 else f"{len(files)} files ({files[0][0]}, …)"
    table = _read_all(files, spec)
    kinds = [k for k in KINDS if k in table.columns]
    if len(kinds) != 1:
        raise InputError(files[0][0], "columns", f"exactly one of {list(KINDS)} (after renaming with `columns`)",
                         sorted(map(str, table.columns.drop(["_file", "_line"]))))
    kind = kinds[0]
    missing = [c for c in ("study", "item", "country", "condition") if c not in table.columns]
    if missing:
        raise InputError(files[0][0], "columns", "study, item, country, condition (a column, a {placeholder} of the "
                         "path, a file's values, or a value in `defaults`)", f"missing {missing}")
    if "prompt_lang" not in table.columns:
        table["prompt_lang"] = "en"
    else:   # a file of a set without the value, or a null cell: the default prompt language
        table["prompt_lang"] = table["prompt_lang"].where(
            table["prompt_lang"].notna() & (table["prompt_lang"].astype(str).str.strip() != ""), "en")
    n_read = len(table)
    if spec.get("select_model") is not None:
        if "model" not in table.columns:
            raise InputError(files[0][0], "model", "a `model` column or {model} in the path (the entry sets select_model)")
        table = table[table["model"].astype(str) == str(spec["select_model"])]
    n_model = len(table)
    others = table.loc[table["study"].astype(str) != study, "study"].astype(str).value_counts()
    table = table[table["study"].astype(str) == study]
    resolved = _Items(items, raw_items)
    candidates, close = resolved.match_texts(table["item"])
    funnel = _Funnel()
    collected: dict[tuple, list] = defaultdict(list)
    rows_of: dict[tuple, list[dict]] = defaultdict(list)
    seen_text: dict[tuple, int] = defaultdict(int)   # (items, country, condition, prompt_lang) → rows so far
    matched = in_cell = 0
    for row in table.to_dict("records"):
        found = list(candidates.get(str(row["item"]), ()))
        if found and "item_id" in row and str(row["item_id"] or "") in found:
            found = [str(row["item_id"])]
        if len(found) > 1 and "options" in row and _values(row["options"]) is not None:
            given = tuple(_norm(o) for o in _values(row["options"]))
            found = [i for i in found if resolved.source_names[i] == given] or found
        if not found:
            funnel.drop("item not in the survey (by id, question text or a close text)", row, str(row["item"])[:60])
            continue
        country = _country(row["country"], mapper)
        cell = (country, str(row["condition"]), str(row["prompt_lang"]))
        if len(found) > 1 and kind == "distribution":   # the one whose options the distribution fits
            usable = [i for i in found if i not in resolved.left_out
                      and _distribution(kind, row[kind], i, resolved)[0] is not None]
            found = usable if len(usable) == 1 else found
        if len(found) > 1:
            options = {resolved.source_names[i] for i in found}
            # one text, several dataset rows (a repeated question): the file's rows in order; not for
            # free-text draws, several of which answer one prompt
            if len(options) == 1 and kind != "answer":
                k = seen_text[(tuple(found), *cell)]
                seen_text[(tuple(found), *cell)] += 1
                if k >= len(found):
                    funnel.drop("more rows for a repeated question than the survey has", row, f"{found}")
                    continue
                found = [found[k]]
            else:
                funnel.drop("question text of several items (give an `item_id` or `options` column)", row,
                            f"{str(row['item'])[:40]!r}: {', '.join(found)}")
                continue
        item = found[0]
        matched += 1
        if item in resolved.left_out:
            funnel.drop(f"item left out of the analysis: {resolved.left_out[item]}", row, item)
            continue
        if country is None:
            funnel.drop("unknown country", row, repr(str(row["country"])[:40]))
            continue
        if cell[1] not in conditions:
            funnel.drop(f"a condition this study does not run ({', '.join(conditions)})", row, repr(cell[1][:30]))
            continue
        key = (item, *cell)
        if prompt_keys is not None and key not in prompt_keys:
            if country != NO_COUNTRY and countries and country not in countries:
                funnel.drop("a country the run does not select (countries)", row, country)
            elif country != NO_COUNTRY and survey_pairs is not None and (item, country) not in survey_pairs:
                funnel.drop("no survey data for that country on that item", row, f"{item}, {country}")
            else:
                funnel.drop("no prompt of the run for that condition and prompt language", row,
                            f"{cell[1]}, {cell[2]}")
            continue
        in_cell += 1
        if kind == "distribution":
            probs, reason, detail = _distribution(kind, row[kind], item, resolved)
            if probs is None and reason != UNREADABLE:
                funnel.drop(reason, row, detail)
                continue
            why = detail if probs is None else ""
        else:
            probs, why = _choice(row[kind], item, resolved)
        collected[key].append((probs, why))
        rows_of[key].append(row)
    out = []
    for key, parts in collected.items():
        if kind != "answer" and len(parts) > 1:
            for row in rows_of[key]:
                funnel.drop("a repeated answer for one (item, country, condition, prompt language): none used", row,
                            f"{len(parts)} rows for {key}")
            continue
        lines = [f"{r['_file']}:{r['_line']}" for r in rows_of[key]]
        read = [p for p, _ in parts if p is not None]
        if not read:   # the answer names no option: scored, as wrong where a task has right answers
            kinds = [why for _, why in parts]
            out.append([*key, [], lines, max(dict.fromkeys(kinds), key=kinds.count)])
            continue
        raw = np.mean(read, axis=0)     # several free-text answers: the share of readable draws per option
        kept = resolved.kept[key[0]]
        probs = raw[kept]
        if probs.sum() <= 0:
            for row in rows_of[key]:
                funnel.drop("all probability on options the study leaves out (non-substantive)", row, key[0])
            continue
        out.append([*key, (probs / probs.sum()).tolist(), lines, ""])
    scored = sum(len(r[-2]) for r in out)
    unreadable = pd.Series([r[-1] for r in out if r[-1]], dtype=str).value_counts()
    n_study = len(table)
    assert scored + funnel.count() == n_study, (scored, funnel.count(), n_study)
    notes = [f"{name}: {n_read} rows read"
             + (f", {n_model} of model {spec['select_model']}" if spec.get("select_model") is not None else "")
             + f", {n_study} of study {study}"
             + (f" (rows of other studies: {dict((k, int(n)) for k, n in others.items())})" if len(others) else "")
             + f"; {matched} matched to an item" + (f" ({len(close)} questions by a close text)" if close else "")
             + f", {in_cell} to a prompt cell; {scored} scored as {len(out)} answers"
             + (f" ({int(unreadable.sum())} of them naming no option, scored as unreadable: "
                f"{', '.join(f'{n} {k}' for k, n in unreadable.items())})" if len(unreadable) else "")]
    notes += funnel.lines()
    notes += [f"  matched by a close text (similarity {ratio:.2f}): {text[:70]!r} → {item}" for text, item, ratio in close]
    return pd.DataFrame(out, columns=COLUMNS), notes
