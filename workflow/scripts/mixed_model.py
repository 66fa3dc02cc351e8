import logging

import pandas as pd

import _common
from culturelens import plots, stats


def main(sm):
    table = pd.read_parquet(sm.input.table)
    spec = sm.params.analysis
    fit = stats.fit_mixed(table, spec["formula"], random=spec.get("random", ["item_id", "country"]))
    stats.write_fit(fit, sm.output.csv, sm.output.txt)
    coefficients = pd.read_csv(sm.output.csv)   # the figure shows exactly what the table says
    engine = coefficients["engine"].dropna().iloc[0] if "engine" in coefficients and len(coefficients) else "?"
    plots.forest_plot(coefficients, sm.output.forest, title=f"{sm.wildcards.study}: {sm.wildcards.analysis}\nfitted by {engine}")
    logging.info("fitted %s on %d rows: converged=%s; notes: %s", fit.formula, fit.n_obs, fit.converged, fit.notes)


_common.run(snakemake, main)  # noqa: F821
