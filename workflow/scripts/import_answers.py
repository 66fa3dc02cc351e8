"""One imported model's answers to one study (culturelens.imported)."""

import logging

import pandas as pd

import _common
from culturelens import answer_files, imported
from culturelens.surveys import read_table
from culturelens.surveys.common import CountryMapper


def main(sm):
    # the files the rule's input names, each with its values from the path (resolved once per job)
    files = answer_files.resolve(sm.params.spec, f"catalog.models.{sm.wildcards.model}.path", "config")
    prompts = pd.read_parquet(sm.input.prompts, columns=imported.KEY)
    targets = pd.read_parquet(sm.input.targets, columns=["item_id", "country"])
    answers, notes = imported.load(files, sm.params.spec, sm.wildcards.study, read_table(sm.input.survey_items),
                                   read_table(sm.input.raw_survey_items), sm.params.conditions,
                                   mapper=CountryMapper(files[0][0]),
                                   prompt_keys=set(prompts.itertuples(index=False, name=None)),
                                   survey_pairs=set(targets.itertuples(index=False, name=None)),
                                   countries=sm.params.countries)
    answers.to_parquet(sm.output.answers)
    for line in notes:
        logging.info("%s", line)
    with open(sm.output.notes, "w", encoding="utf-8") as fh:
        fh.write("".join(f"{sm.wildcards.model}: {line}\n" for line in notes))


_common.run(snakemake, main)  # noqa: F821
