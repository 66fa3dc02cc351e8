checkpoint import_survey:
    input:
        survey_files,
    output:
        survey_items="results/{study}/survey/items.parquet",
        targets="results/{study}/survey/targets.parquet",
        scores="results/{study}/survey/scores.parquet",
        raw_survey_items="results/{study}/survey/raw_items.parquet",
        raw_targets="results/{study}/survey/raw_targets.parquet",
        notes="results/{study}/survey/notes.txt",
        # split-half agreement of the respondents per (item, country): microdata formats only (wvs7)
        ceiling="results/{study}/survey/split_half.parquet",
        # gold label per (item, culture): label tasks only (culemo)
        labels="results/{study}/survey/labels.parquet",
    params:
        spec=study_spec,
    log:
        "logs/{study}/import_survey.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/import_survey.py"


rule translate_items:
    # items the survey lacks in a prompt language, machine-translated by the study's `translate.model`
    # through the engine and its store (culturelens.translate); human and original texts are kept
    input:
        survey_items="results/{study}/survey/items.parquet",
        targets="results/{study}/survey/targets.parquet",
        scores="results/{study}/survey/scores.parquet",
        templates=template_files,
    output:
        translated="results/{study}/survey/translated_items.parquet",
        table=report(
            "results/{study}/survey/translations.csv",
            caption="../report/translations.rst",
            category="{study}",
            subcategory="item translations",
            labels={"study": "{study}", "table": "how each item was translated"},
        ),
    params:
        translator=lambda wc: study_spec(wc)["translate"]["model"],
        spec=lambda wc: config["catalog"]["models"][study_spec(wc)["translate"]["model"]],
        back_translate=lambda wc: study_spec(wc)["translate"].get("back_translate", True),
        conditions=study_conditions_of,
        languages=lambda wc: study_spec(wc)["translate"].get("languages") or [],
        store=config["store"],
    log:
        "logs/{study}/translate_items.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/translate_items.py"
