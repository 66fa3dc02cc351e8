"""Elicitation variants on a real model, measured: SmolLM2-135M-Instruct (vllm-cpu, tests/vllm_cpu.py)
through the vLLM rule on config/examples/smollm2.yaml's slice, asked with today's prompts (`plain`),
with the template's answer cue as the start of its reply (`prefill`), and with the reply constrained to
the option labels (`choice`, vLLM structured outputs; log-probabilities as the server's default
--logprobs-mode returns them). Prints per variant and prompt language: coverage (the first token's mass
on the labels), the share of prompt rows below the floor, and alignment (mean 1 - JSD of the
wvs_stance cells; VSM 2013 has no per-country distributions). Then prompts/s of the vLLM rule (the
job's own line: distinct requests / seconds) beside vLLM's offline throughput (`LLM.chat`, one token,
top-20 log-probabilities) on the same prompts in the same venv; the ratio is the figure.

    .venv/bin/python benchmarks/bench_elicitation.py            # ~15 min on two cores
    .venv/bin/python benchmarks/bench_elicitation.py --work DIR # again in DIR: only what is missing runs

No GPU needed (vllm-cpu); the GPU benchmark is bench_vllm_gpu.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from vllm_cpu import smollm2_settings, vllm_python, write_smollm2_config  # noqa: E402
from workspace import copy_workflow  # noqa: E402

VARIANTS = {"plain": {}, "prefill": {"prefill": True}, "choice": {"constrain": "choice"}}
OFFLINE = r'''
import json, sys, time
from vllm import LLM, SamplingParams


def main():
    model, path = sys.argv[1], sys.argv[2]
    messages = [json.loads(m) for m in json.load(open(path))]
    llm = LLM(model=model, dtype="float32", max_model_len=2048, max_logprobs=20, enable_prefix_caching=True)
    params = SamplingParams(max_tokens=1, logprobs=20, temperature=0.0)
    llm.chat(messages[:8], params)                        # warm-up
    started = time.perf_counter()
    llm.chat(messages, params)
    print("RESULT " + json.dumps({"prompts": len(messages), "seconds": time.perf_counter() - started}))


if __name__ == "__main__":   # vLLM starts its engine in a spawned process
    main()
'''


def main() -> None:
    python = vllm_python()
    settings = smollm2_settings()
    work = Path(sys.argv[sys.argv.index("--work") + 1]) if "--work" in sys.argv else Path(
        tempfile.mkdtemp(prefix="bench-elicitation-"))
    if not (work / "Snakefile").exists():
        copy_workflow(work)
    base = yaml.safe_load((ROOT / "config/examples/smollm2.yaml").read_text())["catalog"]["models"]["smollm2"]
    serve = {**base["serve"], "executable": settings.executable, "env": settings.env}
    models = {f"smol-{v}": {**base, "model": settings.model, "serve": serve,
                            "elicitation": {**base["elicitation"], **extra}} for v, extra in VARIANTS.items()}
    (work / "bench.yaml").write_text(yaml.safe_dump({"catalog": {"models": models}}))
    write_smollm2_config(work / ".culturelens/smollm2.yaml")   # the example's own entry needs the paths too
    config = ["models=[uniform," + ",".join(models) + "]"]
    cmd = [str(ROOT / ".venv/bin/snakemake"), "--cores", "2", "--configfile", "config/config.yaml",
           "config/examples/smollm2.yaml", ".culturelens/smollm2.yaml", "bench.yaml", "--config", *config]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    print(f"culturelens elicitation variants on SmolLM2-135M-Instruct (vllm-cpu), slice of config/examples/smollm2.yaml; "
          f"workflow {time.perf_counter() - started:.0f} s\n")
    rows = []
    for study in ("wvs_stance", "vsm2013"):
        cells = pd.read_parquet(work / f"results/{study}/alignment.parquet") if study == "wvs_stance" else None
        for variant in VARIANTS:
            cov = pd.read_csv(work / f"results/{study}/coverage/smol-{variant}.csv")
            for lang, part in cov.groupby("prompt_lang"):
                n = part["n_rows"].sum()
                row = {"study": study, "prompt_lang": lang, "variant": variant, "prompt rows": int(n),
                       "coverage": (part["mean_coverage"] * part["n_rows"]).sum() / n,
                       "below floor": part["n_below_floor"].sum() / n}
                if cells is not None:
                    mine = cells[(cells["model"] == f"smol-{variant}") & (cells["prompt_lang"] == lang)]
                    row["js_sim"] = mine["js_sim"].mean()
                rows.append(row)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    log = (work / "logs/answers/smol-plain/served.log").read_text()
    sent, seconds = (float(x) for x in re.findall(r"(\d+) distinct requests.*; ([\d.]+) s$", log, re.M)[-1])
    prompts = pd.concat([pd.read_parquet(work / f"results/{s}/prompts.parquet", columns=["prompt_id", "messages"])
                         for s in ("wvs_stance", "vsm2013")]).drop_duplicates("prompt_id")
    path = work / "offline.json"
    path.write_text(json.dumps(prompts["messages"].tolist()))
    script = work / "offline.py"
    script.write_text(OFFLINE)
    done = subprocess.run([str(python), str(script), settings.model, str(path)], capture_output=True, text=True,
                          env={**settings.env, "PATH": "/usr/bin:/bin"})
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    offline = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    served_rate, offline_rate = sent / seconds, offline["prompts"] / offline["seconds"]
    print(f"\nvLLM rule (plain, through the engine and the store): {sent:.0f} prompts in {seconds:.1f} s = "
          f"{served_rate:.1f} prompts/s")
    print(f"vLLM offline (LLM.chat, same prompts, same venv): {offline['prompts']} prompts in "
          f"{offline['seconds']:.1f} s = {offline_rate:.1f} prompts/s")
    print(f"ratio served / offline: {served_rate / offline_rate:.2f}")


if __name__ == "__main__":
    main()
