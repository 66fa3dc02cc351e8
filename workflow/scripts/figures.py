import logging

import pandas as pd

import _common
from culturelens import alignment as alignment_mod
from culturelens import plots


def main(sm):
    if sm.rule == "hofstede_scatter":
        plots.hofstede_scatter(pd.read_parquet(sm.input.indices), sm.output[0])
        return
    if sm.rule != "study_figures":
        raise ValueError(f"figures.py does not draw rule {sm.rule}")
    out = sm.output
    alignment = alignment_mod.read_scalars(sm.input.alignment)   # no figure here draws the distributions
    plots.models_vs_baselines(alignment, out.models_vs_baselines)
    plots.stability_distribution(alignment, out.stability)
    plots.steerability_per_country(pd.read_csv(sm.input.steerability), out.steerability,
                                   pd.read_csv(sm.input.us_centric_gap))
    bias = pd.concat([pd.read_parquet(p) for p in sm.input.position_bias], ignore_index=True)
    plots.position_bias_by_model(bias.assign(study=sm.wildcards.study), out.position_bias)
    logging.info("%d figures from %d alignment cells", len(out), len(alignment))


_common.run(snakemake, main)  # noqa: F821
