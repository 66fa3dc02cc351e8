import logging

import pandas as pd

import _common
from culturelens import outcomes

def combine(sm):
    """The study-wide table (rule `alignment`): every model's cells, in the configured order."""
    table = pd.concat([pd.read_parquet(p) for p in sm.input.cells], ignore_index=True)
    if table.empty:
        raise RuntimeError(f"{sm.wildcards.study}: no selected model gave a usable answer: "
                           + " | ".join(outcomes.outcome_line(m, pd.read_parquet(r), pd.read_parquet(i))
                                        for m, r, i in zip(sm.params.models, sm.input.responses, sm.input.invalid)))
    logging.info("%d cells over %d models", len(table), table["model"].nunique())
    table.to_parquet(sm.output.alignment)


_common.run(snakemake, combine)  # noqa: F821
