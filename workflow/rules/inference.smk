# One job per model over every study: identical requests are sent once, a vLLM model is loaded
# once per run, and the store is written continuously.


rule query_model:
    input:
        prompts=expand("results/{study}/prompts.parquet", study=STUDIES),
        targets=expand("results/{study}/survey/targets.parquet", study=STUDIES),
    output:
        responses=expand("results/{study}/responses/{{model}}.parquet", study=STUDIES),
    wildcard_constraints:
        model=API_OR_REFERENCE_PATTERN,
    params:
        spec=model_spec,
        studies=STUDIES,
        store=config["store"],
    log:
        "logs/query_model/{model}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/query_model.py"


rule query_vllm:
    input:
        prompts=expand("results/{study}/prompts.parquet", study=STUDIES),
        targets=expand("results/{study}/survey/targets.parquet", study=STUDIES),
    output:
        responses=expand("results/{study}/responses/{{model}}.parquet", study=STUDIES),
    wildcard_constraints:
        model=VLLM_PATTERN,
    params:
        spec=model_spec,
        studies=STUDIES,
        store=config["store"],
    resources:
        gpu=lambda wc: model_spec(wc).get("serve", {}).get("tensor_parallel_size", 1),
        runtime=lambda wc: int(model_spec(wc).get("limits", {}).get("max_total_s", 6 * 3600) / 60) + 30,
    log:
        "logs/query_model/{model}.log",
    conda:
        "../../envs/vllm.yaml"
    script:
        "../scripts/query_model.py"


rule distributions:
    input:
        prompts="results/{study}/prompts.parquet",
        responses="results/{study}/responses/{model}.parquet",
    output:
        distributions="results/{study}/distributions/{model}.parquet",
        invalid="results/{study}/distributions/{model}.invalid.parquet",
    params:
        method=lambda wc: model_spec(wc)["elicitation"]["method"],
    log:
        "logs/{study}/distributions/{model}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/distributions.py"


rule preview:
    """Per model: prompts not yet in the store, their tokens and estimated cost. Sends nothing.
    Run with `snakemake preview --cores 1`; the table is printed and written to results/preview.tsv."""
    input:
        prompts=expand("results/{study}/prompts.parquet", study=STUDIES),
        targets=expand("results/{study}/survey/targets.parquet", study=STUDIES),
    output:
        "results/preview.tsv",
    params:
        studies=STUDIES,
        models=MODELS,
        catalog=config["catalog"]["models"],
        store=config["store"],
    log:
        "logs/preview.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/preview.py"
