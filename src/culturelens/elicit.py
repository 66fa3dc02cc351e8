"""Responses → an answer distribution over the shown option labels, per prompt.

- `logprobs`: the top log-probabilities of the first answer token, mapped to labels (tokenizer
  variants such as "A", " A", "A.", "(A" count for A), renormalised over the labels; the mass
  they covered is kept as `coverage`, a validity figure.
- `sample`: each drawn answer parsed to a label; unparseable answers are counted in `n_invalid`.
- `verbalized`: a JSON object label → probability stated by the model, validated and renormalised.

Every parser returns (probs in display order or None, coverage, n_valid, n_invalid, note).

Answers by option text (opt-in: `distributions(..., option_texts=...)`, `parse_answer(..., names=...)`;
`sample` draws only — `logprobs` reads a first-token letter and `verbalized` a JSON object, both
unchanged). Models asked for a letter often answer with the option's word instead ("Freude", "I
would feel joy."). Given the accepted names of each option (e.g. ("Freude", "joy"): the option text
in the prompt's language and its English name), a free-text answer is read by these rules, in order:

1. the letter parse (`parse_answer` without names: "B", "(B)", "B) …", "Answer: B"); a letter wins
   over any word that follows it ("B) Freude" is B whatever option B shows);
2. the whole answer, stripped of surrounding whitespace, punctuation and symbols (so markdown such as
   "**Freude**" or "`joy`.") and case-folded (`str.casefold`, after NFC normalisation), equals one
   accepted name (normalised the same way) of exactly one option;
3. otherwise, unless the answer is a refusal (`is_refusal`: "As an AI I cannot feel anger" is a
   refusal, not anger), an accepted name occurs inside the answer as a whole sequence of tokens ("I
   would feel joy.", "Ich würde Freude empfinden", "Answer: fear", "मुझे गुस्सा आएगा"). Answer and
   names are split into tokens at whitespace and at Unicode punctuation and symbols (unicodedata
   categories Z*, P*, S*, and C* controls other than Cf) — not with regex `\\b`, which fails around
   combining marks (Devanagari vowel signs and viramas, Ethiopic marks U+135D–135F) because they are
   not `\\w`: `\\bउदासी\\b` does not find "उदासी" in "मुझे उदासी होगी". When names of two
   different options occur, the answer is `ambiguous` (one of UNPARSEABLE_KINDS) and is not counted.

Known limits: no negation handling ("no anger, only sadness" names two options: ambiguous; "I would not
feel fear" counts as fear); no inflection, stemming or clitic splitting (Arabic "بالغضب" does not
match "غضب", German "ängstlich" does not match "Angst"); diacritics must match after NFC (Arabic
"غَضَب" with vowel marks does not match "غضب"); scripts written without spaces (Chinese, Japanese,
Thai) match only by rule 2; the English names are accepted in every prompt language; a name that
contains another option's name ("very angry" vs "angry") is ambiguous under rule 3 (only rule 2,
the whole answer, tells them apart); names shared by two options make both rules report ambiguity.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from collections.abc import Sequence

_STRIP = " \t\n\r.:)(*\"'[]`"
# "A", "(A)", "A) …", "A. …", "Answer: A" — but not "Absolutely", "A lot depends" or "a dog".
_ANSWER = re.compile(r"^\W*(?i:(?:the\s+)?answer(?:\s+is)?\s*[:\-]?\s*)?\(?([A-Z])(?=\s*$|[.):,\]])")


def token_label(token: str, labels: Sequence[str]) -> str | None:
    """The label a single token stands for, or None ("A", " A", "A.", "(A", "▁A" → "A")."""
    core = token.replace("▁", " ").replace("Ġ", " ").strip(_STRIP)
    return core if core in labels else None


def parse_answer(text: str, labels: Sequence[str], names: Sequence[Sequence[str]] | None = None) -> str | None:
    """The label a free-text answer chooses, or None when it names none (or is a refusal).

    `names`, optional and parallel to `labels` (display order), holds the accepted names of the option
    each label shows; with it an answer may also name the option by its text (rules 2–3 of the
    module docstring). None when the answer names no option, or options of two labels (ambiguous)."""
    return _read(text, labels, names)[0]


def _read(text: str, labels: Sequence[str], names) -> tuple[str | None, bool]:
    """(label, ambiguous): the letter first, then (with `names`) the option's text."""
    label = _parse_letter(text, labels)
    if label is None and names:
        return _match_text(text, labels, names)
    return label, False


def _parse_letter(text: str, labels: Sequence[str]) -> str | None:
    if not text:
        return None
    stripped = text.strip().strip(_STRIP)
    if stripped in labels:
        return stripped
    m = _ANSWER.match(text.strip())
    return m.group(1) if m and m.group(1) in labels else None


def _is_separator(ch: str) -> bool:
    """Whitespace, punctuation, symbols and controls split tokens; letters, marks (Devanagari vowel
    signs, viramas, Arabic harakat) and digits do not."""
    if ch.isalnum():
        return False
    category = unicodedata.category(ch)
    return category[0] in "ZPS" or category[0] == "C" and category != "Cf"


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _tokens(folded: str) -> tuple[str, ...]:
    out, word = [], []
    for ch in folded:
        if _is_separator(ch):
            if word:
                out.append("".join(word))
                word = []
        else:
            word.append(ch)
    if word:
        out.append("".join(word))
    return tuple(out)


def _trim(folded: str) -> str:
    """`folded` without the whitespace, punctuation and symbols around it (markdown, quotes, a full stop)."""
    start, end = 0, len(folded)
    while start < end and _is_separator(folded[start]):
        start += 1
    while end > start and _is_separator(folded[end - 1]):
        end -= 1
    return folded[start:end]


def _freeze(names: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    """Hashable names; a bare string is one name (not a sequence of one-letter names)."""
    return tuple(((n,) if isinstance(n, str) else tuple(n or ())) for n in names)


@functools.lru_cache(maxsize=4096)
def _name_table(names: tuple[tuple[str, ...], ...]):
    """(whole trimmed name → set of positions, first token → [(token sequence, position)])."""
    whole: dict[str, set[int]] = {}
    by_first: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for pos, accepted in enumerate(names):
        for name in accepted:
            folded = _fold(name)
            trimmed, seq = _trim(folded), _tokens(folded)
            if not trimmed or not seq:
                continue
            whole.setdefault(trimmed, set()).add(pos)
            if (seq, pos) not in by_first.get(seq[0], ()):
                by_first.setdefault(seq[0], []).append((seq, pos))
    return whole, by_first


def _match_text(text: str, labels: Sequence[str], names: Sequence[Sequence[str]]) -> tuple[str | None, bool]:
    """(label, False) when the answer names one option by its text (rules 2–3), (None, True) when it
    names two or more, (None, False) when none (or it is a refusal)."""
    if not text:
        return None, False
    whole, by_first = _name_table(names if isinstance(names, tuple) else _freeze(names))
    folded = _fold(text)
    exact = whole.get(_trim(folded))
    if exact is not None:                       # rule 2: the whole answer is a name
        return (labels[next(iter(exact))], False) if len(exact) == 1 else (None, True)
    if is_refusal(text):
        return None, False
    found: set[int] = set()                     # rule 3: a name's tokens inside the answer
    tokens = _tokens(folded)
    for i, token in enumerate(tokens):
        for seq, pos in by_first.get(token, ()):
            if pos not in found and tokens[i:i + len(seq)] == seq:
                found.add(pos)
    if len(found) == 1:
        return labels[found.pop()], False
    return None, len(found) > 1


def from_logprobs(payload: dict, labels: Sequence[str]):
    try:
        first = payload["choices"][0]["logprobs"]["content"][0]
    except (KeyError, IndexError, TypeError):
        return None, 0.0, 0, 1, "no log-probabilities in the response"
    mass = dict.fromkeys(labels, 0.0)
    for entry in first.get("top_logprobs") or []:
        label = token_label(entry["token"], labels)
        if label is not None:
            mass[label] += math.exp(entry["logprob"])
    coverage = sum(mass.values())
    if coverage <= 0:
        return None, 0.0, 0, 1, "no option label among the top log-probabilities"
    return [mass[lab] / coverage for lab in labels], min(coverage, 1.0), 1, 0, ""


_REFUSAL = re.compile(
    r"\b(I can(?:no|')t|I (?:am|'m) (?:not able|unable)|I (?:do not|don't) have (?:personal )?(?:opinions|beliefs|views)"
    r"|as an AI|I (?:won't|will not)|I'm sorry|I am sorry|I must decline|not appropriate for me)\b",
    re.IGNORECASE)


def is_refusal(text: str) -> bool:
    """A declined answer ("As an AI, I don't have opinions…"): counted apart from unparseable text."""
    return bool(_REFUSAL.search(text or ""))


_OFF_SCALE = _ANSWER   # a letter answer, shown or not


def answer_kind(text: str, labels: Sequence[str], names: Sequence[Sequence[str]] | None = None) -> str:
    """Why a free-text answer names no shown option: `empty`, `refusal`, `ambiguous` (only with
    `names`: it names two options by their text), `off_scale` (a letter that was not shown),
    `other_script` (no Latin letter at all: often an answer in the prompt's language instead of a
    letter) or `no_label`."""
    text = (text or "").strip()
    if not text:
        return "empty"
    if is_refusal(text):
        return "refusal"
    if names and _match_text(text, labels, names)[1]:
        return "ambiguous"
    m = _OFF_SCALE.match(text)
    if m and m.group(1) not in labels:
        return "off_scale"
    if not re.search(r"[A-Za-z]", text) and re.search(r"\w", text):
        return "other_script"
    return "no_label"


# reasons a prompt row has no distribution (`invalid.reason`), besides the response's own status
UNPARSEABLE_KINDS = ("empty", "refusal", "ambiguous", "off_scale", "other_script", "no_label", "no_logprobs",
                     "no_json", "invalid_probabilities", "unexpected_shape", "budget_exhausted")

def answer_text(choice: dict) -> str:
    """The final answer of a choice, never its thinking: the message's ``content`` after the last
    ``</think>`` (Qwen3 / DeepSeek-R1 without a reasoning parser; some chat templates open the tag in
    the prompt, so only the closing one arrives); a ``<think>`` that never closes (the budget ran out
    while thinking) leaves no answer. Thinking a server returns apart (``reasoning_content``,
    ``reasoning``) is not read; it stays in the stored payload."""
    text = (choice.get("message") or {}).get("content") or ""
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1].strip()
    return "" if "<think>" in text else text


def budget_exhausted(choice: dict) -> bool:
    """The token allowance ran out before a final answer (``finish_reason: length``, no answer text)."""
    return choice.get("finish_reason") == "length" and not answer_text(choice)


def why_unparseable(payload: dict, labels: Sequence[str], method: str,
                    names: Sequence[Sequence[str]] | None = None) -> str:
    """The kind of an answer no parser could use (one of UNPARSEABLE_KINDS); `names` as in
    `parse_answer`, used for `sample` draws only."""
    try:
        choices = payload.get("choices") or []
        texts = [answer_text(c) for c in choices]
        first = choices[0] if choices else {}
        cut = [budget_exhausted(c) for c in choices]
    except AttributeError:
        return "unexpected_shape"
    if cut and (all(cut) or method != "sample" and cut[0]):
        return "budget_exhausted"   # a reasoning model thought until the allowance ran out
    if method == "logprobs":
        if not (first.get("logprobs") or {}).get("content"):
            return "no_logprobs"
        token = first["logprobs"]["content"][0].get("token") or ""
        return answer_kind(token, labels)
    if method == "verbalized":
        text = texts[0] if texts else ""
        if "{" not in text:
            kind = answer_kind(text, labels)
            return kind if kind in ("empty", "refusal", "other_script") else "no_json"
        return "invalid_probabilities"
    kinds = [answer_kind(t, labels, names) for t in texts] or ["empty"]
    return max(dict.fromkeys(kinds), key=kinds.count)   # the most frequent kind among the draws


def from_samples(payload: dict, labels: Sequence[str], names: Sequence[Sequence[str]] | None = None):
    """Each draw read by `parse_answer` (with `names`, also by option text); ambiguous draws (two
    options named) are counted apart from unparseable ones, in `n_invalid` and the note."""
    counts = dict.fromkeys(labels, 0)
    refused = unparseable = ambiguous = 0
    if names:
        names = names if isinstance(names, tuple) else _freeze(names)
    for choice in payload.get("choices", []):
        text = answer_text(choice)
        label, two = _read(text, labels, names)
        if label is not None:
            counts[label] += 1
        elif two:
            ambiguous += 1
        elif is_refusal(text):
            refused += 1
        else:
            unparseable += 1
    valid, invalid = sum(counts.values()), refused + unparseable + ambiguous
    note = f"{refused} refusals, {unparseable} unparseable" if invalid else ""
    if ambiguous:
        note += f", {ambiguous} ambiguous"
    if valid == 0:
        return None, 0.0, 0, invalid, f"no draw named an option ({note or 'no draws'})"
    return [counts[lab] / valid for lab in labels], valid / (valid + invalid), valid, invalid, note


def from_verbalized(payload: dict, labels: Sequence[str]):
    try:
        text = answer_text(payload["choices"][0])
        stated = json.loads(text[text.index("{"): text.rindex("}") + 1])
    except (KeyError, IndexError, TypeError, ValueError):
        return None, 0.0, 0, 1, "no JSON object of probabilities in the answer"
    probs = []
    for lab in labels:
        value = stated.get(lab, 0)
        if not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
            return None, 0.0, 0, 1, f"invalid probability for {lab}: {value!r}"
        probs.append(float(value))
    total = sum(probs)
    if total <= 0:
        return None, 0.0, 0, 1, "stated probabilities sum to 0"
    return [p / total for p in probs], 1.0, 1, 0, "" if abs(total - 1) < 0.02 else f"renormalised from {total:.3f}"


PARSERS = {"logprobs": from_logprobs, "sample": from_samples, "verbalized": from_verbalized}


META = ["study", "item_id", "item_lang", "prompt_lang", "condition", "persona", "country",
        "template_id", "paraphrase", "option_order", "prompt_id"]


def distributions(prompts, responses, method: str, option_texts: Sequence | None = None):
    """Long table: one row per (prompt row, option_index) with `prob`, plus per-prompt validity.

    Prompt rows whose response failed, abstained or could not be parsed get no probability rows;
    they are returned in the second table (`invalid`) with the reason (`failed`, `abstained`,
    `missing`, or the kind of unusable answer: UNPARSEABLE_KINDS, also where the response's status
    is `unreadable` and its `error` the kind), so they are counted and reported.
    Rows sharing a response (the same payload text, labels and option names) are parsed once.

    `option_texts` (optional, `sample` only; ignored by `logprobs` and `verbalized`): one element per
    row of `prompts`, in the same order, each a list indexed by option INDEX (like the item's
    options, not display order) of the accepted names of that option, e.g. [("Wut", "anger"),
    ("Freude", "joy"), …]; an element may be None (that row is read by letter only). With it, draws
    may name an option by its text (rules in the module docstring). None keeps letter-only parsing.
    """
    import numpy as np
    import pandas as pd

    parser = PARSERS[method]
    join = ["prompt_id", "condition", "country"]
    answer = ["status", "error", "payload"]
    if len(responses) == len(prompts) and all(
            np.array_equal(responses[c].to_numpy(), prompts[c].to_numpy()) for c in join):
        # row by row (answered in this process, one response per prompt row): two items rendering the
        # very same prompt keep their own answers (an imported file answers each dataset row)
        merged = prompts[[*META, "labels", "shown_options"]].reset_index(drop=True)
        for c in answer:
            merged[c] = responses[c].to_numpy()
    else:
        merged = prompts[[*META, "labels", "shown_options"]].merge(
            # two items can render the very same prompt (a repeated question): one response, both rows
            responses[[*join, *answer]].drop_duplicates(join), on=join, how="left", validate="many_to_one")
    if option_texts is not None and len(option_texts) != len(prompts):
        raise ValueError(f"option_texts has {len(option_texts)} elements for {len(prompts)} prompt rows")
    use_names = option_texts is not None and method == "sample"
    texts_of = list(option_texts) if use_names else None   # a left merge keeps the prompts' row order
    shown_names: dict[tuple, tuple] = {}   # (id(element), *shown) → (names in display order, their number)
    names_ids: dict[tuple, int] = {}       # equal names, one number: rows sharing them share the parse
    parsed: dict[tuple, tuple] = {}
    ok_rows, probs_of, facts, bad_rows, bad = [], [], [], [], []
    columns = (merged[c].tolist() for c in ("status", "error", "payload", "labels", "shown_options"))
    for row, (status, error, text, labels, shown) in enumerate(zip(*columns)):
        if status != "ok":
            bad_rows.append(row)
            # `unreadable`: a backend that read the answer itself (imported answers) says its kind
            bad.append(("missing" if status is None or status != status else error if status == "unreadable"
                        else status, error))
            continue
        labels = tuple(labels)
        names, names_id = None, None
        if use_names and texts_of[row] is not None:
            element = texts_of[row]
            found = shown_names.get((id(element), *shown))   # the lists outlive the loop: ids stay theirs
            if found is None:
                by_index = _freeze(element)
                if any(not 0 <= int(i) < len(by_index) for i in shown):
                    raise ValueError(f"option_texts[{row}] names {len(by_index)} options; "
                                     f"the prompt shows {list(shown)}")
                names = tuple(by_index[int(i)] for i in shown)
                found = shown_names[(id(element), *shown)] = (names, names_ids.setdefault(names, len(names_ids)))
            names, names_id = found
        key = (text, labels, names_id)
        result = parsed.get(key)
        if result is None:
            try:
                payload = json.loads(text)
                if names:
                    probs, coverage, n_valid, n_invalid, note = parser(payload, labels, names)
                else:
                    probs, coverage, n_valid, n_invalid, note = parser(payload, labels)
                kind = why_unparseable(payload, labels, method, names) if probs is None else None
            except (TypeError, ValueError, KeyError, AttributeError, IndexError) as err:  # an odd payload shape
                probs, coverage, n_valid, n_invalid = None, 0.0, 0, 1
                note, kind = f"unexpected response shape: {type(err).__name__}: {err}", "unexpected_shape"
            result = parsed[key] = (probs, coverage, n_valid, n_invalid, note, kind)
        probs, coverage, n_valid, n_invalid, note, kind = result
        if probs is None:
            bad_rows.append(row)
            bad.append((kind, note))
            continue
        ok_rows.append(row)
        probs_of.append((probs, shown))
        facts.append((coverage, n_valid, n_invalid, note))
    sizes = np.fromiter((len(p) for p, _ in probs_of), dtype=np.int64, count=len(probs_of))
    repeat = np.repeat(np.asarray(ok_rows, dtype=np.int64), sizes)
    dist = merged[META].iloc[repeat].reset_index(drop=True)
    dist["option_index"] = np.fromiter((int(i) for _, shown in probs_of for i in shown), dtype=np.int64,
                                       count=int(sizes.sum()))
    dist["position"] = np.concatenate([np.arange(n) for n in sizes]) if len(sizes) else np.empty(0, np.int64)
    dist["prob"] = np.fromiter((x for p, _ in probs_of for x in p), dtype=float, count=int(sizes.sum()))
    for j, name in enumerate(("coverage", "n_valid", "n_invalid", "note")):
        dist[name] = np.repeat(np.asarray([f[j] for f in facts], dtype=object if name == "note" else None), sizes)
    dist["method"] = method
    invalid = merged[META].iloc[bad_rows].reset_index(drop=True)
    invalid["reason"] = [r for r, _ in bad]
    invalid["detail"] = [d for _, d in bad]
    return dist, invalid


def sample_notes(dist) -> str:
    """Totals of invalid draws (refusals, unparseable) for the run's report."""
    if dist.empty or "n_invalid" not in dist:
        return ""
    per_prompt = dist.drop_duplicates(META)
    return f"{int(per_prompt['n_valid'].sum())} valid draws, {int(per_prompt['n_invalid'].sum())} invalid"
