# A model's answers are kept per country shard across studies: results/answers/<model>/<shard>.parquet
# (culturelens.shards). Every request goes through the response store first, so identical requests
# are sent once, whichever shard, study or run asks them.
#  - reference respondents have no answer files: free and deterministic, they answer a whole study
#    inside its `reference_distributions` job (one process per study and respondent, never stored);
#  - API models: one job per shard; a lock on the model's store makes jobs of one model (also two
#    slices run at once, or cluster jobs) take turns, so no request is paid twice and the model's
#    rate limits hold;
#  - vLLM models: one job per model starts the server once and answers every shard into the store;
#    the shard jobs then read their answers from the store.


rule query_model:
    input:
        prompts=lambda wc: list(shard_prompts(wc).values()),
    output:
        "results/answers/{model}/{shard}.parquet",
    wildcard_constraints:
        model=API_PATTERN,
    params:
        studies=lambda wc: list(shard_prompts(wc)),
        spec=model_spec,
        store=config["store"],
    log:
        "logs/answers/{model}/{shard}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/query_model.py"


rule query_vllm:
    input:
        prompts=lambda wc: [p for shard in all_shards() for p in prompts_of_shard(shard).values()],
    output:
        "results/answers/{model}/served.json",
    wildcard_constraints:
        model=VLLM_PATTERN,
    params:
        spec=model_spec,
        store=config["store"],
    resources:
        gpu=lambda wc: model_spec(wc).get("serve", {}).get("tensor_parallel_size", 1),
        runtime=lambda wc: int(model_spec(wc).get("limits", {}).get("max_total_s", 6 * 3600) / 60) + 30,
    log:
        "logs/answers/{model}/served.log",
    conda:
        "../../envs/vllm.yaml"
    script:
        "../scripts/query_model.py"


rule answer_vllm:
    input:
        prompts=lambda wc: list(shard_prompts(wc).values()),
        # answered into the store by query_vllm; `ancient`: a new shard served later does not make
        # every other shard's answers look outdated
        served=ancient("results/answers/{model}/served.json"),
    output:
        "results/answers/{model}/{shard}.parquet",
    wildcard_constraints:
        model=VLLM_PATTERN,
    params:
        studies=lambda wc: list(shard_prompts(wc)),
        spec=model_spec,
        store=config["store"],
    log:
        "logs/answers/{model}/{shard}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/query_model.py"


rule distributions:
    input:
        prompts="results/{study}/prompts.parquet",
        answers=lambda wc: answer_files(wc.study, wc.model),
        survey_items=prompt_items,
        targets="results/{study}/survey/targets.parquet",
    output:
        responses="results/{study}/responses/{model}.parquet",
        distributions="results/{study}/distributions/{model}.parquet",
        invalid="results/{study}/distributions/{model}.invalid.parquet",
        cells="results/{study}/cells/{model}.parquet",
        position_bias="results/{study}/position_bias/{model}.parquet",
        coverage="results/{study}/coverage/{model}.csv",
    wildcard_constraints:
        model=ANSWERED_PATTERN,
    params:
        method=elicitation_method,
        # the model's alignment cells (written by the same job)
        is_baseline=lambda wc: wc.model in BASELINES,
        countries=config["countries"],
        js_base=lambda wc: str(study_spec(wc).get("js_base", "2")),
        kind=lambda wc: study_kind(config, wc.study),
        coverage=config["coverage"],
        constrained=lambda wc: bool((model_spec(wc).get("elicitation") or {}).get("constrain")),
    log:
        "logs/{study}/distributions/{model}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/distributions.py"


rule reference_distributions:
    input:
        prompts="results/{study}/prompts.parquet",
        # answered here, through the same requests, records and parsers as a real model's answers
        survey_items=prompt_items,
        targets="results/{study}/survey/targets.parquet",
        labels="results/{study}/survey/labels.parquet",  # gold labels: the label baselines
        imported=imported_answers,
    output:
        responses="results/{study}/responses/{model}.parquet",
        distributions="results/{study}/distributions/{model}.parquet",
        invalid="results/{study}/distributions/{model}.invalid.parquet",
        cells="results/{study}/cells/{model}.parquet",
        position_bias="results/{study}/position_bias/{model}.parquet",
        coverage="results/{study}/coverage/{model}.csv",
    wildcard_constraints:
        model=REFERENCE_PATTERN,
    params:
        spec=model_spec,
        method=elicitation_method,
        # the model's alignment cells (written by the same job)
        is_baseline=lambda wc: wc.model in BASELINES,
        countries=config["countries"],
        js_base=lambda wc: str(study_spec(wc).get("js_base", "2")),
        kind=lambda wc: study_kind(config, wc.study),
        coverage=config["coverage"],
        constrained=lambda wc: bool((model_spec(wc).get("elicitation") or {}).get("constrain")),
    log:
        "logs/{study}/distributions/{model}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/distributions.py"


rule import_answers:
    # answers collected elsewhere (provider: imported), matched to the study's items and options;
    # every row not used is named in the notes (culturelens.imported)
    input:
        answers=imported_files,
        survey_items=prompt_items,
        raw_survey_items="results/{study}/survey/raw_items.parquet",
        targets="results/{study}/survey/targets.parquet",  # why an answer no prompt asks is not scored
        prompts="results/{study}/prompts.parquet",  # to name answers no prompt of the run asks
    output:
        answers="results/{study}/imported/{model}.parquet",
        notes="results/{study}/imported/{model}.notes.txt",
    wildcard_constraints:
        model=IMPORTED_PATTERN,
    params:
        spec=model_spec,
        conditions=lambda wc: list(selected_conditions(wc.study)),
        countries=config["countries"],
    log:
        "logs/{study}/imported/{model}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/import_answers.py"


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
