import hashlib
import logging
from pathlib import Path

import pandas as pd

import _common
from culturelens import prompts, templates


def eligible_countries(targets: pd.DataFrame, scores: pd.DataFrame, items: pd.DataFrame, selected):
    """Countries with survey data per item: answer distributions, or published scores (VSM)."""
    if len(targets):
        by_item = targets.groupby("item_id")["country"].unique().map(sorted).to_dict()
    else:
        with_scores = sorted(scores["country"].unique())
        by_item = {item: with_scores for item in items["item_id"].unique()}
    if selected:
        by_item = {i: [c for c in cs if c in selected] for i, cs in by_item.items()}
    return by_item


def main(sm):
    items = pd.read_parquet(sm.input.survey_items)
    targets = pd.read_parquet(sm.input.targets)
    scores = pd.read_parquet(sm.input.scores)
    conditions = sm.params.conditions
    langs = {lang for c in conditions.values() if c["languages"] != "native" for lang in c["languages"]}
    native = any(c["languages"] == "native" for c in conditions.values())
    available = templates.load_dir(Path(sm.input.templates[0]).parent)
    missing = langs - set(available)
    if missing:
        raise _common.InputError("config/config.yaml", "catalog.conditions.*.languages",
                                 f"languages with a template in {Path(sm.input.templates[0]).parent}",
                                 sorted(missing))
    used = available if native else {k: v for k, v in available.items() if k in langs}
    survey_sha = hashlib.sha256(Path(sm.input.survey_items).read_bytes() + Path(sm.input.targets).read_bytes()
                                + Path(sm.input.scores).read_bytes()).hexdigest()[:16]
    eligible = eligible_countries(targets, scores, items, sm.params.countries)
    table, notes = prompts.render(
        items, eligible, study=sm.wildcards.study, stance=sm.params.spec["format"] == "wvs_stance",
        conditions=conditions, templates=used, paraphrases=sm.params.paraphrases,
        option_orders=list(sm.params.option_orders), survey_sha=survey_sha, phrase_templates=available)
    # the prompt language each country gets with the shipped templates, whether or not a condition uses it
    prompts.country_languages(items, eligible, available).to_csv(sm.output.country_languages, index=False)
    notes.append(f"{len(table)} prompt rows, {table['prompt_id'].nunique()} distinct prompts")
    for line in notes:
        logging.info(line)
    table.to_parquet(sm.output.prompts)
    Path(sm.output.notes).write_text("\n".join(notes) + "\n", encoding="utf-8")


_common.run(snakemake, main)  # noqa: F821
