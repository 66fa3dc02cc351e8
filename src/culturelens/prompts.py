"""The fan-out: item × condition × country × prompt language × paraphrase × option order.

One output row per rendered prompt and evaluation target. Identical prompts (same messages, same
labels, same options shown) share a `prompt_id`, so a real model is asked each of them once.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Iterable, Mapping

import pandas as pd

from . import countries
from .templates import Template

NO_PERSONA = "none"
# Latin capitals without "I", which models also emit as the English pronoun ("I think …")
LABELS = string.ascii_uppercase.replace("I", "")


def prompt_id(messages: list[dict], labels: list[str], shown: list[int]) -> str:
    """First 16 hex digits of sha256 over what the model sees and how answers map to options."""
    blob = json.dumps([messages, labels, shown], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def targets_for(condition: Mapping, language_spec, eligible: list[str], available: Iterable[str]):
    """(persona, country, prompt_lang) triples one condition asks for, for one item.

    `language_spec` is a list of languages or "native" (each country's main language with a template).
    Without a persona and with fixed languages there is one target, `none`: the prompt is compared
    with every country.
    """
    available = set(available)
    persona = condition["persona"]
    if language_spec != "native":
        langs = list(language_spec)
        if not persona:
            return [(NO_PERSONA, NO_PERSONA, lang) for lang in langs]
        return [(c, c, lang) for c in eligible for lang in langs]
    out = []
    for c in eligible:
        lang = countries.native_language(c, available)
        if lang is not None:
            out.append((c if persona else NO_PERSONA, c, lang))
    return out


def _item_text(rows_by_lang: Mapping[str, Mapping], lang: str) -> Mapping:
    """The item in the prompt language if translated, else in English (or its only language)."""
    if lang in rows_by_lang:
        return rows_by_lang[lang]
    if "en" in rows_by_lang:
        return rows_by_lang["en"]
    return next(iter(rows_by_lang.values()))


def render_one(template: Template, para: Mapping, item: Mapping, persona: str, prompt_lang: str,
               order: str, stance: bool) -> dict:
    """Render one prompt: messages, labels and the option indices in display order."""
    if stance:
        question = para["stance_question"].format(statement=item["question"])
        option_texts = list(para["stance_options"])
    else:
        question = item["question"]
        option_texts = list(item["options"])
    shown = list(range(len(option_texts)))
    if order == "reversed":
        shown.reverse()
    labels = list(LABELS[: len(shown)])
    options_block = "\n".join(
        para["option_line"].format(label=lab, option=option_texts[i]) for lab, i in zip(labels, shown)
    )
    persona_text = ""
    if persona != NO_PERSONA:
        persona_text = para["persona"].format(country=countries.name(persona, prompt_lang)) + "\n\n"
    system = [{"role": "system", "content": para["system"]}] if para["system"] else []

    def user(instruction: str, cue: str) -> list[dict]:
        text = para["user"].format(persona=persona_text, question=question, options=options_block,
                                   instruction=instruction).rstrip()
        return system + [{"role": "user", "content": f"{text}\n{cue}" if cue else text}]

    # the verbalised variant asks for a JSON probability per label instead of one letter
    example = json.dumps({lab: round(1 / len(labels), 2) for lab in labels})
    verbal = template.verbalized_instruction.replace("{example}", example)
    return {"messages": user(para["instruction"], template.answer_cue), "labels": labels, "shown_options": shown,
            "messages_verbalized": user(verbal, "")}


def render(items: pd.DataFrame, eligible: Mapping[str, list[str]], *, study: str, stance: bool,
           conditions: Mapping[str, Mapping], templates: Mapping[str, Template], paraphrases: int,
           option_orders: list[str], survey_sha: str) -> tuple[pd.DataFrame, list[str]]:
    """Render every prompt the configuration asks for; returns (prompts, notes).

    `eligible[item_id]` lists the countries with survey data for that item (already restricted to
    the configured countries); items with none are not rendered.
    """
    rows, notes = [], []
    by_item: dict[str, dict[str, Mapping]] = {}
    for rec in items.to_dict("records"):
        by_item.setdefault(rec["item_id"], {})[rec["lang"]] = rec
    unscored = [i for i in by_item if not eligible.get(i)]
    if unscored:
        notes.append(f"{len(unscored)} items have no survey data for the selected countries and were not rendered")
    skipped_native: set[str] = set()
    too_few = [i for i, texts in by_item.items() if len(next(iter(texts.values()))["options"]) < 2 and not stance]
    if too_few:
        notes.append(f"{len(too_few)} items have fewer than two answer options left and were not rendered")
    for item_id, texts in by_item.items():
        countries_here = eligible.get(item_id) or []
        if not countries_here or item_id in too_few:
            continue
        for cond_name, cond in conditions.items():
            triples = targets_for(cond, cond["languages"], countries_here, templates)
            if cond["languages"] == "native":
                covered = {c for _, c, _ in triples}
                skipped_native.update(set(countries_here) - covered)
            for persona, country, lang in triples:
                if lang not in templates:
                    raise KeyError(f"no template for prompt language '{lang}'")
                template = templates[lang]
                item = _item_text(texts, lang)
                for p_index, para in enumerate(template.paraphrases[:paraphrases]):
                    for order in option_orders:
                        r = render_one(template, para, item, persona, lang, order, stance)
                        rows.append({
                            "study": study, "item_id": item_id, "item_lang": item["lang"],
                            "prompt_lang": lang, "condition": cond_name, "persona": persona,
                            "country": country, "template_id": para["id"], "paraphrase": p_index,
                            "option_order": order, "shown_options": r["shown_options"],
                            "labels": r["labels"], "messages": json.dumps(r["messages"], ensure_ascii=False),
                            "messages_verbalized": json.dumps(r["messages_verbalized"], ensure_ascii=False),
                            "prompt_id": prompt_id(r["messages"], r["labels"], r["shown_options"]),
                            "template_sha": template.sha, "survey_sha": survey_sha,
                        })
    if skipped_native:
        notes.append(
            f"linguistic prompting: no template in the main language of {len(skipped_native)} countries "
            f"({', '.join(sorted(skipped_native))}); they are evaluated under the other conditions only"
        )
    columns = ["study", "item_id", "item_lang", "prompt_lang", "condition", "persona", "country",
               "template_id", "paraphrase", "option_order", "shown_options", "labels", "messages",
               "messages_verbalized", "prompt_id", "template_sha", "survey_sha"]
    return pd.DataFrame(rows, columns=columns), notes
