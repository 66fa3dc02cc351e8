import logging

import pandas as pd

import _common
from culturelens import backends, engine
from culturelens.store import ResponseStore


def main(sm):
    prompts = pd.read_parquet(sm.input.prompts)
    targets = pd.read_parquet(sm.input.targets)
    model = sm.wildcards.model
    backend = backends.make(model, sm.params.spec, targets=targets)
    with ResponseStore(sm.params.store, model) as store:
        responses, counts = engine.run(prompts, backend, store)
    logging.info("%s on %s: %d prompt rows, %d sent, %d from the store, %d ok, %d abstained, %d failed",
                 model, sm.wildcards.study, len(prompts), counts["sent"], counts["cached"], counts["ok"],
                 counts["abstained"], counts["failed"])
    responses.to_parquet(sm.output.responses)


_common.run(snakemake, main)  # noqa: F821
