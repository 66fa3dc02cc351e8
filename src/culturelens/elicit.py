"""Responses → an answer distribution over the shown option labels, per prompt.

- `logprobs`: the top log-probabilities of the first answer token, mapped to labels (tokenizer
  variants such as "A", " A", "A.", "(A" count for A), renormalised over the labels; the mass
  they covered is kept as `coverage`, a validity figure.
- `sample`: each drawn answer parsed to a label; unparseable answers are counted in `n_invalid`.
- `verbalized`: a JSON object label → probability stated by the model, validated and renormalised.

Every parser returns (probs in display order or None, coverage, n_valid, n_invalid, note).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

_STRIP = " \t\n\r.:)(*\"'[]`"
# "A", "(A)", "A) …", "A. …", "Answer: A" — but not "Absolutely", "A lot depends" or "a dog".
_ANSWER = re.compile(r"^\W*(?i:(?:the\s+)?answer(?:\s+is)?\s*[:\-]?\s*)?\(?([A-Z])(?=\s*$|[.):,\]])")


def token_label(token: str, labels: Sequence[str]) -> str | None:
    """The label a single token stands for, or None ("A", " A", "A.", "(A", "▁A" → "A")."""
    core = token.replace("▁", " ").replace("Ġ", " ").strip(_STRIP)
    return core if core in labels else None


def parse_answer(text: str, labels: Sequence[str]) -> str | None:
    """The label a free-text answer chooses, or None when it names none (or is a refusal)."""
    if not text:
        return None
    stripped = text.strip().strip(_STRIP)
    if stripped in labels:
        return stripped
    m = _ANSWER.match(text.strip())
    return m.group(1) if m and m.group(1) in labels else None


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


_OFF_SCALE = re.compile(r"^\W*(?i:(?:the\s+)?answer(?:\s+is)?\s*[:\-]?\s*)?\(?([A-Z])(?=\s*$|[.):,\]])")


def answer_kind(text: str, labels: Sequence[str]) -> str:
    """Why a free-text answer names no shown option: `empty`, `refusal`, `off_scale` (a letter that
    was not shown), `other_script` (no Latin letter at all: often an answer in the prompt's language
    instead of a letter) or `no_label`."""
    text = (text or "").strip()
    if not text:
        return "empty"
    if is_refusal(text):
        return "refusal"
    m = _OFF_SCALE.match(text)
    if m and m.group(1) not in labels:
        return "off_scale"
    if not re.search(r"[A-Za-z]", text) and re.search(r"\w", text):
        return "other_script"
    return "no_label"


# reasons a prompt row has no distribution (`invalid.reason`), besides the response's own status
UNPARSEABLE_KINDS = ("empty", "refusal", "off_scale", "other_script", "no_label", "no_logprobs",
                     "no_json", "invalid_probabilities", "unexpected_shape")


def why_unparseable(payload: dict, labels: Sequence[str], method: str) -> str:
    """The kind of an answer no parser could use (one of UNPARSEABLE_KINDS)."""
    try:
        choices = payload.get("choices") or []
        texts = [((c.get("message") or {}).get("content") or "") for c in choices]
        first = choices[0] if choices else {}
    except AttributeError:
        return "unexpected_shape"
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
    kinds = [answer_kind(t, labels) for t in texts] or ["empty"]
    return max(dict.fromkeys(kinds), key=kinds.count)   # the most frequent kind among the draws


def from_samples(payload: dict, labels: Sequence[str]):
    counts = dict.fromkeys(labels, 0)
    refused = unparseable = 0
    for choice in payload.get("choices", []):
        text = (choice.get("message") or {}).get("content") or ""
        label = parse_answer(text, labels)
        if label is not None:
            counts[label] += 1
        elif is_refusal(text):
            refused += 1
        else:
            unparseable += 1
    valid, invalid = sum(counts.values()), refused + unparseable
    note = f"{refused} refusals, {unparseable} unparseable" if invalid else ""
    if valid == 0:
        return None, 0.0, 0, invalid, f"no draw named an option ({note or 'no draws'})"
    return [counts[lab] / valid for lab in labels], valid / (valid + invalid), valid, invalid, note


def from_verbalized(payload: dict, labels: Sequence[str]):
    try:
        text = payload["choices"][0]["message"]["content"]
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


def distributions(prompts, responses, method: str):
    """Long table: one row per (prompt row, option_index) with `prob`, plus per-prompt validity.

    Prompt rows whose response failed, abstained or could not be parsed get no probability rows;
    they are returned in the second table (`invalid`) with the reason (`failed`, `abstained`,
    `missing`, or the kind of unusable answer: UNPARSEABLE_KINDS), so they are counted and reported.
    Rows sharing a response (the same payload text and labels) are parsed once.
    """
    import numpy as np
    import pandas as pd

    parser = PARSERS[method]
    merged = prompts[[*META, "labels", "shown_options"]].merge(
        responses[["prompt_id", "condition", "country", "status", "error", "payload"]],
        on=["prompt_id", "condition", "country"], how="left", validate="one_to_one")
    parsed: dict[tuple, tuple] = {}
    ok_rows, probs_of, facts, bad_rows, bad = [], [], [], [], []
    columns = (merged[c].tolist() for c in ("status", "error", "payload", "labels", "shown_options"))
    for row, (status, error, text, labels, shown) in enumerate(zip(*columns)):
        if status != "ok":
            bad_rows.append(row)
            bad.append(("missing" if status is None or status != status else status, error))
            continue
        labels = tuple(labels)
        result = parsed.get((text, labels))
        if result is None:
            try:
                payload = json.loads(text)
                probs, coverage, n_valid, n_invalid, note = parser(payload, labels)
                kind = why_unparseable(payload, labels, method) if probs is None else None
            except (TypeError, ValueError, KeyError, AttributeError, IndexError) as err:  # an odd payload shape
                probs, coverage, n_valid, n_invalid = None, 0.0, 0, 1
                note, kind = f"unexpected response shape: {type(err).__name__}: {err}", "unexpected_shape"
            result = parsed[(text, labels)] = (probs, coverage, n_valid, n_invalid, note, kind)
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
