import logging

import pandas as pd

import _common
from culturelens import robustness


def main(sm):
    table = pd.read_parquet(sm.input.alignment)
    targets = pd.read_parquet(sm.input.targets)
    items = pd.read_parquet(sm.input.survey_items).drop_duplicates("item_id").set_index("item_id")
    steer = robustness.steerability(table)
    gap = robustness.us_centric_gap(table, targets)
    part = sm.params.part
    parts = items[part].where(~items[part].isin(["", "unknown"])).dropna()
    extra = robustness.extrapolability(table, parts).assign(split_by=part)
    ranks = robustness.rank_correlation(table)
    steer.to_csv(sm.output.steerability, index=False)
    gap.to_csv(sm.output.us_centric_gap, index=False)
    extra.to_csv(sm.output.extrapolability, index=False)
    ranks.to_csv(sm.output.rank_correlation, index=False)
    logging.info("steerability for %d (model, country), US-centric gap for %d, %d extrapolability pairs by %s, "
                 "%d rank correlations", len(steer), len(gap), len(extra), part, len(ranks))


_common.run(snakemake, main)  # noqa: F821
