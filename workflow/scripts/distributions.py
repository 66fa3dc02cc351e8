import logging

import pandas as pd

import _common
from culturelens import elicit


def main(sm):
    prompts = pd.read_parquet(sm.input.prompts)
    responses = pd.read_parquet(sm.input.responses)
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
