import pandas as pd

import _common
from culturelens import plots


def main(sm):
    out = sm.output[0]
    if sm.rule == "models_vs_baselines":
        plots.models_vs_baselines(pd.read_parquet(sm.input.alignment), out)
    elif sm.rule == "steerability_figure":
        plots.steerability_per_country(pd.read_csv(sm.input.steerability), out, pd.read_csv(sm.input.us_centric_gap))
    elif sm.rule == "position_bias_figure":
        bias = pd.concat([pd.read_parquet(p) for p in sm.input.position_bias], ignore_index=True)
        plots.position_bias_by_model(bias.assign(study=sm.wildcards.study), out)
    elif sm.rule == "stability_figure":
        plots.stability_distribution(pd.read_parquet(sm.input.alignment), out)
    elif sm.rule == "hofstede_scatter":
        plots.hofstede_scatter(pd.read_parquet(sm.input.indices), out)
    elif sm.rule == "forest_plot":
        coefficients = pd.read_csv(sm.input.coefficients)
        engine = coefficients["engine"].dropna().iloc[0] if "engine" in coefficients and len(coefficients) else "?"
        plots.forest_plot(coefficients, out, title=f"{sm.wildcards.study}: {sm.wildcards.analysis}\nfitted by {engine}")
    else:
        raise ValueError(f"figures.py does not draw rule {sm.rule}")


_common.run(snakemake, main)  # noqa: F821
