"""A model's answers (see workflow/rules/inference.smk), in one of three jobs:

- `query_model`: an API model's answers to one shard of every study, sent through the store
  (locked: jobs of one model take turns and never pay twice for one request);
- `query_vllm`: a vLLM model's answers to every shard, served once, into the store;
- `answer_vllm`: one shard of a vLLM model's answers, read from the store (nothing is sent).
"""

import contextlib
import gc
import json
import logging

import pandas as pd

import _common
from culturelens import backends, engine, jobs
from culturelens.backends import Fatal
from culturelens.limits import Limits
from culturelens.store import ResponseStore, exclusive


def main(sm):
    gc.freeze()  # the imported libraries' objects need no collection: less GC CPU per request (benchmarks/)
    model, spec = sm.wildcards.model, sm.params.spec
    limits = Limits.from_config(spec.get("limits"))
    if sm.rule == "query_vllm":
        return serve_vllm(sm, model, spec, limits)
    prompts = {study: pd.read_parquet(path) for study, path in zip(sm.params.studies, sm.input.prompts)}
    table = pd.concat([df.assign(_study=s) for s, df in prompts.items()], ignore_index=True) if prompts else None
    if table is None or not len(table):
        jobs.answers_table([]).to_parquet(sm.output[0])
        return
    with contextlib.ExitStack() as stack:
        if sm.rule == "answer_vllm":
            store = ReadOnly(stack.enter_context(ResponseStore(sm.params.store, model)))
            backend = StoreOnly(backends.make(model, spec, api_base="http://served-by-query-vllm.invalid/v1"))
        else:
            store = stack.enter_context(exclusive(sm.params.store, model, on_wait=_say))
            backend = backends.make(model, spec)
        responses, stats = engine.run(table, backend, store, limits, progress=sm.rule == "query_model")
        logging.info("%s", stats.line())
        if sm.rule == "query_model":
            print(f"{model} {sm.wildcards.shard}: {stats.line()}", file=_common.CONSOLE)
    fail_if_retryable(responses, model, spec)
    tables = [responses[(table["_study"] == s).to_numpy()].assign(study=s) for s in prompts]
    jobs.answers_table(tables).to_parquet(sm.output[0])


def serve_vllm(sm, model, spec, limits):
    """Every shard's prompts through one vLLM server into the store; the shard jobs read them."""
    from culturelens.vllm_server import VLLMServer, settings_from_config

    table = pd.concat([pd.read_parquet(p) for p in sm.input.prompts], ignore_index=True)
    with exclusive(sm.params.store, model, on_wait=_say) as store:
        todo = engine.missing(table, backends.make(model, spec, api_base="http://unused.invalid/v1"), store)
        if todo:
            with VLLMServer(settings_from_config(spec, log_path=f"{sm.log[0]}.server")) as server:
                backend = backends.make(model, spec, api_base=server.url, liveness=server.check_alive)
                responses, stats = engine.run(table, backend, store, limits, progress=True)
                server.check_alive()  # a server that died mid-run fails the job (the store keeps what arrived)
        else:  # everything is in the store already: no server is started
            backend = backends.make(model, spec, api_base="http://unused.invalid/v1")
            responses, stats = engine.run(table, StoreOnly(backend), ReadOnly(store), limits)
    logging.info("%s", stats.line())
    print(f"{model}: {stats.line()}", file=_common.CONSOLE)
    fail_if_retryable(responses, model, spec)
    with open(sm.output[0], "w", encoding="utf-8") as fh:
        json.dump({"model": model, "prompt_rows": len(table), "requests_missing_before": todo,
                   "status": responses["status"].value_counts().to_dict(), "stats": stats.line()}, fh, indent=1)


class StoreOnly:
    """A backend that answers from the store only: anything missing is a failure naming the job that
    should have answered it (query_vllm), never a request."""

    def __init__(self, backend):
        self._backend = backend
        self.name, self.identity, self.elicitation = backend.name, backend.identity, backend.elicitation

    def request(self, prompt):
        return self._backend.request(prompt)

    def estimate_tokens(self, request):
        return 0

    async def send(self, request, timeout):
        raise Fatal("not_served", f"{self.name}: not answered by query_vllm (see logs/answers/{self.name}/served.log); "
                                  f"rerun it: snakemake --cores all -f results/answers/{self.name}/served.json")

    async def aclose(self):
        await self._backend.aclose()



class ReadOnly:
    """A store a shard job reads from without adding records of its own."""

    def __init__(self, store):
        self._store = store

    def __contains__(self, key):
        return key in self._store

    def get(self, key):
        return self._store.get(key)

    def failures(self, key):
        return self._store.failures(key)

    def put(self, record):
        pass


def fail_if_retryable(responses: pd.DataFrame, model: str, spec) -> None:
    """Fail the job, its output unwritten, when a rerun may answer failed requests: a refused key
    once it is fixed (engine.STOP_KINDS; said in one line: the provider's message and the variable
    to set), a retryable kind as it is. What arrived is in the store, failures are not final there
    and requests not sent are not stored at all, so a plain rerun sends exactly the failed ones."""
    failed = responses[responses["status"] == "failed"].drop_duplicates("key")
    refused = failed[failed["error_kind"].isin(engine.STOP_KINDS)]
    if len(refused):
        raise _common.JobFailed(f"{model}: the provider refused the key: {_provider_message(refused)}; "
                                f"{backends.key_hint(model, spec)}, then rerun ({len(refused)} requests wait for it)")
    retry = failed[failed["error_kind"].isin(engine.RETRYABLE_KINDS)]["error_kind"].value_counts().to_dict()
    if retry:
        raise _common.JobFailed(f"{model}: {sum(retry.values())} requests failed for reasons worth retrying "
                                f"({retry}); rerun to retry them (answers already received are kept in the store)")


def _provider_message(refused: pd.DataFrame) -> str:
    """The provider's own words from a request that was sent (the others only repeat them)."""
    errors = refused["error"].fillna("").astype(str)
    sent = errors[~errors.str.startswith(engine.NOT_SENT)]
    message = (sent if len(sent) else errors).iloc[0].removeprefix(f"{engine.NOT_SENT}: ")
    return " ".join(message.split())[:300]


def _say(message: str) -> None:
    logging.info("%s", message)
    print(f"culturelens: {message}", file=_common.CONSOLE)


if "snakemake" in globals():  # run by Snakemake; tests import the module for its functions
    _common.run(snakemake, main)  # noqa: F821
