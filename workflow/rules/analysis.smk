rule alignment:
    input:
        cells=lambda wc: expand("results/{study}/cells/{model}.parquet", study=wc.study, model=MODELS),
        # read only when no model gave a usable answer, to say why
        responses=lambda wc: expand("results/{study}/responses/{model}.parquet", study=wc.study, model=MODELS),
        invalid=lambda wc: expand("results/{study}/distributions/{model}.invalid.parquet", study=wc.study, model=MODELS),
    output:
        alignment="results/{study}/alignment.parquet",
    params:
        models=MODELS,
    log:
        "logs/{study}/alignment.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/alignment.py"


rule robustness:
    input:
        alignment="results/{study}/alignment.parquet",
        targets="results/{study}/survey/targets.parquet",
        survey_items="results/{study}/survey/items.parquet",
    output:
        steerability="results/{study}/robustness/steerability.csv",
        us_centric_gap="results/{study}/robustness/us_centric_gap.csv",
        extrapolability="results/{study}/robustness/extrapolability.csv",
        rank_correlation="results/{study}/robustness/rank_correlation.csv",
    params:
        part=lambda wc: "source" if study_spec(wc)["format"] == "goqa" else "topic",
    log:
        "logs/{study}/robustness.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/robustness.py"


rule hofstede:
    input:
        distributions=distribution_files,
        scores="results/{study}/survey/scores.parquet",
    output:
        indices="results/{study}/hofstede/indices.parquet",
        correlations="results/{study}/hofstede/correlations.csv",
        errors="results/{study}/hofstede/errors.parquet",
        extrapolability="results/{study}/hofstede/extrapolability.csv",
    params:
        models=MODELS,
        baselines=BASELINES,
        conditions=study_conditions_of,
        countries=config["countries"],
    log:
        "logs/{study}/hofstede.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/hofstede.py"


rule mixed_model:
    input:
        table=stats_input,
    output:
        csv="results/{study}/stats/{analysis}.csv",
        txt="results/{study}/stats/{analysis}.txt",
        # drawn here: a job of its own paid seconds of plotting imports for one small figure
        forest=report(
            "results/{study}/figures/forest_{analysis}.png",
            caption="../report/forest.rst",
            category="{study}",
            subcategory="mixed-effects models",
            labels={"study": "{study}", "analysis": "{analysis}", "figure": "forest plot"},
        ),
    params:
        analysis=lambda wc: analyses(wc.study)[wc.analysis],
    log:
        "logs/{study}/stats/{analysis}.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/mixed_model.py"


rule label_scores:
    # a label task (CuLEmo): each answer against the gold label of its culture
    input:
        distributions=distribution_files,
        # answers that name no label: scored as wrong, counted by kind
        invalid=invalid_files,
        labels="results/{study}/survey/labels.parquet",
        survey_items="results/{study}/survey/items.parquet",
    output:
        predictions="results/{study}/labels/predictions.parquet",
        scores=report(
            "results/{study}/labels/scores.csv",
            caption="../report/label_scores.rst",
            category="{study}",
            subcategory="label task",
            labels={"study": "{study}", "table": "accuracy and macro-F1"},
        ),
        confusion="results/{study}/labels/confusion.csv",
        differences="results/{study}/labels/differences.csv",
        accuracy_figure=report(
            "results/{study}/figures/label_accuracy.png",
            caption="../report/label_accuracy.rst",
            category="{study}",
            subcategory="label task",
            labels={"study": "{study}", "figure": "accuracy per culture and condition"},
        ),
        difference_figure=report(
            "results/{study}/figures/label_difference.png",
            caption="../report/label_difference.rst",
            category="{study}",
            subcategory="label task",
            labels={"study": "{study}", "figure": "condition contrast"},
        ),
    params:
        contrast=lambda wc: study_spec(wc).get("contrast", ["native_persona", "cross_national"]),
        baselines=BASELINES,
    log:
        "logs/{study}/label_scores.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/label_scores.py"
