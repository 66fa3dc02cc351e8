"""The fan-out: item × condition × country × prompt language × paraphrase × option order.

One output row per rendered prompt and evaluation target. Identical prompts (same messages, same
labels, same options shown) share a `prompt_id`, so a real model is asked each of them once.

Languages. The template (the *frame*: persona sentence, instructions) is in the prompt language; the
item text (question and options; the statement of a stance item) is in the prompt language only where
the study ships a translation, else in English. Each row records `item_lang`, `item_in_prompt_lang`
and `language_mode`: ``native`` (frame and item in a main language of the target country),
``frame_only`` (the frame is in the prompt language, the item text is not) or ``non_native`` (frame
and item in one language that is not a main language of the target country, or no target country).

Country placeholders. GlobalOpinionQA items say "(survey country)" or "(name of survey country
leader)" where each country's questionnaire named the country. They are filled with the target
country's name (cross-national: the persona; linguistic: the target country) in the language of the
item text (the sentence it stands in), and the leader with the template's ``country_leader`` phrase
("the leader of {country}"); CLDR has no names of leaders and none are looked up. Without a target
country (default prompting) the item is still rendered, with the template's generic phrase ("your
country", "the leader of your country": what each respondent's questionnaire meant), and flagged
with `placeholder_unfilled` so analyses can leave it out.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Iterable, Mapping

import pandas as pd

from . import countries
from .errors import InputError
from .templates import Template

NO_PERSONA = "none"
# Latin capitals without "I", which models also emit as the English pronoun ("I think …")
LABELS = string.ascii_uppercase.replace("I", "")
LANGUAGE_MODES = ("native", "frame_only", "non_native")
#: "(survey country)", "(Survey country)", "(name of survey country)", "(name of survey country leader)"
PLACEHOLDER = re.compile(r"\((?:the\s+)?(?:name\s+of\s+(?:the\s+)?)?survey\s+country(?:'s)?(?P<leader>\s+leader)?\)",
                         re.IGNORECASE)


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


def language_mode(country: str, prompt_lang: str, item_lang: str) -> str:
    """``native``, ``frame_only`` or ``non_native`` (see the module docstring).

    ``native`` needs both: the prompt language is a main language of the country (CLDR,
    ``countries.main_languages``) and the item text is in that language.
    """
    if item_lang != prompt_lang:
        return "frame_only"
    if country != NO_PERSONA and prompt_lang in countries.main_languages(country):
        return "native"
    return "non_native"


def condition_labels(table: pd.DataFrame) -> dict[str, str]:
    """Condition → label for tables and captions: ``linguistic (frame only)`` where that applies.

    Works on any table with columns condition, prompt_lang, item_lang, language_mode (the prompts or
    the alignment table). A condition is *frame only* when none of its prompts in a language other than
    the items' own language (the one they fall back to) shows a translated item, *partly frame only*
    when some do; otherwise its label is its name.
    """
    labels = {}
    for cond, grp in table.groupby("condition", sort=False):
        frame_only = grp["language_mode"] == "frame_only"
        own = set(grp.loc[frame_only, "item_lang"])  # languages the untranslated items are written in
        translated = (~frame_only) & (grp["item_lang"] == grp["prompt_lang"]) & ~grp["prompt_lang"].isin(own)
        if not frame_only.any():
            labels[cond] = str(cond)
        elif not translated.any():
            labels[cond] = f"{cond} (frame only)"
        else:
            labels[cond] = f"{cond} (partly frame only: {frame_only.mean():.0%} of rows)"
    return labels


def fill_placeholders(text: str, country: str, lang: str, phrases: Mapping[str, str]) -> tuple[str, int]:
    """Replace the survey-country placeholders in ``text``; the country is named in ``lang`` (CLDR).

    ``country`` is the target country's code, or ``none``: then the generic phrases are used.
    """
    if not phrases:
        raise InputError("<templates>", "country_phrases", f"phrases for placeholders in '{lang}' item text")

    def sub(match: re.Match) -> str:
        leader = bool(match.group("leader"))
        if country == NO_PERSONA:
            out = phrases["your_country_leader" if leader else "your_country"]
        else:
            name = countries.name(country, lang)
            out = phrases["country_leader"].format(country=name) if leader else name
        # "(Survey country) should leave …" starts a sentence: "Your country should leave …"
        return out[:1].upper() + out[1:] if match.group(0)[1].isupper() else out

    return PLACEHOLDER.subn(sub, text)


def _filled_item(item: Mapping, country: str, phrases: Mapping[str, str], prompt_lang: str) -> tuple[Mapping, int]:
    """The item with its placeholders filled: the country's name in the prompt language (CLDR), the
    surrounding phrases ("the leader of …", "your country") in the item's own language."""
    question, n = fill_placeholders(item["question"], country, prompt_lang, phrases)
    options = []
    for option in item["options"]:
        filled, k = fill_placeholders(option, country, prompt_lang, phrases)
        options.append(filled)
        n += k
    return {**item, "question": question, "options": options}, n


def has_placeholder(item: Mapping) -> bool:
    return any(PLACEHOLDER.search(t) for t in [item["question"], *item["options"]])


def _item_text(rows_by_lang: Mapping[str, Mapping], lang: str) -> Mapping:
    """The item in the prompt language if translated, else in English (or its only language)."""
    if lang in rows_by_lang:
        return rows_by_lang[lang]
    return _fallback(rows_by_lang)


def _fallback(rows_by_lang: Mapping[str, Mapping]) -> Mapping:
    if "en" in rows_by_lang:
        return rows_by_lang["en"]
    return next(iter(rows_by_lang.values()))


def _persona_text(para: Mapping, persona: str, prompt_lang: str) -> str:
    """The persona sentence (and the blank line after it), or "" without a persona."""
    if persona == NO_PERSONA:
        return ""
    return para["persona"].format(country=countries.name(persona, prompt_lang)) + "\n\n"


def render_one(template: Template, para: Mapping, item: Mapping, persona: str, prompt_lang: str,
               order: str, stance: bool) -> dict:
    """Render one prompt: messages, labels and the option indices in display order."""
    return _render_with(template, para, item, _persona_text(para, persona, prompt_lang), order, stance)


def _render_with(template: Template, para: Mapping, item: Mapping, persona_text: str, order: str,
                 stance: bool) -> dict:
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
    system = [{"role": "system", "content": para["system"]}] if para["system"] else []

    def user(instruction: str, cue: str) -> list[dict]:
        text = para["user"].format(persona=persona_text, question=question, options=options_block,
                                   instruction=instruction).rstrip()
        return system + [{"role": "user", "content": f"{text}\n{cue}" if cue else text}]

    # the verbalised variant asks for a JSON probability per label instead of one letter
    verbal = template.verbalized_instruction.replace("{example}", _example(len(labels)))
    return {"messages": user(para["instruction"], template.answer_cue), "labels": labels, "shown_options": shown,
            "messages_verbalized": user(verbal, "")}


# Rendering at scale. Rows differ from each other mostly by the persona sentence, so each (item text,
# prompt language, paraphrase, option order) is rendered once with a sentinel in the persona's place,
# serialised (the `messages` JSON, the verbalised variant, and the JSON the prompt_id hashes) and cut
# at the sentinel; a row is then the pieces joined by its JSON-escaped persona sentence. JSON string
# escaping is per character, so this is byte-identical to serialising each row's messages (pinned by
# tests/test_prompts.py against the former per-row renderer). A variant where that does not hold
# (the persona at the very end of the text, which `rstrip` would touch, or the sentinel in the input)
# is rendered row by row as before.
_SENTINEL = "\ue000culturelens:persona\ue001"
_escape = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) does to a str


def _json_text(text: str) -> str:
    return _escape(text)[1:-1]


def _example(k: int) -> str:
    """The example answer of the verbalised instruction for k labels (cached: it depends on k only)."""
    out = _EXAMPLES.get(k)
    if out is None:
        labels = LABELS[:k]
        out = _EXAMPLES[k] = json.dumps({lab: round(1 / len(labels), 2) for lab in labels})
    return out


_EXAMPLES: dict[int, str] = {}


def _plain(messages: list[dict]) -> bool:
    """Each message is exactly {"role": str, "content": str}, in that order (what _render_with builds)."""
    return all(type(m) is dict and list(m) == ["role", "content"] and type(m["role"]) is str
               and type(m["content"]) is str for m in messages)


def _dumps(messages: list[dict]) -> str:
    """json.dumps(messages, ensure_ascii=False) for a list of {"role", "content"} messages (faster)."""
    if _plain(messages):
        return "[" + ", ".join(f'{{"role": {_escape(m["role"])}, "content": {_escape(m["content"])}}}'
                               for m in messages) + "]"
    return json.dumps(messages, ensure_ascii=False)


def _id_blob(messages: list[dict], labels: list[str], shown: list[int]) -> str:
    """What prompt_id hashes: the compact JSON of [messages, labels, shown]."""
    return json.dumps([messages, labels, shown], ensure_ascii=False, separators=(",", ":"))


def _id_blob_fast(messages: list[dict], labels: list[str], shown: list[int]) -> str:
    if (_plain(messages) and all(type(lab) is str for lab in labels) and all(type(i) is int for i in shown)):
        return ("[[" + ",".join(f'{{"role":{_escape(m["role"])},"content":{_escape(m["content"])}}}'
                                for m in messages)
                + "],[" + ",".join(map(_escape, labels)) + "],[" + ",".join(map(str, shown)) + "]]")
    return _id_blob(messages, labels, shown)


def _variant(template: Template, para: Mapping, item: Mapping, order: str, stance: bool) -> tuple:
    """(labels, shown, pieces of messages, of messages_verbalized, of the prompt_id blob) or, where
    the pieces cannot be joined safely, (labels, shown, None, None, None)."""
    r = _render_with(template, para, item, _SENTINEL, order, stance)
    labels, shown = r["labels"], r["shown_options"]
    inputs = [item["question"], *item["options"], template.answer_cue, template.verbalized_instruction,
              *(v for v in para.values() if isinstance(v, str)), *para["stance_options"]]
    if (_SENTINEL[0] in "".join(inputs)
            or any(m["content"].endswith(_SENTINEL) for k in ("messages", "messages_verbalized") for m in r[k])):
        return labels, shown, None, None, None
    return (labels, shown, _dumps(r["messages"]).split(_SENTINEL), _dumps(r["messages_verbalized"]).split(_SENTINEL),
            _id_blob_fast(r["messages"], labels, shown).split(_SENTINEL))


class _Variants:
    """The variants (paraphrase × option order) of one item text in one prompt language, as columns."""

    __slots__ = ("paraphrase", "option_order", "template_id", "labels", "shown", "messages", "verbalized", "blob",
                 "safe")

    def __init__(self, rows: list[tuple]):
        (self.paraphrase, self.option_order, self.template_id, self.labels, self.shown, self.messages,
         self.verbalized, self.blob) = (list(col) for col in zip(*rows)) if rows else ([] for _ in range(8))
        self.safe = all(m is not None for m in self.messages)


def _variants(template: Template, paras: tuple, per_variant: list[tuple[int, str]], item: Mapping,
              stance: bool) -> _Variants:
    return _Variants([(p_index, order, paras[p_index]["id"], *_variant(template, paras[p_index], item, order, stance))
                      for p_index, order in per_variant if p_index < len(paras)])


def render(items: pd.DataFrame, eligible: Mapping[str, list[str]], *, study: str, stance: bool,
           conditions: Mapping[str, Mapping], templates: Mapping[str, Template], paraphrases: int,
           option_orders: list[str], survey_sha: str,
           phrase_templates: Mapping[str, Template] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Render every prompt the configuration asks for; returns (prompts, notes).

    `eligible[item_id]` lists the countries with survey data for that item (already restricted to
    the configured countries); items with none are not rendered. `phrase_templates` (default:
    `templates`) supply the placeholder phrases in the item's language (English for an English item
    shown in a Chinese frame), falling back to the prompt language's template.

    Rows are built column by column; rows of one variant share their `labels` and `shown_options`
    list objects (read them, do not mutate them in place).
    """
    phrase_templates = {**templates, **(phrase_templates or {})}
    notes = []
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    by_item: dict[str, dict[str, Mapping]] = {}
    for rec in items.to_dict("records"):
        by_item.setdefault(rec["item_id"], {})[rec["lang"]] = rec
    unscored = [i for i in by_item if not eligible.get(i)]
    if unscored:
        notes.append(f"{len(unscored)} items have no survey data for the selected countries and were not rendered")
    skipped_native: set[str] = set()
    with_placeholder: set[str] = set()
    # what the notes need, counted while rendering (instead of grouping the table afterwards)
    rendered_in: dict[str, set[str]] = {}                  # prompt language → items rendered in it
    unfilled_rows, unfilled_items = 0, set()
    mix: dict[str, dict[tuple[str, str, str], int]] = {}   # condition → (prompt_lang, item_lang, mode) → rows
    too_few = [i for i, texts in by_item.items() if len(next(iter(texts.values()))["options"]) < 2 and not stance]
    if too_few:
        notes.append(f"{len(too_few)} items have fewer than two answer options left and were not rendered")
    too_few_set = set(too_few)
    variants: dict[tuple, list] = {}       # (item_id, prompt_lang, filled country) → per (paraphrase, order)
    personas: dict[tuple, list[str]] = {}  # (persona, prompt_lang) → JSON-escaped persona text per paraphrase
    placeholder_in: dict[int, bool] = {}
    append = {c: cols[c].append for c in COLUMNS}
    ext = {c: cols[c].extend for c in COLUMNS}
    per_variant = [(p_index, order) for p_index in range(paraphrases) for order in option_orders]
    sha256 = hashlib.sha256
    for item_id, texts in by_item.items():
        countries_here = eligible.get(item_id) or []
        if not countries_here or item_id in too_few_set:
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
                paras = template.paraphrases[:paraphrases]
                item = _item_text(texts, lang)
                flag = placeholder_in.get(id(item))
                if flag is None:
                    flag = placeholder_in[id(item)] = has_placeholder(item)
                n_filled = 0
                if flag:
                    phrases = (phrase_templates.get(item["lang"]) or template).country_phrases or template.country_phrases
                    item, n_filled = _filled_item(item, country, phrases, lang)
                if n_filled:
                    with_placeholder.add(item_id)
                unfilled = bool(n_filled) and country == NO_PERSONA
                item_lang = item["lang"]
                mode = language_mode(country, lang, item_lang)
                vkey = (item_id, lang, country if flag else None)
                built = variants.get(vkey)
                if built is None:
                    built = variants[vkey] = _variants(template, paras, per_variant, item, stance)
                k = len(built.paraphrase)
                if not k:
                    continue
                pkey = (persona, lang)
                escaped = personas.get(pkey)
                if escaped is None:
                    escaped = personas[pkey] = [_json_text(_persona_text(para, persona, lang)) for para in paras]
                for c, v in (("study", study), ("item_id", item_id), ("item_lang", item_lang), ("prompt_lang", lang),
                             ("item_in_prompt_lang", item_lang == lang), ("language_mode", mode),
                             ("placeholder_unfilled", unfilled), ("condition", cond_name), ("persona", persona),
                             ("country", country), ("template_sha", template.sha), ("survey_sha", survey_sha)):
                    ext[c]([v] * k)
                rendered_in.setdefault(lang, set()).add(item_id)
                if unfilled:
                    unfilled_rows += k
                    unfilled_items.add(item_id)
                counts = mix.setdefault(cond_name, {})
                counts[(lang, item_lang, mode)] = counts.get((lang, item_lang, mode), 0) + k
                ext["template_id"](built.template_id)
                ext["paraphrase"](built.paraphrase)
                ext["option_order"](built.option_order)
                ext["shown_options"](built.shown)
                ext["labels"](built.labels)
                if built.safe:
                    pes = [escaped[p] for p in built.paraphrase]
                    ext["messages"](map(str.join, pes, built.messages))
                    ext["messages_verbalized"](map(str.join, pes, built.verbalized))
                    ext["prompt_id"]([sha256(pe.join(parts).encode()).hexdigest()[:16]
                                      for pe, parts in zip(pes, built.blob)])
                    continue
                for p_index, order, m_parts, v_parts, id_parts in zip(
                        built.paraphrase, built.option_order, built.messages, built.verbalized, built.blob):
                    if m_parts is None:  # rendered row by row (see _variant)
                        r = render_one(template, paras[p_index], item, persona, lang, order, stance)
                        append["messages"](_dumps(r["messages"]))
                        append["messages_verbalized"](_dumps(r["messages_verbalized"]))
                        append["prompt_id"](prompt_id(r["messages"], r["labels"], r["shown_options"]))
                    else:
                        pe = escaped[p_index]
                        append["messages"](pe.join(m_parts))
                        append["messages_verbalized"](pe.join(v_parts))
                        append["prompt_id"](sha256(pe.join(id_parts).encode()).hexdigest()[:16])
    if skipped_native:
        notes.append(
            f"linguistic prompting: no template in the main language of {len(skipped_native)} countries "
            f"({', '.join(sorted(skipped_native))}); they are evaluated under the other conditions only"
        )
    if cols["prompt_id"]:
        table = pd.DataFrame(cols, columns=COLUMNS)
    else:
        table = pd.DataFrame([], columns=COLUMNS)
    if len(table):
        notes += _counted_language_notes(rendered_in, by_item, with_placeholder, unfilled_rows, unfilled_items, mix)
    return table, notes


def notes_for(table: pd.DataFrame, items: pd.DataFrame, eligible: Mapping[str, list[str]], *,
              conditions: Mapping[str, Mapping], templates: Mapping[str, Template], stance: bool) -> list[str]:
    """The notes `render` gives, from a rendered table (a study's prompts combined from its shards).

    `eligible`, `conditions` and `templates` as given to `render` for the whole study."""
    by_item: dict[str, dict[str, Mapping]] = {}
    for rec in items.to_dict("records"):
        by_item.setdefault(rec["item_id"], {})[rec["lang"]] = rec
    notes = []
    unscored = [i for i in by_item if not eligible.get(i)]
    if unscored:
        notes.append(f"{len(unscored)} items have no survey data for the selected countries and were not rendered")
    too_few = {i for i, texts in by_item.items() if len(next(iter(texts.values()))["options"]) < 2 and not stance}
    if too_few:
        notes.append(f"{len(too_few)} items have fewer than two answer options left and were not rendered")
    if any(c["languages"] == "native" for c in conditions.values()):
        listed = {c for i, cs in eligible.items() if i in by_item and i not in too_few for c in cs or ()}
        skipped = sorted(c for c in listed if countries.native_language(c, set(templates)) is None)
        if skipped:
            notes.append(
                f"linguistic prompting: no template in the main language of {len(skipped)} countries "
                f"({', '.join(skipped)}); they are evaluated under the other conditions only")
    if not len(table):
        return notes
    pairs = table[["item_id", "prompt_lang"]].drop_duplicates()
    rendered_in = pairs.groupby("prompt_lang")["item_id"].agg(set).to_dict()
    with_placeholder = {i for i, lang in pairs.itertuples(index=False)
                        if has_placeholder(_item_text(by_item[i], lang))}
    unfilled = table[table["placeholder_unfilled"].astype(bool)]
    mix = {}
    for (cond, lang, item_lang, mode), n in table.groupby(
            ["condition", "prompt_lang", "item_lang", "language_mode"], sort=False).size().items():
        mix.setdefault(cond, {})[(lang, item_lang, mode)] = int(n)
    mix = {c: mix[c] for c in conditions if c in mix}
    return notes + _counted_language_notes(rendered_in, by_item, with_placeholder, len(unfilled),
                                           set(unfilled["item_id"]), mix)


def _counted_language_notes(rendered_in: Mapping[str, set[str]], by_item: Mapping[str, Mapping],
                            with_placeholder: set[str], unfilled_rows: int, unfilled_items: set[str],
                            mix: Mapping[str, Mapping[tuple[str, str, str], int]]) -> list[str]:
    """Untranslated items per prompt language, placeholders and frame-only condition labels, from counts
    taken while rendering (tests/test_prompts.py pins the text against the former table-based version)."""
    notes = []
    for lang in sorted(rendered_in):
        rendered = sorted(rendered_in[lang])
        missing = [i for i in rendered if lang not in by_item[i]]
        if missing:
            notes.append(f"prompt language {lang}: {len(missing)} of {len(rendered)} items "
                         f"({len(missing) / len(rendered):.0%}) have no translation; their text is shown in "
                         f"{_fallback_langs(by_item, missing)} inside the {lang} template (language_mode frame_only)")
    if with_placeholder:
        notes.append(f"{len(with_placeholder)} items name the survey country by a placeholder such as "
                     "'(survey country)': filled with the target country's name in the prompt language; "
                     f"without a target country (default prompting) rendered as 'your country' in "
                     f"{unfilled_rows} prompt rows of {len(unfilled_items)} items (placeholder_unfilled)")
    for cond, counts in mix.items():
        rows = sum(counts.values())
        frame_rows = sum(n for (_, _, mode), n in counts.items() if mode == "frame_only")
        own = {item_lang for (_, item_lang, mode) in counts if mode == "frame_only"}
        translated = any(mode != "frame_only" and item_lang == lang and lang not in own
                         for (lang, item_lang, mode) in counts)
        if not frame_rows:
            continue
        label = f"{cond} (frame only)" if not translated else \
            f"{cond} (partly frame only: {frame_rows / rows:.0%} of rows)"
        notes.append(f"condition {cond} is labelled '{label}': the template is translated, the item text "
                     "is not (see language_mode)")
    return notes


COLUMNS = ["study", "item_id", "item_lang", "prompt_lang", "item_in_prompt_lang", "language_mode",
           "placeholder_unfilled", "condition", "persona", "country", "template_id", "paraphrase",
           "option_order", "shown_options", "labels", "messages", "messages_verbalized", "prompt_id",
           "template_sha", "survey_sha"]


def _fallback_langs(by_item: Mapping[str, Mapping], item_ids: list[str]) -> str:
    return "/".join(sorted({_fallback(by_item[i])["lang"] for i in item_ids}))


def country_languages(items: pd.DataFrame, eligible: Mapping[str, list[str]],
                      templates: Iterable[str]) -> pd.DataFrame:
    """Country → prompt language table, with how many of the country's items are translated into it.

    One row per country with survey data (``countries.language_info``) plus ``items`` (items with
    data for the country), ``items_translated`` (of those, with a translation in the prompt
    language), ``share_untranslated`` and ``language_mode``: ``native`` (every item translated),
    ``frame_only`` (none), ``partly_frame_only``, or ``none`` (no prompt language: the country is left
    out of linguistic prompting).
    """
    langs_of: dict[str, set[str]] = {}
    for rec in items[["item_id", "lang"]].itertuples(index=False):
        langs_of.setdefault(rec.item_id, set()).add(rec.lang)
    per_country: dict[str, list[str]] = {}
    for item_id, cs in eligible.items():
        for c in cs or []:
            per_country.setdefault(c, []).append(item_id)
    templates = list(templates)
    rows = []
    for code in sorted(per_country):
        row = countries.language_info(code, templates)
        ids = per_country[code]
        lang = row["language"]
        done = sum(lang in langs_of.get(i, ()) for i in ids) if lang else 0
        share = 1 - done / len(ids) if lang else float("nan")
        mode = ("none" if not lang else "native" if done == len(ids) else "frame_only" if done == 0
                else "partly_frame_only")
        rows.append({**row, "items": len(ids), "items_translated": done, "share_untranslated": share,
                     "language_mode": mode})
    columns = ["country", "name", "language", "cldr_language", "population_share", "official",
               "language_mode", "items", "items_translated", "share_untranslated", "main_languages",
               "most_spoken", "most_spoken_share", "reason"]
    return pd.DataFrame(rows, columns=columns)


#: what one answer is the same for, whatever the template paraphrase and option order
ANSWER_CELL = ["item_id", "item_lang", "condition", "persona", "country", "prompt_lang"]


def first_variant(table: pd.DataFrame) -> pd.DataFrame:
    """One prompt row per (item, condition, country, prompt language): the first paraphrase, shown
    in the first configured option order. For a respondent whose answer does not depend on the
    template or the order (answers imported from a file: given once per question and country), so
    that each of its answers enters tables and statistics once, not once per variant."""
    if table.empty:
        return table
    order = {name: k for k, name in enumerate(dict.fromkeys(table["option_order"]))}
    rank = table["paraphrase"].astype(int) * len(order) + table["option_order"].map(order)
    keys = [c for c in ANSWER_CELL if c in table.columns]
    first = rank.groupby([table[c] for c in keys], sort=False, dropna=False).transform("min")
    return table[rank == first].reset_index(drop=True)
