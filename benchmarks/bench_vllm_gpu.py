"""GPU benchmark (for users with a GPU; it cannot run on the project's CPU-only machines, and its
figures are NOT measured by the project): prompts per second through culturelens' vLLM path
(`vllm serve` driven by the engine's fast HTTP client, through the response store) beside vLLM's
own offline throughput (`LLM.generate`) on the same prompts. Goal: the served path loses < 20 %.

    python benchmarks/bench_vllm_gpu.py --model Qwen/Qwen2.5-0.5B-Instruct --n 20000

Run it in an environment with vLLM (envs/vllm.yaml). Both runs use one-token generation with the
top-20 log-probabilities, the answer format culturelens' `logprobs` elicitation uses, and the
prompts of the default GlobalOpinionQA study (rendered by `snakemake results/goqa/prompts.parquet`),
repeated with a counter so no prompt is answered from the store or the prefix cache twice.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from culturelens import backends, engine  # noqa: E402
from culturelens.limits import Limits  # noqa: E402
from culturelens.store import ResponseStore  # noqa: E402
from culturelens.vllm_server import VLLMServer, VLLMSettings  # noqa: E402


def load_prompts(path: Path, n: int) -> pd.DataFrame:
    base = pd.read_parquet(path)
    rows = []
    for i in range(n):
        row = base.iloc[i % len(base)].to_dict()
        msgs = json.loads(row["messages"])
        msgs[-1]["content"] = f"[{i}] " + msgs[-1]["content"]   # distinct: no store or cache short-cut
        row.update(messages=json.dumps(msgs), prompt_id=f"bench{i}", country=f"c{i}")
        rows.append(row)
    return pd.DataFrame(rows)


def offline(model: str, prompts: pd.DataFrame, args) -> float:
    from vllm import LLM, SamplingParams

    llm = LLM(model=model, dtype=args.dtype, max_model_len=args.max_model_len, enable_prefix_caching=True,
              gpu_memory_utilization=args.gpu_memory_utilization, max_logprobs=20)
    params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=20)
    conversations = [json.loads(m) for m in prompts["messages"]]
    llm.chat(conversations[:32], params, use_tqdm=False)                 # warm-up
    started = time.perf_counter()
    llm.chat(conversations, params, use_tqdm=False)
    seconds = time.perf_counter() - started
    del llm
    gc.collect()
    return len(prompts) / seconds


def served(model: str, prompts: pd.DataFrame, args) -> float:
    settings = VLLMSettings(model=model, dtype=args.dtype, max_model_len=args.max_model_len,
                            gpu_memory_utilization=args.gpu_memory_utilization, max_logprobs=20)
    spec = {"provider": "vllm", "model": model, "elicitation": {"method": "logprobs", "top_logprobs": 20},
            "limits": {"max_concurrency": args.concurrency}}
    with VLLMServer(settings) as server, tempfile.TemporaryDirectory() as store_dir:
        backend = backends.make("bench", spec, api_base=server.url)
        with ResponseStore(store_dir, "bench") as store:
            engine.run(prompts.head(32).assign(prompt_id=lambda d: "warm" + d.prompt_id), backend, store,
                       Limits(max_concurrency=args.concurrency))
            backend = backends.make("bench", spec, api_base=server.url)
            started = time.perf_counter()
            _, stats = engine.run(prompts, backend, store, Limits(max_concurrency=args.concurrency, timeout_s=600))
            seconds = time.perf_counter() - started
        assert stats.ok == len(prompts), stats.line()
    return len(prompts) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="Qwen/Qwen2.5-0.5B-Instruct")
    ap.add_argument("--prompts", type=Path, default=ROOT / "results/goqa/prompts.parquet")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=512)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--max-model-len", type=int, default=4096)
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.85)
    args = ap.parse_args()
    prompts = load_prompts(args.prompts, args.n)
    rate_offline = offline(args.model, prompts, args)
    rate_served = served(args.model, prompts, args)
    loss = 1 - rate_served / rate_offline
    print(f"model {args.model}, {args.n} one-token logprob prompts")
    print(f"vLLM offline (LLM.chat):                 {rate_offline:10.1f} prompts/s")
    print(f"culturelens vLLM rule path (serve+engine): {rate_served:8.1f} prompts/s")
    print(f"loss {loss:.1%}  goal < 20 %: {'PASS' if loss < 0.2 else 'MISS'}")


if __name__ == "__main__":
    main()
