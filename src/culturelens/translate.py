"""Machine translation of survey items into the prompt languages, with provenance.

A study with ``translate: {model: <catalog model>, back_translate: true}`` has each item that lacks a
version in a prompt language its conditions use translated by that model, through the same engine and
response store as every model answer (resumable; a translation is never paid for twice). Rules:

- a human or original text is never replaced: only (item, language) pairs the survey lacks are
  requested; the source is the item's English text (else its first language);
- one request per (item, target language): the question and every option in one JSON object, so the
  options stay in order and in the question's terms; the reply must be a JSON object with
  ``question`` and ``options`` (as many as the source); anything else is reported and the item keeps
  its English text in that language (``frame_only`` in the prompts table, as before);
- provenance per text: ``translation`` is ``original``, ``human`` or ``machine``; machine rows carry
  ``translator`` (the catalog name and the provider's model id) and ``translated_on`` (the date the
  response was received, from the store);
- every request asks for one deterministic reply (:data:`ELICITATION`, whatever the translator's own
  elicitation settings); a request that failed for a reason worth retrying fails the job after the
  answers received are stored, so a plain rerun sends exactly the failed ones;
- with ``back_translate``, each machine translation is translated back into the source language and
  ``back_similarity`` is the mean over question and options of difflib's ratio between the back
  translation and the source (case-folded): 1 = identical wording; a low value flags a text to check.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping

import pandas as pd

from .countries import language_name_en

SYSTEM = ("You translate survey items. Translate the question and each answer option from {source} into "
          "{target}. Keep the meaning, the register and the order of the options; do not answer the question. "
          "Reply with only a JSON object {{\"question\": \"...\", \"options\": [\"...\", ...]}} with exactly "
          "{n} options.")
PROVENANCE_COLUMNS = ["translator", "translated_on", "back_translation", "back_similarity"]
TABLE_COLUMNS = ["item_id", "lang", "translation", "translator", "translated_on", "back_similarity", "problem",
                 "back_problem"]
#: what every translation request asks for, whatever the translator's own `elicitation`: one reply
#: (no sampling), deterministic, room for a long item in a verbose script
ELICITATION = {"method": "verbalized", "temperature": 0.0, "max_tokens": 2048}


def messages(question: str, options: list[str], source: str, target: str) -> list[dict]:
    system = SYSTEM.format(source=f"{language_name_en(source)} ({source})",
                           target=f"{language_name_en(target)} ({target})", n=len(options))
    user = json.dumps({"question": question, "options": list(options)}, ensure_ascii=False)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


REQUEST_COLUMNS = ["item_id", "source_lang", "lang", "messages", "messages_verbalized", "prompt_id"]


def _request(item: str, lang: str, text: Mapping, source: str, target: str) -> dict:
    """One request row: ``text`` (question, options) from ``source`` into ``target``; ``lang`` is the
    translation's language the row belongs to. ``messages`` is JSON, as a prompt row has it."""
    msgs = json.dumps(messages(text["question"], list(text["options"]), source, target), ensure_ascii=False)
    return {"item_id": item, "source_lang": source, "lang": lang, "messages": msgs, "messages_verbalized": msgs,
            "prompt_id": hashlib.sha256(msgs.encode()).hexdigest()[:16]}


def request_rows(sources: pd.DataFrame, wanted: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """One request row per (item, target language) in ``wanted``, from the item's source text
    (``sources``: one row per item)."""
    by_item = {rec["item_id"]: rec for rec in sources.to_dict("records")}
    rows = [_request(item, lang, by_item[item], by_item[item]["lang"], lang) for item, lang in sorted(wanted)]
    return pd.DataFrame(rows, columns=REQUEST_COLUMNS)


def parse(payload, n_options: int) -> tuple[dict | None, str]:
    """(``{"question", "options"}`` or None, why not) from a chat completion."""
    try:
        text = payload["choices"][0]["message"]["content"]
        value = json.loads(text[text.index("{"): text.rindex("}") + 1])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None, "no JSON object in the reply"
    if not isinstance(value, dict):
        return None, "no JSON object in the reply"
    question, options = value.get("question"), value.get("options")
    if not isinstance(question, str) or not question.strip():
        return None, "no question in the reply"
    if not isinstance(options, list) or len(options) != n_options or not all(isinstance(o, str) and o.strip()
                                                                              for o in options):
        return None, f"expected {n_options} non-empty options, got {options!r}"[:200]
    return {"question": question.strip(), "options": [o.strip() for o in options]}, ""


def _parsed(payload, error, n_options: int) -> tuple[dict | None, str]:
    """:func:`parse` of a reply, or (None, why) for a request that failed."""
    return parse(payload, n_options) if payload is not None else (None, f"request failed: {error}")


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.casefold(), b.casefold()).ratio()


def back_similarity(source: Mapping, back: Mapping) -> float:
    """Mean difflib ratio over question and options between the source and its back translation."""
    pairs = [(source["question"], back["question"]), *zip(source["options"], back["options"])]
    return sum(similarity(a, b) for a, b in pairs) / len(pairs)


def sources_of(items: pd.DataFrame) -> pd.DataFrame:
    """The text each item is translated from: its English row, else its first."""
    order = items.assign(_other=items["lang"] != "en").sort_values(["item_id", "_other"], kind="stable")
    return order.drop_duplicates("item_id").drop(columns="_other").reset_index(drop=True)


def _replies(responses: pd.DataFrame) -> list[tuple]:
    """(payload dict or None, received date, error) per response row (engine.run's table)."""
    out = []
    for status, payload, error, received in zip(responses["status"], responses["payload"], responses["error"],
                                                responses.get("received_at", pd.Series([None] * len(responses)))):
        data = json.loads(payload) if status == "ok" and isinstance(payload, str) else None
        date = str(received)[:10] if received is not None and received == received else ""
        out.append((data, date, error if status != "ok" else ""))
    return out


def translate(items: pd.DataFrame, languages: Iterable[str], ask, translator: str,
              back_translate: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(items with machine rows added, one row per (item, language) saying how it was translated).

    ``ask(rows)``: sends request rows (:func:`request_rows`) through the engine and returns its
    responses table in the same order (``status``, ``payload``, ``error``, optional ``received_at``).
    ``translator``: what the provenance names (catalog name and model id). In the returned table,
    ``problem`` says why a translation was not used, ``back_problem`` why its back translation failed
    (the translation itself is used)."""
    items = items.copy()
    for col in PROVENANCE_COLUMNS:
        if col not in items.columns:
            items[col] = None
    sources = sources_of(items)
    have = set(zip(items["item_id"], items["lang"]))
    langs = sorted(set(languages))
    wanted = [(i, lang) for i in sources["item_id"] for lang in langs if (i, lang) not in have]
    table = [{"item_id": i, "lang": lang, "translation": t, "translator": None, "translated_on": None,
              "back_similarity": None, "problem": "", "back_problem": ""}
             for i, lang, t in zip(items["item_id"], items["lang"], items["translation"]) if lang in langs]
    if not wanted:
        return items, pd.DataFrame(table, columns=TABLE_COLUMNS)
    rows = request_rows(sources, wanted)
    src = {rec["item_id"]: rec for rec in sources.to_dict("records")}
    done = {}    # (item, language) → (translated text, its table entry, its items row)
    for req, (payload, date, error) in zip(rows.to_dict("records"), _replies(ask(rows))):
        source = src[req["item_id"]]
        text, why = _parsed(payload, error, len(source["options"]))
        entry = {"item_id": req["item_id"], "lang": req["lang"], "translation": "machine", "translator": translator,
                 "translated_on": date, "back_similarity": None, "problem": why, "back_problem": ""}
        table.append(entry)
        if text is not None:
            row = {**source, **text, "lang": req["lang"], "translation": "machine", "translator": translator,
                   "translated_on": date, "back_translation": None, "back_similarity": None}
            done[(req["item_id"], req["lang"])] = (text, entry, row)
    if back_translate and done:
        back_rows = pd.DataFrame([_request(i, lang, text, lang, src[i]["lang"]) for (i, lang), (text, _, _) in done.items()],
                                 columns=REQUEST_COLUMNS)
        for req, (payload, _, error) in zip(back_rows.to_dict("records"), _replies(ask(back_rows))):
            source = src[req["item_id"]]
            text, why = _parsed(payload, error, len(source["options"]))
            _, entry, row = done[(req["item_id"], req["lang"])]
            if text is None:
                entry["back_problem"] = why
                continue
            entry["back_similarity"] = row["back_similarity"] = back_similarity(source, text)
            row["back_translation"] = json.dumps(text, ensure_ascii=False)
    new_rows = [row for _, _, row in done.values()]
    out = pd.concat([items, pd.DataFrame(new_rows, columns=items.columns)], ignore_index=True)
    return out, pd.DataFrame(table, columns=TABLE_COLUMNS)
