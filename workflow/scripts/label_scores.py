"""A label task's scores: predictions per prompt row, accuracy and macro-F1 per cell, confusion,
the condition contrast, and their figures (culturelens.labels)."""

import logging

import pandas as pd

import _common
from culturelens import labels, plots


def main(sm):
    gold = pd.read_parquet(sm.input.labels)
    items = pd.read_parquet(sm.input.survey_items)
    names = list(items[items["lang"] == "en"]["options"].iloc[0]) if len(items) else []
    parts, failures = [], []
    for path, invalid_path in zip(sm.input.distributions, sm.input.invalid):
        dist = pd.read_parquet(path, columns=[*labels.ROW, "option_index", "prob"])
        invalid = pd.read_parquet(invalid_path, columns=[*labels.ROW, "reason"])
        parts.append(labels.predictions(dist, gold, names, invalid))
        failures.append(labels.failed(invalid, gold))
    pred = pd.concat(parts, ignore_index=True)
    pred["is_baseline"] = pred["model"].isin(sm.params.baselines)   # reference respondents
    pred.to_parquet(sm.output.predictions)
    table = labels.scores(pred.drop(columns="is_baseline"), len(names), failures=pd.concat(failures, ignore_index=True))
    table.to_csv(sm.output.scores, index=False)
    labels.confusion(pred).to_csv(sm.output.confusion, index=False)
    condition, versus = sm.params.contrast
    diff = labels.differences(pred, condition, versus)
    diff.to_csv(sm.output.differences, index=False)
    study = sm.wildcards.study
    plots.label_accuracy(table.assign(study=study), sm.output.accuracy_figure, chance=1 / len(names) if names else None)
    plots.label_differences(diff.assign(study=study), sm.output.difference_figure)
    logging.info("%d scored prompt rows of %d models (%d unreadable, counted as wrong); %d cells", len(pred),
                 pred["model"].nunique(), int((~pred["readable"].astype(bool)).sum()), len(table))


_common.run(snakemake, main)  # noqa: F821
