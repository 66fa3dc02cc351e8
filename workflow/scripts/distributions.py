import logging

import pandas as pd

import _common
from culturelens import elicit


def main(sm):
    prompts = pd.read_parquet(sm.input.prompts)
    # this study's rows of the model's answers to each shard (results/answers/<model>/<shard>.parquet)
    study = sm.wildcards.study
    parts = [pd.read_parquet(p, filters=[("study", "==", study)]) for p in sm.input.answers]
    responses = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True).drop(columns="study")
    responses.to_parquet(sm.output.responses)
    dist, invalid = elicit.distributions(prompts, responses, sm.params.method)
    dist.insert(0, "model", sm.wildcards.model)
    invalid.insert(0, "model", sm.wildcards.model)
    logging.info("%d prompt rows with a distribution, %d without (%s)", dist["prompt_id"].nunique(),
                 len(invalid), invalid["reason"].value_counts().to_dict())
    if sm.params.method == "sample":
        logging.info("draws: %s", elicit.sample_notes(dist))
    dist.to_parquet(sm.output.distributions)
    invalid.to_parquet(sm.output.invalid)


_common.run(snakemake, main)  # noqa: F821
