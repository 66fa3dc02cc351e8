"""Checks the JSON Schema cannot express (cross-references between keys) and derived facts."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from pathlib import Path

from .errors import InputError

CONFIG_FILE = "config/config.yaml"
CHECKS_VERSION = 1   # bump when LiteLLMBackend.check verifies something new: cached passes are void


class Sources:
    """Which file gave a config key its value: `--config` (command line), else the last config
    file that sets it (`--configfile` files come after config/config.yaml), so an error names the
    file the user has to edit."""

    def __init__(self, files=(CONFIG_FILE,), overrides: dict | None = None):
        import yaml

        self.files = []
        for f in files:
            try:
                with open(f, encoding="utf-8") as fh:
                    self.files.append((str(f), yaml.safe_load(fh) or {}))
            except (OSError, ValueError):
                self.files.append((str(f), {}))
        self.overrides = overrides or {}

    def __call__(self, key: str) -> str:
        path = [p for p in re.split(r"\.|\[\d+\]", key) if p]
        if _has(self.overrides, path):
            return "--config"
        for name, data in reversed(self.files):
            if _has(data, path):
                return name
        return self.files[0][0] if self.files else CONFIG_FILE


def _has(data, path: list[str]) -> bool:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def check_schema(config: dict, schema: dict, where=lambda key: CONFIG_FILE) -> None:
    """The first schema violation as one InputError (key, value, what was expected), not the
    validator's dump of the schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    errors = list(Draft202012Validator(schema).iter_errors(config))
    # a plain violation (a missing or unknown key, a wrong value) before one inside oneOf / anyOf:
    # "'provider' is a required property", not the branch the validator happened to try last
    combinators = {"oneOf", "anyOf", "allOf", "if", "then", "else"}
    direct = [e for e in errors if not combinators & {str(p) for p in e.schema_path}]
    error = best_match(direct) or best_match(errors)
    if error is None:
        return
    key = ""
    for part in error.absolute_path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if extra:   # name the unknown key itself: the file that set it is the one to edit
            key = f"{key}.{extra[0]}" if key else extra[0]
    value = error.validator_value
    expected = {
        "enum": lambda: "one of " + ", ".join(map(str, value)),
        "type": lambda: f"a value of type {value}",
        "pattern": lambda: f"a name of letters, digits, '.', '_' or '-' (no '/', '..', spaces; pattern {value})",
        "minItems": lambda: f"at least {value} item(s)",
        "minimum": lambda: f"a number >= {value}",
        "maximum": lambda: f"a number <= {value}",
        "required": lambda: error.message,
        "additionalProperties": lambda: "only known keys: " + error.message,
        "propertyNames": lambda: "names of letters, digits, '.', '_' or '-' (no '/', '..', spaces)",
    }.get(error.validator, lambda: error.message)()
    got = error.instance if error.validator not in ("additionalProperties", "required") else None
    got = None if isinstance(got, (dict, list)) and len(json.dumps(got, default=str)) > 120 else got
    raise InputError(where(key or "(top level)"), key or "(top level)", expected, got)


def check(config: dict, file=CONFIG_FILE) -> None:
    """Raise InputError naming the key when a selection refers to nothing in the catalog.
    `file`: a file name, or a callable key → file (`Sources`)."""
    where = file if callable(file) else (lambda key: file)
    catalog = config["catalog"]
    for key, section in (("studies", "studies"), ("models", "models"), ("conditions", "conditions")):
        known = sorted(catalog[section])
        if not config[key]:
            raise InputError(where(key), key, f"at least one of catalog.{section}: {', '.join(known)}", [])
        for i, name in enumerate(config[key]):
            if name not in catalog[section]:
                raise InputError(where(key), f"{key}[{i}]", f"one of catalog.{section}: {', '.join(known)}", name)
        if len(set(config[key])) != len(config[key]):
            dup = next(n for n in config[key] if config[key].count(n) > 1)
            raise InputError(where(key), key, "each name once", dup)
    from .countries import is_code

    for i, code in enumerate(config["countries"]):
        if not is_code(code):
            raise InputError(where("countries"), f"countries[{i}]",
                             "an ISO 3166-1 alpha-2 country code (JP, DE, US) or an ISO 3166-2 subdivision "
                             "(GB-NIR)", code)
    from .answer_files import resolve

    for name in config["models"]:   # imported answers: every file there and readable, before any job
        spec = catalog["models"][name]
        if spec["provider"] == "imported":
            resolve(spec, f"catalog.models.{name}.path", where(f"catalog.models.{name}.path"))
        reasoning = spec.get("reasoning")
        if reasoning not in (None, False, "off") and (spec.get("elicitation") or {}).get("method") == "logprobs":
            key = f"catalog.models.{name}.elicitation.method"
            raise InputError(where(key), key, "sample or verbalized for a reasoning model (`reasoning` is set): its "
                             "first token is thinking, not the answer, and most return no log-probabilities",
                             "logprobs")
    reserved = {"answers", "slices", "report"} & set(catalog["studies"])   # results/answers/, slices/, report/
    if reserved:
        raise InputError(where("catalog.studies"), "catalog.studies", "a study name other than answers, slices, report",
                         sorted(reserved))
    file = where("studies")
    for name in config["studies"]:
        for i, cond in enumerate(catalog["studies"][name].get("conditions") or []):
            if cond not in catalog["conditions"]:
                raise InputError(where(f"catalog.studies.{name}.conditions"), f"catalog.studies.{name}.conditions[{i}]",
                                 f"one of catalog.conditions: {', '.join(catalog['conditions'])}", cond)
        kind = study_kind(config, name)
        analyses = config["catalog"]["analyses"].get(kind, {})
        if not analyses:
            raise InputError(file, f"catalog.analyses.{kind}", f"at least one analysis for study '{name}'")
        _check_study_extras(config, name, analyses, where)


def _check_study_extras(config: dict, study: str, analyses: dict, where) -> None:
    """What a study's own keys and its analyses name exists: the reference levels of the formulas
    (a model that runs, a condition the study runs), the label-task contrast and the translator."""
    catalog, spec = config["catalog"], config["catalog"]["studies"][study]
    conditions = study_conditions(config, study)
    from .formulas import treatment_reference

    for analysis, a in analyses.items():
        for variable, known in (("model", config["models"]), ("condition", conditions)):
            level = treatment_reference(a["formula"], variable)
            # with one level the term is dropped before fitting (noted), so its reference does not matter
            if level is not None and len(known) > 1 and level not in known:
                key = f"catalog.analyses.{study_kind(config, study)}.{analysis}.formula"
                raise InputError(where(key), key, f"a reference {variable} that study '{study}' runs "
                                 f"({', '.join(known)})", level)
    for i, cond in enumerate(spec.get("contrast") or []):
        if cond not in conditions:
            key = f"catalog.studies.{study}.contrast"
            raise InputError(where(key), f"{key}[{i}]", f"a condition the study runs ({', '.join(conditions)})", cond)
    translator = (spec.get("translate") or {}).get("model")
    if translator is not None:
        key = f"catalog.studies.{study}.translate.model"
        if translator not in catalog["models"]:
            raise InputError(where(key), key, f"one of catalog.models: {', '.join(sorted(catalog['models']))}", translator)
        if catalog["models"][translator]["provider"] != "litellm":
            raise InputError(where(key), key, "a model with provider litellm (an API model or an OpenAI-compatible "
                             "server)", catalog["models"][translator]["provider"])


def translators(config: dict) -> list[str]:
    """The translator models of the selected studies (checked like the selected models)."""
    studies = config.get("catalog", {}).get("studies", {})
    names = [(studies.get(s, {}).get("translate") or {}).get("model") for s in config.get("studies", [])]
    return [n for n in dict.fromkeys(names) if n and n not in config["models"]]


def check_templates(config: dict, file=CONFIG_FILE) -> None:
    """The templates directory exists, every template it has is valid, each prompt language a
    selected condition names has one, and each template the run uses has `paraphrases` paraphrases."""
    from pathlib import Path

    from .templates import load_dir

    where = file if callable(file) else (lambda key: file)
    directory = Path(config["templates"])
    if not directory.is_dir() or not any(directory.glob("*.yaml")):
        raise InputError(where("templates"), "templates", "a directory of <lang>.yaml prompt templates",
                         str(directory))
    available = load_dir(directory)
    names = dict.fromkeys(c for study in config["studies"] for c in study_conditions(config, study))
    conditions = [config["catalog"]["conditions"][c] for c in names]
    fixed = sorted({lang for c in conditions if c["languages"] != "native" for lang in c["languages"]})
    missing = [lang for lang in fixed if lang not in available]
    if missing:
        raise InputError(where("catalog.conditions"), "catalog.conditions.*.languages",
                         f"languages with a template in {directory} ({', '.join(sorted(available))})", missing)
    used = available if any(c["languages"] == "native" for c in conditions) else {k: available[k] for k in fixed}
    for lang, template in sorted(used.items()):
        if len(template.paraphrases) < config["paraphrases"]:
            raise InputError(where("paraphrases"), "paraphrases",
                             f"at most {len(template.paraphrases)}: {directory / (lang + '.yaml')} has "
                             f"{len(template.paraphrases)} paraphrases", config["paraphrases"])


#: survey formats whose study is not of kind `distributions`
KINDS = {"vsm2013": "scores", "culemo": "labels"}


def study_kind(config: dict, study: str) -> str:
    """`scores` for studies compared through published country scores (VSM 2013 → Hofstede),
    `labels` for tasks with a gold label per culture (CuLEmo), `distributions` for studies with
    per-country answer distributions."""
    return KINDS.get(config["catalog"]["studies"][study]["format"], "distributions")


def study_conditions(config: dict, study: str) -> list[str]:
    """The conditions a study is run under: its own `conditions`, else the top-level selection."""
    return list(config["catalog"]["studies"][study].get("conditions") or config["conditions"])


def digest(obj) -> str:
    """Stable short hash of a JSON-serialisable object (provenance of configs and specs)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_models(config: dict, file: str = CONFIG_FILE, cache: Path | str | None = None) -> None:
    """Selected API models: keys in the environment and the elicitation method supported.

    Run at every Snakemake parse, so it is kept cheap: litellm (seconds to import) is imported only
    for a model whose check needs it and whose pass is not in `cache` (a JSON file, e.g.
    `.snakemake/culturelens-checks.json`; see PassedChecks)."""
    from .backends import require_key_env

    passed = PassedChecks(cache)
    for name in [*config["models"], *translators(config)]:
        spec = config["catalog"]["models"][name]
        require_key_env(name, spec, file)
        if not _needs_litellm(spec) or passed.holds(spec):
            continue
        from .backends.litellm_backend import LiteLLMBackend

        passed.add(name, spec, LiteLLMBackend(name, spec).check(file))
    passed.save()


def _needs_litellm(spec: dict) -> bool:
    """Whether LiteLLMBackend.check has anything to ask litellm: the provider's key variable (no
    api_base, no api_key_env) or whether the provider returns log-probabilities."""
    if spec["provider"] != "litellm" or spec.get("client", "litellm") != "litellm":
        return False
    keyed_elsewhere = spec.get("api_base") or spec.get("api_key_env")
    return spec["elicitation"]["method"] == "logprobs" or not keyed_elsewhere


@functools.cache
def _litellm_version() -> str:
    """The installed litellm's version, from its metadata (without importing it)."""
    from importlib.metadata import version

    return version("litellm")


class PassedChecks:
    """Models whose litellm check passed, kept in a small JSON file: by digest of (spec, litellm
    version, CHECKS_VERSION), with whether each environment variable the check read was set. An
    entry holds while all of these are unchanged; failures are not kept (they stop the run, and the
    user changes something). Holds names and set/unset only, never a key. Without a path: no cache."""

    def __init__(self, path: Path | str | None):
        self.path = Path(path) if path else None
        self.entries, self.changed = {}, False
        if self.path is not None:
            try:
                self.entries = dict(json.loads(self.path.read_text())["passed"])
            except (OSError, ValueError, KeyError, TypeError):
                self.entries = {}   # none yet, or unreadable: checked again and rewritten

    @staticmethod
    def _key(spec: dict) -> str:
        return digest({"spec": spec, "litellm": _litellm_version(), "checks": CHECKS_VERSION})

    def holds(self, spec: dict) -> bool:
        entry = self.entries.get(self._key(spec)) if self.path is not None else None
        return isinstance(entry, dict) and all(bool(os.environ.get(name)) == was_set
                                               for name, was_set in entry.get("variables", {}).items())

    def add(self, name: str, spec: dict, variables: list[str]) -> None:
        if self.path is not None:
            self.entries[self._key(spec)] = {"model": name,
                                             "variables": {v: bool(os.environ.get(v)) for v in variables}}
            self.changed = True

    def save(self) -> None:
        """Write the file if an entry was added: a temporary file renamed into place (concurrent
        parses see a whole file); a directory that cannot be written only costs the cache."""
        if self.path is None or not self.changed:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"passed": self.entries}, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
