import logging

import pandas as pd

import _common
from culturelens import surveys
from culturelens.surveys import culemo, wvs7


def main(sm):
    spec = sm.params.spec
    tables = surveys.load(spec["format"], sm.wildcards.study, spec["paths"],
                          strict_countries=spec.get("strict_countries", False), label_set=spec.get("label_set"))
    tables.items.to_parquet(sm.output.raw_survey_items)
    tables.targets.to_parquet(sm.output.raw_targets)
    items, targets, left_out = surveys.exclude_flagged(tables.items, tables.targets)
    items, targets = surveys.substantive_view(items, targets, spec.get("keep_non_substantive", False))
    items.to_parquet(sm.output.survey_items)
    targets.to_parquet(sm.output.targets)
    tables.scores.to_parquet(sm.output.scores)
    ceiling = tables.ceiling if tables.ceiling is not None else pd.DataFrame(columns=wvs7.CEILING_COLUMNS)
    ceiling.to_parquet(sm.output.ceiling)
    labels = tables.labels if tables.labels is not None else pd.DataFrame(columns=culemo.LABEL_COLUMNS)
    labels.to_parquet(sm.output.labels)
    notes = list(tables.report) + left_out
    notes.append(f"{items['item_id'].nunique()} items, {targets['country'].nunique()} countries with "
                 f"answer distributions, {tables.scores['country'].nunique() if len(tables.scores) else 0} "
                 f"with published scores")
    for line in notes:
        logging.info(line)
    with open(sm.output.notes, "w", encoding="utf-8") as fh:
        fh.write("\n".join(notes) + "\n")


_common.run(snakemake, main)  # noqa: F821
