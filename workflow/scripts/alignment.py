import logging

import pandas as pd

import _common
from culturelens import alignment


def main(sm):
    dist = pd.concat([pd.read_parquet(p) for p in sm.input.distributions], ignore_index=True)
    items = pd.read_parquet(sm.input.survey_items)
    targets = pd.read_parquet(sm.input.targets)
    if sm.params.countries:  # a country slice: default prompting is compared with these only
        targets = targets[targets["country"].isin(sm.params.countries)]
    table = alignment.cells(dist, targets, items, baselines=set(sm.params.baselines))
    logging.info("%d cells over %d models", len(table), table["model"].nunique())
    table.to_parquet(sm.output.alignment)


_common.run(snakemake, main)  # noqa: F821
