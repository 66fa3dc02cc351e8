# Prompts are rendered per country shard (culturelens.shards): one country is its own file, so
# adding or rerunning it leaves the others untouched. These jobs take a fraction of a second and
# run inside Snakemake (culturelens.jobs) instead of starting Python for each.


localrules:
    render_prompts,
    prompts,


rule render_prompts:
    input:
        survey_items=prompt_items,
        targets="results/{study}/survey/targets.parquet",
        scores="results/{study}/survey/scores.parquet",
        templates=template_files,
    output:
        "results/{study}/prompts/{shard}.parquet",
    params:
        spec=study_spec,
        conditions=study_conditions_of,
        paraphrases=config["paraphrases"],
        option_orders=config["option_orders"],
        # only the shard without a target country depends on the selection (the items it asks)
        countries=lambda wc: config["countries"] if wc.shard == shards.NONE else [],
        templates_dir=config["templates"],
        study=lambda wc: wc.study,
        shard=lambda wc: wc.shard,
    log:
        "logs/{study}/prompts/{shard}.log",
    run:
        in_process(jobs.render_shard, input, output, params, log)


rule prompts:
    input:
        shard_files=lambda wc: [f"results/{wc.study}/prompts/{s}.parquet" for s in study_shards(wc.study)],
        survey_items=prompt_items,
        targets="results/{study}/survey/targets.parquet",
        scores="results/{study}/survey/scores.parquet",
        templates=template_files,
    output:
        prompts="results/{study}/prompts.parquet",
        notes="results/{study}/prompts_notes.txt",
        country_languages=report(
            "results/{study}/country_languages.csv",
            caption="../report/country_languages.rst",
            category="{study}",
            subcategory="prompt languages",
            labels={"study": "{study}", "table": "country → prompt language"},
        ),
    params:
        spec=study_spec,
        conditions=study_conditions_of,
        countries=config["countries"],
        templates_dir=config["templates"],
    log:
        "logs/{study}/prompts.log",
    run:
        in_process(jobs.combine_prompts, input, output, params, log)
