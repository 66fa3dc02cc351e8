"""Prompt templates: `resources/templates/<lang>.yaml`, one file per prompt language.

Each file holds the template language, its translation provenance, the answer cue, the phrases that
replace a survey's country placeholders (``country_phrases``) and a list of paraphrases (see
resources/templates/SOURCE.md and tests/test_resources_text.py for the format).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .config import digest
from .errors import InputError

PARAPHRASE_FIELDS = {
    "id": (),
    "system": (),
    "persona": ("{country}",),
    "user": ("{persona}", "{question}", "{options}"),
    "instruction": (),
    "option_line": ("{label}", "{option}"),
    "stance_question": ("{statement}",),
    "stance_options": (),
}
# Phrases that replace "(survey country)" and "(name of survey country leader)" in item text written
# in this language (see prompts.fill_placeholders): field → placeholders it must contain.
COUNTRY_PHRASE_FIELDS = {
    "your_country": (),            # no target country (default prompting): "your country"
    "country_leader": ("{country}",),  # "the leader of {country}"
    "your_country_leader": (),     # no target country: "the leader of your country"
}


# Placeholders each field may contain (a typo such as {contry} would be sent to the model verbatim).
ALLOWED = {"persona": {"country"}, "user": {"persona", "question", "options", "instruction"},
           "option_line": {"label", "option"}, "stance_question": {"statement"}, "system": set(),
           "instruction": set(), "answer_cue": set(), "verbalized_instruction": {"example"},
           "your_country": set(), "country_leader": {"country"}, "your_country_leader": set()}


def _check_placeholders(path: Path, key: str, field: str, text) -> None:
    if not isinstance(text, str):
        return
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as err:
        raise InputError(path, key, "text whose braces are placeholders like {country} (a literal brace is {{ or }})",
                         f"{text!r} ({err})") from None
    unknown = sorted(names - ALLOWED[field])
    if unknown:
        allowed = ", ".join(f"{{{n}}}" for n in sorted(ALLOWED[field])) or "no placeholder"
        raise InputError(path, key, f"only {allowed} here", ", ".join(f"{{{n}}}" for n in unknown))


@dataclass(frozen=True)
class Template:
    language: str
    provenance: dict
    answer_cue: str
    paraphrases: tuple[dict, ...]
    sha: str
    verbalized_instruction: str = ""
    country_phrases: dict = field(default_factory=dict)


def load(path: Path) -> Template:
    """Read and validate one template file; errors name the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise InputError(path, "(file)", "a readable YAML file", str(err)) from None
    if not isinstance(data, dict):
        raise InputError(path, "(top level)", "a mapping")
    for key in ("language", "provenance", "answer_cue", "verbalized_instruction", "country_phrases", "paraphrases"):
        if key not in data:
            raise InputError(path, key, "a value (missing)")
    if data["language"] != path.stem:
        raise InputError(path, "language", f"'{path.stem}' (the file name)", data["language"])
    _check_placeholders(path, "answer_cue", "answer_cue", data["answer_cue"])
    _check_placeholders(path, "verbalized_instruction", "verbalized_instruction", data["verbalized_instruction"])
    if "{example}" not in data["verbalized_instruction"]:
        raise InputError(path, "verbalized_instruction", "text containing {example}", data["verbalized_instruction"])
    phrases = data["country_phrases"]
    if not isinstance(phrases, dict) or set(phrases) != set(COUNTRY_PHRASE_FIELDS):
        raise InputError(path, "country_phrases", f"a mapping with exactly {sorted(COUNTRY_PHRASE_FIELDS)}",
                         phrases)
    for key, needed in COUNTRY_PHRASE_FIELDS.items():
        text = phrases[key]
        if not isinstance(text, str) or not text.strip() or any(ph not in text for ph in needed):
            raise InputError(path, f"country_phrases.{key}",
                             "non-empty text" + (f" containing {', '.join(needed)}" if needed else ""), text)
        _check_placeholders(path, f"country_phrases.{key}", key, text)
    paraphrases = data["paraphrases"]
    if not isinstance(paraphrases, list) or not paraphrases:
        raise InputError(path, "paraphrases", "a non-empty list")
    for i, para in enumerate(paraphrases):
        for field, placeholders in PARAPHRASE_FIELDS.items():
            if field not in para:
                raise InputError(path, f"paraphrases[{i}].{field}", "a value (missing)")
            for ph in placeholders:
                if ph not in para[field]:
                    raise InputError(path, f"paraphrases[{i}].{field}", f"text containing {ph}", para[field])
            if field in ALLOWED:
                _check_placeholders(path, f"paraphrases[{i}].{field}", field, para[field])
        if not (isinstance(para["stance_options"], list) and len(para["stance_options"]) == 2):
            raise InputError(path, f"paraphrases[{i}].stance_options", "two options: agree, disagree")
    return Template(data["language"], data["provenance"], data["answer_cue"], tuple(paraphrases), digest(data),
                    data["verbalized_instruction"], dict(phrases))


def load_dir(directory: Path, languages=None) -> dict[str, Template]:
    """All templates in a directory (or only `languages`), keyed by language."""
    directory = Path(directory)
    files = sorted(directory.glob("*.yaml"))
    out = {f.stem: load(f) for f in files if languages is None or f.stem in languages}
    missing = sorted(set(languages or ()) - set(out))
    if missing:
        raise InputError(directory, "templates", f"a template file for each language ({', '.join(missing)}.yaml missing)")
    return out
