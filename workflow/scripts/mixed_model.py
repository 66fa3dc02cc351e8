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
    only_models = spec.get("exclude_baselines", False) and "is_baseline" in names
    table = pd.read_parquet(sm.input.table, columns=(used + ["is_baseline"] if only_models else used) or None)
    if only_models:   # the analysis is about the models: reference respondents would dilute its effects
        table = table[~table["is_baseline"].astype(bool)].drop(columns="is_baseline")
        if table.empty:
            return nothing_to_fit(sm, "no model other than the reference respondents answered (exclude_baselines: "
                                      "the analysis is fitted on real models only)")
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


def nothing_to_fit(sm, why: str) -> None:
    """Outputs that say why no model was fitted (an empty table with the CSV's columns)."""
    pd.DataFrame(columns=stats.CSV_COLUMNS).to_csv(sm.output.csv, index=False)
    with open(sm.output.txt, "w", encoding="utf-8") as fh:
        fh.write(f"formula:     {sm.params.analysis['formula']}\nnot fitted: {why}\n")
    plots._no_data(sm.output.forest, f"{sm.wildcards.study}: {sm.wildcards.analysis}", "not fitted: " + why[:60] + "…")
    logging.info("not fitted: %s", why)


_common.run(snakemake, main)  # noqa: F821
