rule heatmap:
    input:
        alignment="results/{study}/alignment.parquet",
    output:
        report(
            "results/{study}/figures/heatmap_{model}.png",
            caption="../report/heatmap.rst",
            category="{study}",
            subcategory="alignment by country and prompt language",
            labels={"study": "{study}", "model": "{model}", "figure": "heatmap"},
        ),
    log:
        "logs/{study}/figures/heatmap_{model}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/figures.py"


rule models_vs_baselines:
    input:
        alignment="results/{study}/alignment.parquet",
    output:
        report(
            "results/{study}/figures/models_vs_baselines.png",
            caption="../report/models_vs_baselines.rst",
            category="{study}",
            subcategory="models and baselines",
            labels={"study": "{study}", "figure": "models vs baselines"},
        ),
    log:
        "logs/{study}/figures/models_vs_baselines.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/figures.py"


rule hofstede_scatter:
    input:
        indices="results/{study}/hofstede/indices.parquet",
        correlations="results/{study}/hofstede/correlations.csv",
    output:
        report(
            "results/{study}/figures/hofstede_scatter.png",
            caption="../report/hofstede_scatter.rst",
            category="{study}",
            subcategory="Hofstede dimensions",
            labels={"study": "{study}", "figure": "Hofstede scatter"},
        ),
    log:
        "logs/{study}/figures/hofstede_scatter.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/figures.py"


rule forest_plot:
    input:
        coefficients="results/{study}/stats/{analysis}.csv",
    output:
        report(
            "results/{study}/figures/forest_{analysis}.png",
            caption="../report/forest.rst",
            category="{study}",
            subcategory="mixed-effects models",
            labels={"study": "{study}", "analysis": "{analysis}", "figure": "forest plot"},
        ),
    log:
        "logs/{study}/figures/forest_{analysis}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/figures.py"


def summary_inputs(wildcards):
    files = {}
    for study in STUDIES:
        files[f"{study}__notes"] = f"results/{study}/survey/notes.txt"
        files[f"{study}__prompt_notes"] = f"results/{study}/prompts_notes.txt"
        for model in MODELS:
            files[f"{study}__invalid__{model}"] = f"results/{study}/distributions/{model}.invalid.parquet"
            files[f"{study}__responses__{model}"] = f"results/{study}/responses/{model}.parquet"
        for a in analyses(study):
            files[f"{study}__stats__{a}"] = f"results/{study}/stats/{a}.csv"
        if study in DIST_STUDIES:
            files[f"{study}__alignment"] = f"results/{study}/alignment.parquet"
        else:
            files[f"{study}__correlations"] = f"results/{study}/hofstede/correlations.csv"
    return files


rule summary:
    input:
        unpack(summary_inputs),
    output:
        summary="results/summary.md",
        manifest="results/manifest.json",
    params:
        studies=STUDIES,
        models=MODELS,
        config=config,
    log:
        "logs/summary.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/summary.py"
