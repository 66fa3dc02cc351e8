# Heatmaps (one per study and model, a fraction of a second of drawing each) are drawn inside
# Snakemake (culturelens.jobs); the study-wide figures are scripts.


localrules:
    heatmap,


rule heatmap:
    input:
        alignment="results/{study}/cells/{model}.parquet",  # one model's cells: its slice alone redraws it
    output:
        report(
            "results/{study}/figures/heatmap_{model}.png",
            caption="../report/heatmap.rst",
            category="{study}",
            subcategory="alignment by country and prompt language",
            labels={"study": "{study}", "model": "{model}", "figure": "heatmap"},
        ),
    params:
        model=lambda wc: wc.model,
    log:
        "logs/{study}/figures/heatmap_{model}.log",
    run:
        in_process(jobs.draw_heatmap, input, output, params, log)


rule study_figures:
    # the study-wide figures in one job: each would pay seconds of plotting imports on its own, and
    # all of them are redrawn whenever any model changes anyway
    input:
        alignment="results/{study}/alignment.parquet",
        steerability="results/{study}/robustness/steerability.csv",
        us_centric_gap="results/{study}/robustness/us_centric_gap.csv",
        # per model and cell, from its distributions job (robustness.position_bias)
        position_bias=lambda wc: expand("results/{study}/position_bias/{model}.parquet", study=wc.study, model=MODELS),
    output:
        models_vs_baselines=report(
            "results/{study}/figures/models_vs_baselines.png",
            caption="../report/models_vs_baselines.rst",
            category="{study}",
            subcategory="models and baselines",
            labels={"study": "{study}", "figure": "models vs baselines"},
        ),
        steerability=report(
            "results/{study}/figures/steerability.png",
            caption="../report/steerability.rst",
            category="{study}",
            subcategory="robustness",
            labels={"study": "{study}", "figure": "steerability"},
        ),
        position_bias=report(
            "results/{study}/figures/position_bias.png",
            caption="../report/position_bias.rst",
            category="{study}",
            subcategory="robustness",
            labels={"study": "{study}", "figure": "position bias"},
        ),
        stability=report(
            "results/{study}/figures/stability.png",
            caption="../report/stability.rst",
            category="{study}",
            subcategory="robustness",
            labels={"study": "{study}", "figure": "stability"},
        ),
    log:
        "logs/{study}/figures/study_figures.log",
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


rule summary:
    input:
        unpack(summary_inputs),
    output:
        summary="results/summary.md",
        manifest="results/manifest.json",
    params:
        studies=STUDIES,
        models=MODELS,
        baselines=BASELINES,
        config=config,
        lock=str(Path(workflow.basedir) / "uv.lock"),
    log:
        "logs/summary.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/summary.py"


rule report_headline:
    # the front page of the report: summary.md's tables and captions as HTML (workflow.rst includes it)
    input:
        summary="results/summary.md",
    output:
        report(
            "results/report/headline.html",
            caption="../report/headline.rst",
            category="0. Headline",
            labels={"page": "headline tables (summary.md)"},
        ),
    log:
        "logs/report/headline.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/report_pages.py"


rule report_pages:
    # interactive tables (itables, offline) and world maps (Natural Earth outlines, offline) per study
    input:
        alignment="results/{study}/alignment.parquet",
        survey_items="results/{study}/survey/items.parquet",
        steerability="results/{study}/robustness/steerability.csv",
    output:
        tables=report(
            "results/{study}/report/tables.html",
            caption="../report/tables.rst",
            category="{study}",
            subcategory="interactive tables",
            labels={"study": "{study}", "page": "alignment tables"},
        ),
        maps=report(
            "results/{study}/report/maps.html",
            caption="../report/maps.rst",
            category="{study}",
            subcategory="world maps",
            labels={"study": "{study}", "page": "world maps"},
        ),
    log:
        "logs/{study}/report_pages.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/report_pages.py"


rule report_label_tables:
    input:
        label_scores="results/{study}/labels/scores.csv",
        confusion="results/{study}/labels/confusion.csv",
    output:
        tables=report(
            "results/{study}/report/label_tables.html",
            caption="../report/tables.rst",
            category="{study}",
            subcategory="interactive tables",
            labels={"study": "{study}", "page": "label scores"},
        ),
    log:
        "logs/{study}/report_label_tables.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/report_pages.py"
