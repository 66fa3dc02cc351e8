rule render_prompts:
    input:
        survey_items="results/{study}/survey/items.parquet",
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
        countries=config["countries"],
        conditions=selected_conditions(),
        paraphrases=config["paraphrases"],
        option_orders=config["option_orders"],
    log:
        "logs/{study}/render_prompts.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/render_prompts.py"
