import pandas as pd

import _common
from culturelens import backends
from culturelens.preview import COLUMNS, preview_model
from culturelens.store import ResponseStore


def main(sm):
    prompts = {s: pd.read_parquet(p) for s, p in zip(sm.params.studies, sm.input.prompts)}
    targets = {s: pd.read_parquet(p) for s, p in zip(sm.params.studies, sm.input.targets)}
    rows = []
    for model in sm.params.models:
        spec = sm.params.catalog[model]
        store = ResponseStore(sm.params.store, model)
        if spec["provider"] == "imported":   # read from a file: nothing to send
            rows.append({"model": model, "provider": "imported", "price_note": f"answers read from {spec['path']}"})
            continue
        if spec["provider"] == "reference":
            for study in prompts:
                backend = backends.make(model, spec, targets=targets[study])
                rows.append({**preview_model(model, spec, prompts[study], backend, store), "model": f"{model} ({study})"})
            continue
        backend = backends.make(model, spec, api_base=spec.get("api_base") or "http://unused")
        rows.append(preview_model(model, spec, pd.concat(prompts.values(), ignore_index=True), backend, store))
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.to_csv(sm.output[0], sep="\t", index=False)
    print(table.to_string(index=False), file=_common.CONSOLE)


_common.run(snakemake, main)  # noqa: F821
