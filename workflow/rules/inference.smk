rule query_model:
    input:
        prompts="results/{study}/prompts.parquet",
        targets="results/{study}/survey/targets.parquet",
    output:
        responses="results/{study}/responses/{model}.parquet",
    params:
        spec=model_spec,
        study_spec=study_spec,
        store=config["store"],
    log:
        "logs/{study}/query_model/{model}.log",
    conda:
        "../../envs/core.yaml"
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
