import logging

import pandas as pd

import _common
from culturelens import alignment, outcomes, robustness

CELL = alignment.CELL


def with_position_bias(table: pd.DataFrame, dist: pd.DataFrame) -> pd.DataFrame:
    """Order sensitivity beside each cell; prompts without a target country (default prompting)
    carry theirs to every country they are compared with."""
    bias = robustness.position_bias(dist)
    cols = ["order_tv", "primacy"]
    targeted = table.merge(bias[bias["country"] != "none"][CELL + cols], on=CELL, how="left")
    untargeted = bias[bias["country"] == "none"].drop(columns="country")[[c for c in CELL if c != "country"] + cols]
    fill = table[[c for c in CELL if c != "country"]].merge(untargeted, how="left")
    for col in cols:
        targeted[col] = targeted[col].fillna(fill[col])
    return targeted


def cells(sm):
    """One model's alignment cells (rule `cells`): its own file, so rerunning one model touches no other."""
    dist = pd.read_parquet(sm.input.distributions)
    items = pd.read_parquet(sm.input.survey_items)
    targets = pd.read_parquet(sm.input.targets)
    if sm.params.countries:  # default prompting is compared with the configured countries only
        targets = targets[targets["country"].isin(sm.params.countries)]
    baselines = {sm.wildcards.model} if sm.params.is_baseline else set()
    table = alignment.cells(dist, targets, items, baselines=baselines, js_base=sm.params.js_base)
    table["consistency"] = 1 - table["spread_jsd"]  # self-consistency across paraphrases and orders
    table = with_position_bias(table, dist)
    logging.info("%d cells of %s", len(table), sm.wildcards.model)
    table.to_parquet(sm.output.cells)


def combine(sm):
    """The study-wide table (rule `alignment`): every model's cells, in the configured order."""
    table = pd.concat([pd.read_parquet(p) for p in sm.input.cells], ignore_index=True)
    if table.empty:
        raise RuntimeError(f"{sm.wildcards.study}: no selected model gave a usable answer: "
                           + " | ".join(outcomes.outcome_line(m, pd.read_parquet(r), pd.read_parquet(i))
                                        for m, r, i in zip(sm.params.models, sm.input.responses, sm.input.invalid)))
    logging.info("%d cells over %d models", len(table), table["model"].nunique())
    table.to_parquet(sm.output.alignment)


def main(sm):
    (cells if sm.rule == "cells" else combine)(sm)


_common.run(snakemake, main)  # noqa: F821
