import logging

import pandas as pd
import pyarrow.parquet as pq

import _common
from culturelens import plots


def main(sm):
    if sm.rule == "hofstede_scatter":
        plots.hofstede_scatter(pd.read_parquet(sm.input.indices), sm.output[0])
        return
    if sm.rule != "study_figures":
        raise ValueError(f"figures.py does not draw rule {sm.rule}")
    out = sm.output
    names = pq.read_schema(sm.input.alignment).names   # not the distributions: no figure here draws them
    alignment = pd.read_parquet(sm.input.alignment, columns=[c for c in names if c not in ("model_dist", "survey_dist")])
    plots.models_vs_baselines(alignment, out.models_vs_baselines)
    plots.stability_distribution(alignment, out.stability)
    plots.steerability_per_country(pd.read_csv(sm.input.steerability), out.steerability,
                                   pd.read_csv(sm.input.us_centric_gap))
    bias = pd.concat([pd.read_parquet(p) for p in sm.input.position_bias], ignore_index=True)
    plots.position_bias_by_model(bias.assign(study=sm.wildcards.study), out.position_bias)
    logging.info("%d figures from %d alignment cells", len(out), len(alignment))


_common.run(snakemake, main)  # noqa: F821
