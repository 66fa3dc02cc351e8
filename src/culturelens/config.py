"""Checks the JSON Schema cannot express (cross-references between keys) and derived facts."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from .errors import InputError

CONFIG_FILE = "config/config.yaml"
CHECKS_VERSION = 1   # bump when LiteLLMBackend.check verifies something new: cached passes are void


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


def check_models(config: dict, file: str = CONFIG_FILE, cache: Path | str | None = None) -> None:
    """Selected API models: keys in the environment and the elicitation method supported.

    Run at every Snakemake parse, so it is kept cheap: litellm (seconds to import) is imported only
    for a model whose check needs it and whose pass is not in `cache` (a JSON file, e.g.
    `.snakemake/culturelens-checks.json`; see PassedChecks)."""
    from .backends import require_key_env

    passed = PassedChecks(cache)
    for name in config["models"]:
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
