import logging
import textwrap

import pandas as pd
import pyarrow.parquet as pq

import _common
from culturelens import plots, stats


def main(sm):
    spec = sm.params.analysis
    random = spec.get("random", ["item_id", "country"])
    # only the columns the model uses: a campaign's alignment table is a million rows of which the
    # answer distributions are most of the bytes
    names = pq.read_schema(sm.input.table).names
    used = [c for c in dict.fromkeys(stats.formula_variables(spec["formula"], names) + list(random)) if c in names]
    table = pd.read_parquet(sm.input.table, columns=used or None)
    family = spec.get("family", "gaussian")
    fit = stats.fit_mixed(table, spec["formula"], random=random, family=family)
    stats.write_fit(fit, sm.output.csv, sm.output.txt)
    coefficients = pd.read_csv(sm.output.csv)   # the figure shows exactly what the table says
    engine = coefficients["engine"].dropna().iloc[0] if "engine" in coefficients and len(coefficients) else "?"
    scale = "log-odds, " if fit.family == "binomial" else ""
    fitted_by = "\n".join(textwrap.wrap(f"fitted by {engine}", 80))   # the binomial engine names its priors
    plots.forest_plot(coefficients, sm.output.forest, title=f"{sm.wildcards.study}: {sm.wildcards.analysis}\n{fitted_by}",
                      xlabel=f"fixed-effect estimate ({scale}95 % CI)")
    logging.info("fitted %s on %d rows: converged=%s; notes: %s", fit.formula, fit.n_obs, fit.converged, fit.notes)


_common.run(snakemake, main)  # noqa: F821
