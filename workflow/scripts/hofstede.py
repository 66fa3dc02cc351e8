import logging

import pandas as pd

import _common
from culturelens import robustness, vsm

GROUP = ["model", "condition", "prompt_lang", "country"]


def main(sm):
    dist = pd.concat([pd.read_parquet(p) for p in sm.input.distributions], ignore_index=True)
    scores = pd.read_parquet(sm.input.scores)
    if sm.params.countries:
        scores = scores[scores["country"].isin(sm.params.countries)]
    # mean answer (1..5) per prompt, then averaged over paraphrases and option orders
    dist["weighted"] = dist["prob"] * (dist["option_index"] + 1)
    per_prompt = dist.groupby(GROUP + ["item_id", "paraphrase", "option_order"], as_index=False)["weighted"].sum()
    means = per_prompt.groupby(GROUP + ["item_id"], as_index=False)["weighted"].mean()
    means = means.rename(columns={"weighted": "mean"})
    # default prompting has no target country: its indices are compared with every country
    countries = sorted(scores["country"].unique())
    none = means["country"] == "none"
    expanded = means[none].drop(columns="country").merge(pd.DataFrame({"country": countries}), how="cross")
    means = pd.concat([means[~none], expanded], ignore_index=True)
    # a condition prompting in each country's own language is one analysis across all its countries
    native = [c for c, spec in sm.params.conditions.items() if spec["languages"] == "native"]
    means.loc[means["condition"].isin(native), "prompt_lang"] = "native"
    indices = vsm.indices_table(means)
    indices["is_baseline"] = indices["model"].isin(sm.params.baselines)
    correlations, errors = vsm.compare_with_published(indices, scores, by=["model", "condition", "prompt_lang"])
    errors["is_baseline"] = errors["model"].isin(sm.params.baselines)
    logging.info("%d index rows, %d correlations, %d per-country errors", len(indices), len(correlations), len(errors))
    indices.merge(scores, on=["country", "dimension"], how="left").to_parquet(sm.output.indices)
    correlations.to_csv(sm.output.correlations, index=False)
    errors.to_parquet(sm.output.errors)
    # does matching Hofstede on one dimension predict matching him on another? (ranks across countries)
    closeness = errors.assign(item_id=errors["dimension"], closeness=-errors["abs_error"])
    dims = pd.Series({d: d for d in closeness["item_id"].unique()})
    robustness.extrapolability(closeness, dims, metric="closeness").assign(split_by="VSM dimension") \
        .to_csv(sm.output.extrapolability, index=False)


_common.run(snakemake, main)  # noqa: F821
