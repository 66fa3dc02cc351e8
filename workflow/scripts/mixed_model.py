import logging

import pandas as pd

import _common
from culturelens import stats


def main(sm):
    table = pd.read_parquet(sm.input.table)
    spec = sm.params.analysis
    fit = stats.fit_mixed(table, spec["formula"], random=spec.get("random", ["item_id", "country"]))
    stats.write_fit(fit, sm.output.csv, sm.output.txt)
    logging.info("fitted %s on %d rows: converged=%s; notes: %s", fit.formula, fit.n_obs, fit.converged, fit.notes)


_common.run(snakemake, main)  # noqa: F821
