"""GlobalOpinionQA importer (official ``global_opinions.csv`` layout, Durmus et al. 2023).

``paths``: ``csv`` — the CSV with columns ``question, selections, options, source``.

Quirks handled (see ../shared/data/README.md):

* ``selections`` is the Python repr ``defaultdict(<class 'list'>, {'Country': [p0, p1, ...]})``:
  the inner dict is parsed with :func:`ast.literal_eval` (never ``eval``); a bare dict is accepted.
* ``options`` is a Python list repr; numeric options become strings (``1.0`` → ``"1"``).
* Ordinal scales are recognised by the ladder lexicon below (and numeric 0–10 style scales); their
  options and shares are put into scale order (non-substantive options last), ``scale=ordinal``;
  the file's own list and where each option stood in it are kept with the item
  (``source_options``, ``source_index``), so that answers given by position in the file's order
  (an imported distribution as a list) land on the right options.
  An item is ordinal only if EVERY substantive option is on the scale: a substantive volunteered
  option off the ladder ("Neither (VOL)", "Other (VOL)") makes it ``nominal``. Anything not
  recognised is ``nominal`` in the survey's order.
* Distributions summing to 0 are dropped, summing to more than 1 renormalised (both reported);
  a number of shares different from the number of options is an InputError naming the row.
* Non-substantive options (no opinion: "Don't know", "DK/Refused", "Missing; …"; NOT volunteered
  answers that take a position such as "Neither (VOL)", see :mod:`culturelens.surveys.common`) are flagged;
  junk options that are no answers (``Total N=``) are removed (shares renormalised) and reported.
* Items whose option list holds statements of other questions are flagged (column
  ``options_mismatch``; the rule is at :data:`STOPWORDS` below) and left out of the analysis view.
* Countries go through :func:`culturelens.countries.lookup`; non-national and excluded samples
  are left out of ``targets`` and counted; unknown names are left out and reported (an InputError
  with ``strict_countries``); an "(Old national sample)" gives way to the current national sample
  of the same country on the same item. Two spellings of one code on one item (``Britain`` and
  ``Great Britain``): the first is kept, the clash reported.
* A question text that occurs more than once: with the same option list its rows are one item and
  their countries are merged (first wins per country); with a different option list each option
  list is its own item (Pew asked the same wording with other answer categories). Both reported.

``item_id`` = ``goqa-`` + first 12 hex of sha1 of ``json.dumps([question, options],
ensure_ascii=False)``: the stripped question text and the option labels as parsed (numbers as
``"1"``), in the file's order, before any reordering or junk removal. The id is a function of the
row alone, so one row has the same id in the shipped sample, the full file and any subset of it
(an id that hashed only the question, with options added for "later" variants, would depend on
which rows a file holds and in which order). ``lang`` ``en``, ``translation`` ``original``, ``n``
NaN (GOQA gives no sample sizes), ``topic`` empty.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import Counter

import pandas as pd

from culturelens import countries
from culturelens.errors import InputError
from culturelens.surveys.common import (
    CountryMapper, DistributionCounter, SurveyTables, check_share, is_junk, is_non_substantive, is_volunteered,
    items_frame, norm_label, require_path, scores_frame, source_index_of, stable_id, strip_volunteered, targets_frame,
)

REQUIRED_COLUMNS = ["question", "selections", "options", "source"]

# --------------------------------------------------------------------------------------------
# ORDINAL LADDERS — the one place that says which option sets are ordered scales.
# Each ladder is a list of tiers from one end of the scale to the other; a tier lists the
# spellings (normalised: lower case, single spaces, straight apostrophes) that share that rank.
# An item is ordinal under a ladder when ALL its substantive options (at least 3) are in the
# ladder and fall on distinct tiers. Volunteered markers are ignored when matching ("No influence
# (DO NOT READ)" is the middle tier of "influence"), but a substantive volunteered option that is
# on no ladder ("Neither (VOL)", "Both (VOL)", "Depends on the situation (VOL)") makes the item
# NOMINAL: metrics need one order over all substantive options, and such an answer has no place on
# the scale (it is neither put at an end nor dropped). Two-option items stay nominal: with two options any order
# is a scale and EMD equals total variation, so "ordinal" would add nothing.
# Besides the ladders: the intensity pattern (very / somewhat / not too / not at all + the same
# word) and numeric scales (2..9 with labelled end points), see _intensity_ranks/_numeric_ranks.
# --------------------------------------------------------------------------------------------
LADDERS: dict[str, list[list[str]]] = {
    "agree": [
        ["strongly agree", "agree strongly", "completely agree", "totally agree", "fully agree"],
        ["agree", "mostly agree", "somewhat agree", "tend to agree", "rather agree"],
        ["neither agree nor disagree", "neither agree or disagree", "undecided"],
        ["disagree", "mostly disagree", "somewhat disagree", "tend to disagree", "rather disagree"],
        ["strongly disagree", "disagree strongly", "completely disagree", "totally disagree", "fully disagree"],
    ],
    "approve": [
        ["strongly approve", "approve strongly"],
        ["approve", "somewhat approve"],
        ["disapprove", "somewhat disapprove"],
        ["strongly disapprove", "disapprove strongly"],
    ],
    "favorable": [
        ["very favorable", "very favourable"],
        ["somewhat favorable", "mostly favorable", "somewhat favourable", "mostly favourable"],
        ["somewhat unfavorable", "mostly unfavorable", "somewhat unfavourable", "mostly unfavourable"],
        ["very unfavorable", "very unfavourable"],
    ],
    "good_bad": [
        ["very good"],
        ["somewhat good", "fairly good", "good", "mostly good"],
        ["neither good nor bad"],
        ["somewhat bad", "fairly bad", "bad", "mostly bad"],
        ["very bad"],
    ],
    "good_bad_job": [
        ["very good job"], ["somewhat good job", "good job"], ["somewhat bad job", "bad job"], ["very bad job"],
    ],
    "influence": [
        ["very good influence"], ["good influence", "somewhat good influence"], ["no influence"],
        ["bad influence", "somewhat bad influence"], ["very bad influence"],
    ],
    "confidence": [
        ["a great deal of confidence", "a lot of confidence"],
        ["quite a lot of confidence", "some confidence"],
        ["not very much confidence", "not too much confidence"],
        ["no confidence at all", "none at all"],
    ],
    "amount": [
        ["a great deal", "a lot"], ["quite a lot", "some"], ["not very much", "not much", "not too much"],
        ["none at all", "not at all"],
    ],
    "threat": [["major threat", "a major threat"], ["minor threat", "a minor threat"], ["not a threat", "no threat"]],
    "problem": [
        ["very big problem", "a very big problem"], ["moderately big problem", "a moderately big problem"],
        ["small problem", "a small problem"], ["not a problem at all", "not a problem"],
    ],
    "danger": [["a great danger", "great danger"], ["moderate danger", "a moderate danger"],
               ["small danger", "a small danger"], ["no danger at all", "no danger"]],
    "conflicts": [["very strong conflicts"], ["strong conflicts"], ["not very strong conflicts"],
                  ["there are not conflicts", "no conflicts"]],
    "membership": [["active member"], ["inactive member"], ["not a member", "don't belong"]],
    "political_action": [
        ["have done in the past year"], ["have done in the more distant past"], ["have done"],
        ["have not done, but might do", "might do"],
        ["have not done and would never do", "have not done and would never, under any circumstances, do",
         "would never do"],
    ],
    "priority": [["one of the most important priorities", "top priority"],
                 ["a very important priority", "an important priority"],
                 ["a lower priority", "a low priority"], ["not a priority at all", "not a priority"]],
    "succeed": [["definitely succeed"], ["probably succeed"], ["probably fail"], ["definitely fail"]],
    "rank": [["the best"], ["above average"], ["average"], ["below average"], ["the worst"]],
    "reform": [["it needs to be completely reformed"], ["it needs major changes"], ["it needs minor changes"],
               ["it doesn't need to be changed", "it does not need to be changed"]],
    "role_size": [["very large role"], ["fairly large role"], ["fairly small role"], ["very small role"]],
    "frequency": [["always", "yes, always"], ["usually", "yes, usually", "most of the time"], ["sometimes"],
                  ["seldom", "rarely", "no, seldom"], ["never", "no, never"]],
    "proud": [["very proud"], ["quite proud", "fairly proud"], ["somewhat proud"], ["not very proud"],
              ["not proud at all", "not at all proud"]],
    "health": [["very good"], ["good"], ["fair"], ["poor"], ["very poor"]],
    # three-way change scales whose middle category is often listed last
    "better_worse": [["change for the better", "better"], ["not much difference", "no difference", "about the same"],
                     ["change for the worse", "worse"]],
    "trend": [["increased", "growing", "increasing"],
              ["no change", "staying about the same", "stayed the same", "remained the same"],
              ["decreased", "decreasing", "shrinking"]],
    "role_trend": [["more important role"], ["as important as 10 years ago"], ["less important role"]],
    "amount_right": [["too much"], ["right amount", "about the right amount", "about right"],
                     ["not enough", "too little"]],
}

# The intensity pattern: <degree> <same word>, e.g. very / somewhat / not too / not at all likely.
_INTENSITY = [  # (rank, regex) tried in this order; the group "stem" must be the same for all options
    (3, re.compile(r"^not at all (?P<stem>.+)$")),
    (3, re.compile(r"^not (?P<stem>.+) at all$")),
    (2, re.compile(r"^not (too|very) (?P<stem>.+)$")),
    (2, re.compile(r"^not (?P<stem>.+)$")),
    (0, re.compile(r"^(very|extremely) (?P<stem>.+)$")),
    (1, re.compile(r"^(somewhat|fairly|rather|quite) (?P<stem>.+)$")),
]
_NUMBER = re.compile(r"^(\d{1,3})(?:\s+\S.*)?$")  # "7", "1 There is no corruption in my country"


def _ladder_ranks(labels: list[str]) -> list[int] | None:
    """Ranks of the labels in the first ladder that holds all of them on distinct tiers."""
    keys = [strip_volunteered(x) for x in labels]
    for tiers in LADDERS.values():
        where = {spelling: t for t, spellings in enumerate(tiers) for spelling in spellings}
        ranks = [where.get(k) for k in keys]
        if None not in ranks and len(set(ranks)) == len(ranks):
            return ranks
    return None


def _intensity_ranks(labels: list[str]) -> list[int] | None:
    ranks, stems = [], set()
    for label in labels:
        text = strip_volunteered(label)
        for rank, rx in _INTENSITY:
            m = rx.match(text)
            if m:
                ranks.append(rank)
                stems.add(m.group("stem"))
                break
        else:
            return None
    return ranks if len(stems) == 1 and len(set(ranks)) == len(ranks) else None


def _numeric_ranks(labels: list[str]) -> list[int] | None:
    """Numeric scales: at least 3 numbered options, at most the first and last listed unnumbered
    (labelled end points). The numbers' own order along the list gives the direction: when they
    rise ("Never justifiable", 2, ..., 9, "Always justifiable") the first listed end point is below
    the smallest number and the last above the largest; when they fall ("Satisfied", 9, ..., 2,
    "Dissatisfied") the first listed is above the largest and the last below the smallest. A
    volunteered option ("Neither (VOL)") is never taken for an end point: the scale is then not
    recognised, and so is a list with end points whose numbers neither rise nor fall throughout
    (numbers alone are ranked by their value, in whatever order they are listed)."""
    if any(is_volunteered(x) for x in labels):
        return None
    numbers = [(_NUMBER.match(norm_label(x)) or None) for x in labels]
    values = [int(m.group(1)) if m else None for m in numbers]
    known = [v for v in values if v is not None]
    if len(known) < 3 or len(set(known)) != len(known):
        return None
    if len(known) == len(values):
        return values
    rising = all(a < b for a, b in zip(known, known[1:]))
    falling = all(a > b for a, b in zip(known, known[1:]))
    if not (rising or falling):
        return None
    low, high = min(known) - 1, max(known) + 1
    ranks = []
    for pos, v in enumerate(values):
        if v is not None:
            ranks.append(v)
        elif pos == 0:
            ranks.append(low if rising else high)
        elif pos == len(values) - 1:
            ranks.append(high if rising else low)
        else:
            return None
    return ranks


def scale_order(options: list[str], non_substantive: list[bool]) -> tuple[list[int], str]:
    """``(order, scale)``: ``order`` lists original option indices in scale order.

    Ordinal items: substantive options sorted by rank, keeping the survey's direction (the
    direction most pairs of listed options already follow), then the non-substantive options in
    their listed order. Nominal items: the survey's order unchanged.
    """
    subst = [i for i, ns in enumerate(non_substantive) if not ns]
    rest = [i for i, ns in enumerate(non_substantive) if ns]
    labels = [options[i] for i in subst]
    if len(labels) < 3:
        return list(range(len(options))), "nominal"
    ranks = _ladder_ranks(labels) or _intensity_ranks(labels) or _numeric_ranks(labels)
    if ranks is None:
        return list(range(len(options))), "nominal"
    concordance = sum((ranks[j] > ranks[i]) - (ranks[j] < ranks[i])
                      for i in range(len(ranks)) for j in range(i + 1, len(ranks)))
    ordered = sorted(zip(ranks, subst), reverse=concordance < 0)
    return [i for _, i in ordered] + rest, "ordinal"


# --------------------------------------------------------------------------------------------
# OPTIONS OF ANOTHER QUESTION. Some GOQA rows carry, besides (or instead of) their own options,
# the options of unrelated Pew questions, and their answer shares sit on those (the sample has an
# air-pollution item answered on coronavirus-cooperation options). THE RULE (file-wide):
#
#   An option of item i is FOREIGN when (a) it is a statement: at least 4 content words (words of
#   3+ letters outside STOPWORDS, compared by their first 5 letters, volunteered markers ignored);
#   (b) it shares no content word with i's question; and (c) the same option label also belongs to
#   an item with a different question text. An item is flagged when it has a foreign option AND a
#   substantive option that is not foreign (its option list is a union of its own options and
#   another question's).
#
# (a) keeps short answers ("Yes", "Very good", "China") out: they recur legitimately. (b) ties an
# option to the question that asks it. (c) means the statement was written for another question.
# The last condition keeps an item whose every option is a recurring statement under a generic
# wording ("Which statement comes closer to your view?" asked twice with the same statements) from
# being flagged. On the shipped sample it flags exactly the five items carrying the coronavirus /
# "problems solved by working with other countries" / "major international issues" statements.
# Flagged items stay in raw_items with ``options_mismatch = True``; the analysis view leaves them
# out (:func:`culturelens.surveys.common.exclude_flagged`), listed in the import notes.
# --------------------------------------------------------------------------------------------
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing during each even every few for from further had has have having he her
here hers him his how i if in into is it its itself just me mean means more most my neither no nor not now of off
on once only or other others our ours out over own same she should so some such than that the their theirs them
then there these they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yes one ones thing things way lot much many country countries survey
nation people statement statements view views closer comes think say said
""".split())
_WORD = re.compile(r"[a-z]+")


def content_words(text: str) -> set[str]:
    """First 5 letters of the words of 3+ letters of ``text`` that are not STOPWORDS."""
    words = _WORD.findall(strip_volunteered(text).replace("'", ""))
    return {w[:5] for w in words if len(w) >= 3 and w not in STOPWORDS}


def foreign_options(items: list[tuple[str, list[str], list[bool]]]) -> list[list[int]]:
    """Per item ``(question, options, non_substantive)``: indices of its FOREIGN options (rule above),
    empty unless the item is flagged (it also has a substantive option of its own)."""
    questions_of: dict[str, set[str]] = {}
    for question, options, _ in items:
        for label in options:
            questions_of.setdefault(strip_volunteered(label), set()).add(norm_label(question))
    out = []
    for question, options, flags in items:
        q_words = content_words(question)
        foreign = [k for k, label in enumerate(options)
                   if not flags[k] and len(words := content_words(label)) >= 4 and not words & q_words
                   and len(questions_of[strip_volunteered(label)]) > 1]
        own = [k for k, f in enumerate(flags) if not f and k not in foreign]
        out.append(foreign if foreign and own else [])
    return out


# --------------------------------------------------------------------------------------------
def _option_label(value, file, where: str) -> str:
    if isinstance(value, bool):
        raise InputError(file, where, "option labels (strings or numbers)", value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(file, where, "finite numeric option labels", value)
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise InputError(file, where, "non-empty option labels", value)


def parse_options(text: str, file, where: str) -> list[str]:
    """The ``options`` cell: a Python list repr of labels; numbers become strings (1.0 → "1")."""
    try:
        value = ast.literal_eval(str(text).strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise InputError(file, f"options ({where})", "a Python list of option labels", text) from exc
    if not isinstance(value, (list, tuple)) or not value:
        raise InputError(file, f"options ({where})", "a non-empty list of option labels", text)
    return [_option_label(v, file, f"options ({where})") for v in value]


_DEFAULTDICT = re.compile(r"^defaultdict\(\s*<class\s+'list'>\s*,\s*(\{.*\})\s*\)$", re.DOTALL)


def parse_selections(text: str, file, where: str) -> dict[str, list]:
    """The ``selections`` cell: ``defaultdict(<class 'list'>, {...})`` or a bare ``{...}``."""
    raw = str(text).strip()
    m = _DEFAULTDICT.match(raw)
    inner = m.group(1) if m else raw
    try:
        value = ast.literal_eval(inner)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise InputError(file, f"selections ({where})",
                         "defaultdict(<class 'list'>, {'Country': [shares...]}) text", text) from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, (list, tuple))
                                              for k, v in value.items()):
        raise InputError(file, f"selections ({where})", "a mapping country name -> list of shares", text)
    return {k: list(v) for k, v in value.items()}


def item_id_of(question: str, options: list[str]) -> str:
    """``goqa-`` + first 12 hex of sha1 of ``json.dumps([question, options], ensure_ascii=False)``
    (the stripped question text and the option labels as parsed, in file order)."""
    return stable_id("goqa-", json.dumps([question, list(options)], ensure_ascii=False))


def load(study: str, paths: dict, *, strict_countries: bool = False) -> SurveyTables:
    """Import a GlobalOpinionQA CSV (``paths['csv']``) into items / targets / (empty) scores.

    ``strict_countries``: a survey name the country table and rules do not know is an InputError
    (default: its rows are left out, listed in the report and logged once as a warning)."""
    path = require_path(paths, "csv", "goqa")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(path, "file", "a CSV file (UTF-8) in the global_opinions.csv layout", str(exc)) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(path, "columns", f"columns {REQUIRED_COLUMNS}", list(raw.columns))
    if raw.empty:
        raise InputError(path, "rows", "at least one question row")

    report: list[str] = []
    mapper = CountryMapper(path, strict=strict_countries)
    dist = DistributionCounter()
    items: dict[str, dict] = {}          # item_id -> item row
    shares_by_item: dict[str, dict[str, tuple[str, list[float]]]] = {}  # item_id -> code -> (name, shares)
    sources: Counter = Counter()
    clashes: list[str] = []
    superseded: list[str] = []  # current national sample preferred over an old one (same item, country)
    old_used = 0
    variants: dict[str, set[str]] = {}  # question -> item ids (one per option list)
    dup_merged = reordered = junk = 0

    for pos, row in enumerate(raw.itertuples(index=False), start=1):
        question = row.question.strip()
        where = f"row {pos}"
        if not question:
            raise InputError(path, f"question ({where})", "a non-empty question text")
        where = f"row {pos}, question {question[:60]!r}"
        options = parse_options(row.options, path, where)
        selections = parse_selections(row.selections, path, where)
        source = row.source.strip() or "unknown"
        flags = [is_non_substantive(o) for o in options]
        junk_here = sum(is_junk(o) for o in options)

        item_id = item_id_of(question, options)
        variants.setdefault(question, set()).add(item_id)
        if item_id in items:  # same question, same options: one item, countries merged (first wins)
            dup_merged += 1
            order = items[item_id]["order"]
        else:
            order, scale = scale_order(options, flags)
            reordered += order != sorted(order)
            order = [i for i in order if not is_junk(options[i])]  # 'Total N=' is no answer: removed
            junk += junk_here
            sources[source] += 1
            items[item_id] = {
                "study": study, "item_id": item_id, "lang": "en", "translation": "original",
                "question": question, "options": [options[i] for i in order],
                "non_substantive": [flags[i] for i in order], "scale": scale, "source": source,
                "topic": "", "source_options": options, "source_index": source_index_of(order, len(options)),
                "order": order,
            }
            shares_by_item[item_id] = {}

        for survey_name, values in selections.items():
            field_name = f"selections ({where}, country {survey_name!r})"
            if len(values) != len(options):
                raise InputError(path, field_name, f"{len(options)} shares (one per option)", len(values))
            shares = [check_share(v, path, field_name) for v in values]
            code = mapper.national(survey_name)
            if code is None:
                continue
            seen = shares_by_item[item_id]
            rank = countries.precedence(survey_name)  # 1: an "(Old national sample)"
            if code in seen:
                kept_name, _, kept_rank = seen[code]
                if rank == kept_rank:
                    clashes.append(f"{item_id}: {survey_name!r} and {kept_name!r} → {code}")
                    continue
                current, old = (survey_name, kept_name) if rank < kept_rank else (kept_name, survey_name)
                superseded.append(f"{item_id}: {current!r} over {old!r}")
                if rank > kept_rank:
                    continue
            seen[code] = (survey_name, [shares[i] for i in order], rank)

    mapper.check_strict()

    target_rows = []
    for item_id, by_code in shares_by_item.items():
        for code, (survey_name, shares, rank) in by_code.items():
            old_used += rank > 0
            clean = dist.clean(shares)
            if clean is None:
                continue
            target_rows.extend(
                {"study": study, "item_id": item_id, "country": code, "option_index": k, "share": s,
                 "n": math.nan, "survey_name": survey_name}
                for k, s in enumerate(clean)
            )

    item_list = list(items.values())
    foreign = foreign_options([(it["question"], it["options"], it["non_substantive"]) for it in item_list])
    item_rows = [{k: v for k, v in it.items() if k != "order"} for it in item_list]
    items_df = items_frame(item_rows)
    items_df["options_mismatch"] = [bool(f) for f in foreign]
    mismatched = [(it["item_id"], it["question"], len(f)) for it, f in zip(item_list, foreign) if f]
    targets_df = targets_frame(target_rows)
    n_ord = int((items_df["scale"] == "ordinal").sum())
    report.append(f"{len(items_df)} items ({n_ord} ordinal, {len(items_df) - n_ord} nominal), "
                  f"{targets_df['country'].nunique()} countries, "
                  f"{targets_df.groupby(['item_id', 'country']).ngroups if len(targets_df) else 0} "
                  f"(item, country) distributions")
    report.append("sources: " + ", ".join(f"{s} {n}" for s, n in sorted(sources.items())))
    if reordered:
        report.append(f"reordered the options of {reordered} ordinal items into scale order")
    if junk:
        report.append(f"removed {junk} junk options that are not answers (e.g. 'Total N='); "
                      "the shares of the remaining options were renormalised")
    report.extend(mapper.notes())
    report.extend(dist.notes())
    if clashes:
        report.append(f"kept the first of two survey names mapping to one country on {len(clashes)} "
                      f"(item, country) pairs: " + "; ".join(clashes[:5]) + ("; …" if len(clashes) > 5 else ""))
    if superseded:
        report.append(f"preferred the current over the old national sample on {len(superseded)} (item, country) "
                      f"pairs: " + "; ".join(superseded[:3]) + ("; …" if len(superseded) > 3 else ""))
    if old_used:
        report.append(f"used an old national sample on {old_used} (item, country) pairs where no current "
                      "national sample answered")
    if dup_merged:
        report.append(f"merged {dup_merged} repeated questions with identical options (first wins per country)")
    split = {q: ids for q, ids in variants.items() if len(ids) > 1}
    if split:
        report.append(f"kept {len(split)} questions asked with different option lists as separate items "
                      f"({sum(len(ids) for ids in split.values())} items; the item_id hashes question and options)")
    if mismatched:
        report.append(f"flagged {len(mismatched)} items whose option list also holds statements of other "
                      "questions (options_mismatch; kept in raw_items, left out of the analysis view): "
                      + "; ".join(f"{i} {q[:60]!r} ({n} foreign option{'s' if n > 1 else ''})" for i, q, n in mismatched))
    items_without = len(items_df) - (targets_df["item_id"].nunique() if len(targets_df) else 0)
    if items_without:
        report.append(f"{items_without} items have no national target distribution")
    return SurveyTables(items_df, targets_df, scores_frame([]), report)
