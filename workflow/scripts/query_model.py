"""One model over every study's prompts (see workflow/rules/inference.smk)."""

import contextlib
import gc
import logging

import pandas as pd

import _common
from culturelens import backends, engine
from culturelens.limits import Limits
from culturelens.store import ResponseStore


def main(sm):
    gc.freeze()  # the imported libraries' objects need no collection: less GC CPU per request (benchmarks/)
    model, spec = sm.wildcards.model, sm.params.spec
    studies = list(sm.params.studies)
    prompts = {s: pd.read_parquet(p) for s, p in zip(studies, sm.input.prompts)}
    limits = Limits.from_config(spec.get("limits"))
    with contextlib.ExitStack() as stack:
        if spec["provider"] == "reference":  # answers depend on each study's survey: one backend per study
            results = {}
            for study, path in zip(studies, sm.input.targets):
                # every country's survey, whatever the slice: a slice never changes an answer;
                # free and deterministic, so answered again each run instead of stored (store=None)
                backend = backends.make(model, spec, targets=pd.read_parquet(path))
                results[study], stats = engine.run(prompts[study], backend, None, limits)
                logging.info("%s: %s", study, stats.line())
        else:
            store = stack.enter_context(ResponseStore(sm.params.store, model))
            api_base, liveness = None, None
            if spec["provider"] == "vllm":
                from culturelens.vllm_server import VLLMServer, settings_from_config

                server = stack.enter_context(VLLMServer(settings_from_config(spec, log_path=f"{sm.log[0]}.server")))
                api_base, liveness = server.url, server.check_alive
            backend = backends.make(model, spec, api_base=api_base, liveness=liveness)
            table = pd.concat([df.assign(_study=s) for s, df in prompts.items()], ignore_index=True)
            responses, stats = engine.run(table, backend, store, limits, progress=True)
            logging.info("%s", stats.line())
            print(stats.line(), file=_common.CONSOLE)
            results = {s: responses[(table["_study"] == s).to_numpy()] for s in studies}
            if spec["provider"] == "vllm":
                server.check_alive()  # a server that died mid-run fails the job (the store keeps what arrived)
    retry = retryable_failures(results.values())
    if retry:
        # what arrived is in the store; failing the job makes the next run retry only these
        raise RuntimeError(f"{sum(retry.values())} requests failed for reasons worth retrying ({dict(retry)}); "
                           "rerun to retry them (answers already received are kept in the store)")
    for study, path in zip(studies, sm.output.responses):
        results[study].to_parquet(path)


def retryable_failures(tables) -> dict:
    """Failures by kind that a later run may fix (rate limits, timeouts, deadline, pending batches)."""
    from collections import Counter

    counts = Counter()
    for table in tables:
        failed = table[(table["status"] == "failed") & table["error_kind"].isin(engine.RETRYABLE_KINDS)]
        counts.update(failed.drop_duplicates("key")["error_kind"])
    return counts


_common.run(snakemake, main)  # noqa: F821
