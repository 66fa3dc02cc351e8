import datetime
from collections.abc import Mapping
import hashlib
import json
from pathlib import Path

import pandas as pd

import _common
import culturelens
from culturelens import alignment, outcomes
from culturelens.backends import chat, reasoning
from culturelens.config import digest
from culturelens.environment import describe
from culturelens.summary import write_summary


def response_counts(path) -> tuple[dict, str | None]:
    """Rows by status, and one line of the failed requests by kind with the provider's first message."""
    responses = pd.read_parquet(path, columns=["key", "status", "cached", "error_kind", "error"])
    counts = responses["status"].value_counts().to_dict()
    counts["from_store"] = int(responses["cached"].sum())
    counts["prompt_rows"] = len(responses)
    return {k: int(v) for k, v in counts.items()}, outcomes.failures_line(responses)


def budget_hint(model: str, spec: dict) -> str:
    """What to raise when a model's answers were cut off (a reasoning model's thinking budget)."""
    thinking = reasoning.setting(spec)
    if isinstance(thinking, dict):
        return (f"raise catalog.models.{model}.reasoning.budget_tokens (now {thinking['budget_tokens']}) or choose a "
                "lower effort")
    tokens = chat.elicitation_params(spec["elicitation"])["max_tokens"] if spec.get("elicitation") else None
    return f"raise catalog.models.{model}.elicitation.max_tokens (now {tokens})"


def load_study(study, inputs, models, catalog=None) -> tuple[dict, dict]:
    """One study's summary entry (culturelens.summary.write_summary) and its manifest part."""
    notes = Path(inputs[f"{study}__notes"]).read_text(encoding="utf-8").splitlines()
    notes += Path(inputs[f"{study}__prompt_notes"]).read_text(encoding="utf-8").splitlines()
    entry, counts, catalog = {"stats": {}}, {}, catalog or {}
    if f"{study}__translations" in inputs:   # how the items reached each prompt language
        table = pd.read_csv(inputs[f"{study}__translations"], keep_default_na=False)
        for lang, part in table.groupby("lang"):
            used = part[part["problem"] == ""]   # texts the prompts use (a failed back translation is noted apart)
            how = ", ".join(f"{n} {t}" for t, n in used["translation"].value_counts().items())
            problems = len(part) - len(used)
            sims = pd.to_numeric(part["back_similarity"], errors="coerce").dropna()
            back_failed = int((part["back_problem"] != "").sum())
            notes.append(f"items in '{lang}': {how}" + (f"; {problems} machine translations not used" if problems else "")
                         + (f"; {back_failed} back translations failed" if back_failed else "")
                         + (f"; back-translation similarity median {sims.median():.2f}, min {sims.min():.2f}"
                            if len(sims) else "") + " (survey/translations.csv)")
    for key, path in inputs.items():   # answers imported from a file: what was used, what was not
        if key.startswith(f"{study}__imported__"):
            notes += Path(path).read_text(encoding="utf-8").splitlines()
    coverage = [pd.read_csv(inputs[f"{study}__coverage__{m}"]) for m in models]
    coverage = [c for c in coverage if len(c)]
    if coverage:
        entry["coverage"] = pd.concat(coverage, ignore_index=True)
    for model in models:
        counts[model], failures = response_counts(inputs[f"{study}__responses__{model}"])
        if failures:
            notes.append(f"{model}: {failures}")
        invalid = pd.read_parquet(inputs[f"{study}__invalid__{model}"])
        if len(invalid):
            by_reason = ", ".join(f"{n} {r}" for r, n in invalid["reason"].value_counts().items())
            notes.append(f"{model}: {len(invalid)} prompt rows without a distribution ({by_reason})")
            cut = int((invalid["reason"] == "budget_exhausted").sum())
            if cut:
                notes.append(f"{model}: {cut} answers cut off by the token allowance before the final answer "
                             f"(finish_reason length): {budget_hint(model, catalog.get(model, {}))}")
    for key, path in inputs.items():
        if key.startswith(f"{study}__stats__"):
            entry["stats"][key.split("__", 2)[2]] = pd.read_csv(path)
    if f"{study}__alignment" in inputs:
        entry["alignment"] = alignment.read_scalars(inputs[f"{study}__alignment"])
    for name in ("steerability", "us_centric_gap", "extrapolability", "rank_correlation"):
        if f"{study}__robustness__{name}" in inputs:
            entry[name] = pd.read_csv(inputs[f"{study}__robustness__{name}"])
    ceiling = pd.read_parquet(inputs[f"{study}__ceiling"])
    if len(ceiling):
        entry["ceiling"] = ceiling
    if f"{study}__labels__scores" in inputs:
        entry["label_scores"] = pd.read_csv(inputs[f"{study}__labels__scores"])
        entry["label_differences"] = pd.read_csv(inputs[f"{study}__labels__differences"])
    if f"{study}__correlations" in inputs:
        entry["correlations"] = pd.read_csv(inputs[f"{study}__correlations"])
    entry["notes"] = [n for n in notes if n]
    return entry, {"responses": counts, "notes": entry["notes"]}


class Studies(Mapping):
    """The studies' entries, each read when the summary comes to it and not kept: a campaign's
    alignment tables are ~1 M rows each, so holding every study's at once doubled the peak memory."""

    def __init__(self, names, inputs, models, baselines=(), catalog=None):
        self.names, self.inputs, self.models, self.manifest = list(names), inputs, models, {}
        self.baselines, self.catalog = list(baselines), dict(catalog or {})

    def __getitem__(self, study):
        entry, self.manifest[study] = load_study(study, self.inputs, self.models, self.catalog)
        entry["baselines"] = self.baselines
        return entry

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)


def main(sm):
    inputs = dict(sm.input.items())
    studies = Studies(sm.params.studies, inputs, sm.params.models, sm.params.baselines,
                      sm.params.config["catalog"]["models"])
    environment = describe(sm.params.lock)
    meta = {
        "culturelens": culturelens.__version__,
        "config_sha": digest(sm.params.config),
        "lock": (f"{environment['lock']['file']} sha256 {environment['lock']['sha256'][:16]}"
                 if environment["lock"]["present"] else f"{environment['lock']['file']} not found"),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write_summary(sm.output.summary, studies, meta=meta)
    resources = sorted(p for p in Path("resources").rglob("*") if p.is_file())
    manifest = {
        **meta,
        "environment": environment,
        "config": sm.params.config,
        "resources": {str(p): hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in resources},
        "studies": studies.manifest,
    }
    Path(sm.output.manifest).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")


_common.run(snakemake, main)  # noqa: F821
