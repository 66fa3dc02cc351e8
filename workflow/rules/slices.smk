# Slices as targets: each rule below builds one slice and writes a table of what it holds (per
# model, shard, study and condition: prompt rows answered, abstained, failed). Building a slice
# touches only the slice's own files; `snakemake --cores all` then combines the study-wide tables
# from every shard. Country and language slices hold the models with answer files per shard (API
# and vLLM): reference respondents answer a whole study in one job (free, in seconds), which a
# country slice would otherwise rebuild for every country. Commands: README, "Running a slice".


localrules:
    country_slice,
    language_slice,
    model_slice,
    study_slice,


rule country_slice:
    input:
        answers=lambda wc: slice_answers(country_shard(wc.country), ANSWERED)[0],
    output:
        "results/slices/country/{country}.tsv",
    params:
        labels=lambda wc: slice_answers(country_shard(wc.country), ANSWERED)[1],
    log:
        "logs/slices/country/{country}.log",
    run:
        in_process(jobs.slice_table, input, output, params, log)


rule language_slice:
    input:
        answers=lambda wc: slice_answers(language_shards(wc.lang), ANSWERED)[0],
    output:
        "results/slices/language/{lang}.tsv",
    params:
        labels=lambda wc: slice_answers(language_shards(wc.lang), ANSWERED)[1],
    log:
        "logs/slices/language/{lang}.log",
    run:
        in_process(jobs.slice_table, input, output, params, log)


rule model_slice:
    input:
        answers=lambda wc: slice_answers(all_shards(), [wc.model])[0],
        cells=lambda wc: [f"results/{s}/cells/{wc.model}.parquet" for s in DIST_STUDIES],
    output:
        "results/slices/model/{model}.tsv",
    params:
        labels=lambda wc: slice_answers(all_shards(), [wc.model])[1],
    log:
        "logs/slices/model/{model}.log",
    run:
        in_process(jobs.slice_table, input, output, params, log)


rule study_slice:
    input:
        answers=lambda wc: slice_answers(study_shards(wc.study), MODELS)[0],
        tables=lambda wc: [f for f in final_outputs() if f.startswith(f"results/{wc.study}/")],
    output:
        "results/slices/study/{study}.tsv",
    params:
        labels=lambda wc: slice_answers(study_shards(wc.study), MODELS)[1],
        study=lambda wc: wc.study,
    log:
        "logs/slices/study/{study}.log",
    run:
        in_process(jobs.slice_table, input, output, params, log)
