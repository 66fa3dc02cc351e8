"""Answers collected elsewhere (another tool, a published study's outputs), imported as a model.

A model entry ``provider: imported`` names a file (CSV, TSV, JSONL or Parquet, by extension) with one
row per answer. After renaming with the entry's ``columns`` (file column → culturelens column) and
filling columns the file lacks from ``defaults``, the columns are:

===========  ========  ===========================================================================
column       required  meaning
===========  ========  ===========================================================================
study        yes       the study the answer belongs to (rows of other studies are ignored)
item         yes       the item's id, or its question text (whitespace and case ignored; in
                       any of the item's languages)
country      yes       target country: ISO 3166 code or survey country name; ``none`` or empty
                       for an answer without a target country (default prompting)
condition    yes       a condition name of ``catalog.conditions`` (e.g. ``cross_national``)
prompt_lang  no        language of the prompt (default ``en``)
model        no        with the entry's ``select_model``, only rows with this value are read
one of:
distribution           probabilities over the item's options, in the order the SURVEY FILE lists
                       them (the item's ``source_options``, not the scale order an importer may
                       have put them into): a JSON or Python list (over all of the file's options,
                       or over the options the study keeps), or a JSON object option text (in any
                       of the item's languages) → probability
label                  the chosen option: its text (any of the item's languages) or its number
                       (1 = the survey file's first option)
answer                 a free-text answer, matched as a sampled answer is (culturelens.elicit):
                       a letter (A = the survey file's first option), or an option's text;
                       several rows for one prompt are several draws
===========  ========  ===========================================================================

Each answer becomes a distribution over the study's options (non-substantive ones dropped and the
rest renormalised where the study drops them, exactly as the survey's own distributions), which the
study's prompts of the same (item, country, condition, prompt language) receive for every
paraphrase and option order. A row that cannot be used is never dropped silently: ``notes`` names
the file, the row and what differs (unknown item, a distribution over a different option set, an
unknown country, a repeated answer ...); prompts without an imported answer are reported as
abstained by the distributions job.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

KINDS = ("distribution", "label", "answer")
KEY = ["item_id", "country", "condition", "prompt_lang"]
COLUMNS = [*KEY, "probs", "rows"]
NO_COUNTRY = "none"


def read_file(path: str | Path) -> pd.DataFrame:
    """The file as a table of strings/values (CSV, TSV, JSONL or Parquet by extension)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file", "an existing file of imported answers (CSV, TSV, JSONL or Parquet)")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    try:
        if suffix in (".csv", ".csv.gz"):
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix in (".tsv", ".tsv.gz"):
            return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        if suffix in (".jsonl", ".jsonl.gz", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise InputError(path, "file", f"a readable {suffix.lstrip('.')} file", str(err)[:200]) from None
    raise InputError(path, "file", "a .csv, .tsv, .jsonl or .parquet file", path.name)


def _norm(text) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


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
    """The study's items: by id, by question text, their raw and kept options, and where each option
    stands in the source file's own order (``source_order``: a list given by position is in that
    order, not in the scale order an importer may have put the options into)."""

    def __init__(self, items: pd.DataFrame, raw_items: pd.DataFrame):
        self.kept = {i: [int(k) for k in kept] for i, kept in zip(items["item_id"], items["kept_options"])}
        self.raw: dict[str, list[str]] = {}
        self.source: dict[str, list[int]] = {}       # item option → its position in the source's list
        self.n_source: dict[str, int] = {}
        self.names: dict[str, list[set[str]]] = {}
        self.by_text: dict[str, set[str]] = defaultdict(set)
        for row in raw_items.to_dict("records"):
            item = row["item_id"]
            options = [str(o) for o in row["options"]]
            if item not in self.raw or row["lang"] == "en":   # the English options where there are
                self.raw[item] = options
                order = row.get("source_order")
                order = list(range(len(options))) if order is None or len(order) != len(options) else order
                self.source[item] = [int(i) for i in order]
                source_options = row.get("source_options")
                self.n_source[item] = len(options if source_options is None else source_options)
            names = self.names.setdefault(item, [set() for _ in options])
            for k, option in enumerate(options[: len(names)]):
                names[k].add(_norm(option))
            self.by_text[_norm(row["question"])].add(item)

    def resolve(self, value) -> list[str]:
        """The candidate item ids of an `item` cell: the id itself, else the items with that question."""
        value = str(value)
        if value in self.kept:
            return [value]
        return sorted(i for i in self.by_text.get(_norm(value), ()) if i in self.kept)

    def from_position(self, item: str, position: int) -> int | None:
        """The item's option at ``position`` (0-based) of the source's option list; None for an
        option the importer removed (not an answer, e.g. GOQA's 'Total N=')."""
        order = self.source[item]
        return order.index(position) if position in order else None


def _distribution(kind: str, cell, item: str, items: _Items) -> tuple[np.ndarray | None, str]:
    """(probabilities over the item's RAW options, or None; why not)."""
    raw = items.raw[item]
    if kind == "distribution":
        values = _values(cell)
        if isinstance(values, dict):
            # an option's text in any of the item's languages (as for `label`)
            index = {name: k for k, names in enumerate(items.names[item]) for name in names}
            unknown = [o for o in values if _norm(o) not in index]
            if unknown:
                return None, f"options {unknown[:3]} are not options of item {item} ({raw})"
            probs = np.zeros(len(raw))
            for option, p in values.items():
                probs[index[_norm(option)]] = _number(p)
        elif isinstance(values, list):
            given = np.array([_number(v) for v in values], dtype=float)
            order, n_source, kept = items.source[item], items.n_source[item], items.kept[item]
            probs = np.zeros(len(raw))
            if len(given) == n_source:                  # over every option, in the source's order
                probs[:] = given[order]
            elif len(given) == len(kept) and len(kept) != len(raw):
                # over the options the study keeps, in the source's order
                probs[sorted(kept, key=lambda k: order[k])] = given
            else:
                return None, (f"{len(given)} probabilities for item {item}, which has {n_source} options"
                              + (f" ({len(kept)} substantive)" if len(kept) != len(raw) else "")
                              + f" (in the source's order: {_source_labels(item, items)})")
        else:
            return None, "a list or object of probabilities"
        if not np.all(np.isfinite(probs)) or (probs < 0).any() or probs.sum() <= 0:
            return None, "finite probabilities >= 0 that do not all sum to 0"
        return probs / probs.sum(), ""
    if kind == "label":
        text = str(cell).strip()
        if re.fullmatch(r"\d+", text):
            if not 1 <= int(text) <= items.n_source[item]:
                return None, f"an option number from 1 to {items.n_source[item]} for item {item}"
            k = items.from_position(item, int(text) - 1)
            if k is None:
                return None, f"an option number of an answer (option {text} of item {item} is not one)"
        else:
            matches = [k for k, names in enumerate(items.names[item]) if _norm(text) in names]
            if len(matches) != 1:
                return None, f"an option of item {item} ({raw}), by text or number"
            k = matches[0]
        return np.eye(len(raw))[k], ""
    raise ValueError(kind)


def _source_labels(item: str, items: _Items) -> list[str]:
    """The item's options in the source's order ('?' for one the importer removed)."""
    out = ["?"] * items.n_source[item]
    for k, pos in enumerate(items.source[item]):
        out[pos] = items.raw[item][k]
    return out


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


def load(path, spec: Mapping, study: str, items: pd.DataFrame, raw_items: pd.DataFrame,
         conditions: list[str], mapper=None, prompt_keys: set | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The imported answers of ``study``: one row per (item_id, country, condition, prompt_lang)
    with ``probs`` over the study's kept options, and notes naming every row not used.
    ``prompt_keys``: the (item_id, country, condition, prompt_lang) the run's prompts ask; answers
    no prompt asks (another language, a country not selected) are counted and named, not dropped
    silently."""
    from . import elicit

    table = read_file(path).rename(columns=dict(spec.get("columns") or {}))
    for column, value in (spec.get("defaults") or {}).items():
        if column not in table.columns:
            table[column] = value
    kinds = [k for k in KINDS if k in table.columns]
    if len(kinds) != 1:
        raise InputError(path, "columns", f"exactly one of {list(KINDS)} (after renaming with `columns`)",
                         sorted(map(str, table.columns)))
    kind = kinds[0]
    missing = [c for c in ("study", "item", "country", "condition") if c not in table.columns]
    if missing:
        raise InputError(path, "columns", "study, item, country, condition (a column, or a value in `defaults`)",
                         f"missing {missing}")
    if "prompt_lang" not in table.columns:
        table["prompt_lang"] = "en"
    if spec.get("select_model") is not None:
        if "model" not in table.columns:
            raise InputError(path, "model", "a `model` column (the entry sets select_model)")
        table = table[table["model"].astype(str) == str(spec["select_model"])]
    others = table.loc[table["study"].astype(str) != study, "study"].astype(str).value_counts()
    table = table[table["study"].astype(str) == study]
    resolved = _Items(items, raw_items)
    problems: dict[str, list[int]] = defaultdict(list)
    collected: dict[tuple, list] = defaultdict(list)
    rows_of: dict[tuple, list[int]] = defaultdict(list)
    for pos, row in zip(table.index, table.to_dict("records")):
        line = int(pos) + 2 if str(path).endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")) else int(pos) + 1
        found = resolved.resolve(row["item"])
        if not found:
            problems["item not in the study (by id or question text)"].append(line)
            continue
        country = _country(row["country"], mapper)
        if country is None:
            problems[f"unknown country {str(row['country'])[:40]!r}"].append(line)
            continue
        if str(row["condition"]) not in conditions:
            problems[f"condition {str(row['condition'])[:30]!r} is not one this study runs ({', '.join(conditions)})"].append(line)
            continue
        if kind == "answer":
            item = found[0]
            if len(found) > 1:
                problems["question text of several items"].append(line)
                continue
            # letters name the options as the source listed them (A = its first option)
            n_source = resolved.n_source[item]
            names = [()] * n_source
            for k, pos in enumerate(resolved.source[item]):
                names[pos] = tuple(sorted(resolved.names[item][k]))
            labels = [chr(ord("A") + p) for p in range(n_source)]
            label = elicit.parse_answer(str(row["answer"]), labels, names)
            k = None if label is None else resolved.from_position(item, labels.index(label))
            if k is None:
                problems["answer names no option (letter or text)"].append(line)
                continue
            probs = np.eye(len(resolved.raw[item]))[k]
        else:
            results = [(i, *_distribution(kind, row[kind], i, resolved)) for i in found]
            usable = [(i, p) for i, p, _ in results if p is not None]
            if len(usable) != 1:
                why = results[0][2] if not usable else "question text of several items with this option count"
                problems[why].append(line)
                continue
            item, probs = usable[0]
        key = (item, country, str(row["condition"]), str(row["prompt_lang"]))
        collected[key].append(probs)
        rows_of[key].append(line)
    out = []
    for key, parts in collected.items():
        if kind != "answer" and len(parts) > 1:
            problems[f"repeated answer for {key} (rows {rows_of[key]}); none of them is used"].append(rows_of[key][0])
            continue
        raw = np.mean(parts, axis=0)     # several free-text answers: the share of draws per option
        kept = resolved.kept[key[0]]
        probs = raw[kept]
        if probs.sum() <= 0:
            problems["all probability on options the study leaves out (non-substantive)"].append(rows_of[key][0])
            continue
        out.append([*key, (probs / probs.sum()).tolist(), rows_of[key]])
    notes = [f"{path}: {len(rows)} rows not used: {why} (rows {', '.join(map(str, rows[:10]))}"
             f"{' …' if len(rows) > 10 else ''})" for why, rows in problems.items()]
    notes.insert(0, f"{path}: {len(out)} answers of study {study} imported from {len(table)} rows"
                 + (f" (rows of other studies: {dict((k, int(n)) for k, n in others.items())})" if len(others) else ""))
    if prompt_keys is not None and out:
        unasked = [tuple(r[:4]) for r in out if tuple(r[:4]) not in prompt_keys]
        if unasked:
            notes.append(f"{path}: {len(unasked)} imported answers match no prompt of this run (no prompt for that "
                         f"item, country, condition and prompt language; e.g. {unasked[:3]}): they are not scored")
    return pd.DataFrame(out, columns=COLUMNS), notes
