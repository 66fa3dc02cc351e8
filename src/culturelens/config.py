"""Checks the JSON Schema cannot express (cross-references between keys) and derived facts."""

from __future__ import annotations

import hashlib
import json

from .errors import InputError

CONFIG_FILE = "config/config.yaml"


def check(config: dict, file: str = CONFIG_FILE) -> None:
    """Raise InputError naming the key when a selection refers to nothing in the catalog."""
    catalog = config["catalog"]
    for key, section in (("studies", "studies"), ("models", "models"), ("conditions", "conditions")):
        known = sorted(catalog[section])
        for i, name in enumerate(config[key]):
            if name not in catalog[section]:
                raise InputError(file, f"{key}[{i}]", f"one of catalog.{section}: {', '.join(known)}", name)
    for name in config["studies"]:
        kind = study_kind(config, name)
        analyses = config["catalog"]["analyses"].get(kind, {})
        if not analyses:
            raise InputError(file, f"catalog.analyses.{kind}", f"at least one analysis for study '{name}'")


def study_kind(config: dict, study: str) -> str:
    """`scores` for studies compared through published country scores (VSM 2013 → Hofstede),
    `distributions` for studies with per-country answer distributions."""
    return "scores" if config["catalog"]["studies"][study]["format"] == "vsm2013" else "distributions"


def digest(obj) -> str:
    """Stable short hash of a JSON-serialisable object (provenance of configs and specs)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_models(config: dict, file: str = CONFIG_FILE) -> None:
    """Selected API models: keys in the environment and the elicitation method supported."""
    from .backends import require_key_env

    for name in config["models"]:
        spec = config["catalog"]["models"][name]
        require_key_env(name, spec, file)
        if spec["provider"] == "litellm" and spec.get("client", "litellm") == "litellm":
            from .backends.litellm_backend import LiteLLMBackend

            LiteLLMBackend(name, spec).check(file)
