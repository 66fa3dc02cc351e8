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
