import logging

import pandas as pd

import _common
from culturelens import alignment, backends, coverage, elicit, engine, robustness
from culturelens import prompts as prompts_mod


def responses_of(sm, prompts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the prompt rows answered, the model's responses to them): a reference respondent or imported
    answers answer here (free and deterministic: no answer files, no store; imported answers only
    the first variant of each cell, as one observation each); any other model's come from its answer
    files per shard (results/answers/<model>/<shard>.parquet), this study's rows."""
    if "answers" not in sm.input.keys():
        imported = pd.read_parquet(sm.input.imported[0]) if sm.input.imported else None
        backend = backends.make(sm.wildcards.model, sm.params.spec, targets=pd.read_parquet(sm.input.targets),
                                labels=pd.read_parquet(sm.input.labels), answers=imported)
        if backend.one_answer_per_cell:
            prompts = prompts_mod.first_variant(prompts)
            logging.info("%d prompt rows: one per (item, condition, country, prompt language), the answer not "
                         "depending on the template or the option order", len(prompts))
        table, stats = engine.run(prompts, backend, None)
        logging.info("%s", stats.line())
        return prompts, table
    study = sm.wildcards.study
    parts = [pd.read_parquet(p, filters=[("study", "==", study)]) for p in sm.input.answers]
    return prompts, pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True).drop(columns="study")


def names_of_options(sm, prompts: pd.DataFrame):
    """Label tasks: per prompt row, the accepted names of each option (its text in the item's language
    and in English), so a sampled answer naming the label instead of its letter counts
    (culturelens.elicit); None elsewhere: survey answers are read by their letter only."""
    if sm.params.kind != "labels":
        return None
    items = pd.read_parquet(sm.input.survey_items, columns=["item_id", "lang", "options"])
    english = {i: list(o) for i, lang, o in items.itertuples(index=False) if lang == "en"}
    names = {(i, lang): [tuple(dict.fromkeys((n, e))) for n, e in zip(o, english.get(i, o))]
             for i, lang, o in items.itertuples(index=False)}
    return [names.get(key) for key in zip(prompts["item_id"], prompts["item_lang"])]


def main(sm):
    # what the answers and their parsing need (not the prompt texts: the answers are keyed by prompt_id)
    prompts = pd.read_parquet(sm.input.prompts, columns=[*elicit.META, "labels", "shown_options"])
    prompts, responses = responses_of(sm, prompts)
    responses.to_parquet(sm.output.responses)
    dist, invalid = elicit.distributions(prompts, responses, sm.params.method, option_texts=names_of_options(sm, prompts))
    dist.insert(0, "model", sm.wildcards.model)
    invalid.insert(0, "model", sm.wildcards.model)
    # how much of each answer landed on the labels, flagged below the floor (and excluded if asked)
    floor, exclude = sm.params.coverage["floor"], sm.params.coverage["exclude"]
    table = coverage.table(dist, floor, exclude)
    if sm.params.constrained:   # the server masks all but the labels: coverage says nothing of the model
        table["method"] = table["method"] + coverage.CONSTRAINED
    table.to_csv(sm.output.coverage, index=False)
    if exclude:
        dist, invalid = coverage.exclude_below(dist, invalid, floor)
    logging.info("%d prompt rows with a distribution, %d without (%s)", dist["prompt_id"].nunique(),
                 len(invalid), invalid["reason"].value_counts().to_dict())
    if sm.params.method == "sample":
        logging.info("draws: %s", elicit.sample_notes(dist))
    dist.to_parquet(sm.output.distributions)
    invalid.to_parquet(sm.output.invalid)
    # order sensitivity per cell: small, so the study's figure need not read every distribution
    bias = robustness.position_bias(dist)
    bias.to_parquet(sm.output.position_bias)
    cells(sm, dist, bias).to_parquet(sm.output.cells)


def cells(sm, dist: pd.DataFrame, bias: pd.DataFrame) -> pd.DataFrame:
    """The model's alignment cells: its own file, so rerunning one model touches no other model's.
    In this job, not one of its own: a job costs seconds of imports, and there is one per study
    and model."""
    targets = pd.read_parquet(sm.input.targets)
    # a study of scores (VSM 2013): no answer distributions to compare with; a label task is scored
    # against gold labels instead (rule label_scores)
    if targets.empty or sm.params.kind == "labels":
        return pd.DataFrame(columns=[*alignment.COLUMNS, "consistency", "order_tv", "primacy", "coverage", "low_coverage"])
    items = pd.read_parquet(sm.input.survey_items)
    if sm.params.countries:  # default prompting is compared with the configured countries only
        targets = targets[targets["country"].isin(sm.params.countries)]
    baselines = {sm.wildcards.model} if sm.params.is_baseline else set()
    table = alignment.cells(dist, targets, items, baselines=baselines, js_base=sm.params.js_base)
    table["consistency"] = 1 - table["spread_jsd"]  # self-consistency across paraphrases and orders
    table = with_prompt_measures(table, bias, ["order_tv", "primacy"])
    # the cell's mean coverage over its variants, and whether it is below the floor
    cell_coverage = coverage.per_row(dist).groupby(alignment.CELL, sort=False)["coverage"].mean().reset_index()
    table = with_prompt_measures(table, cell_coverage, ["coverage"])
    table["low_coverage"] = table["coverage"] < sm.params.coverage["floor"]
    logging.info("%d cells of %s", len(table), sm.wildcards.model)
    return table


def with_prompt_measures(table: pd.DataFrame, measures: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Measures of a cell's prompts (order sensitivity, coverage) beside each cell; prompts without a
    target country (default prompting) carry theirs to every country they are compared with."""
    cell = alignment.CELL
    targeted = table.merge(measures[measures["country"] != "none"][cell + cols], on=cell, how="left")
    untargeted = measures[measures["country"] == "none"].drop(columns="country")[[c for c in cell if c != "country"] + cols]
    fill = table[[c for c in cell if c != "country"]].merge(untargeted, how="left")
    for col in cols:
        targeted[col] = targeted[col].fillna(fill[col])
    return targeted


_common.run(snakemake, main)  # noqa: F821
