"""One imported model's answers to one study (culturelens.imported)."""

import logging

import pandas as pd

import _common
from culturelens import imported
from culturelens.surveys import read_table
from culturelens.surveys.common import CountryMapper


def main(sm):
    path = sm.input.answers
    prompts = pd.read_parquet(sm.input.prompts, columns=imported.KEY)
    answers, notes = imported.load(path, sm.params.spec, sm.wildcards.study, read_table(sm.input.survey_items),
                                   read_table(sm.input.raw_survey_items), sm.params.conditions,
                                   mapper=CountryMapper(path), prompt_keys=set(prompts.itertuples(index=False, name=None)))
    answers.to_parquet(sm.output.answers)
    for line in notes:
        logging.info("%s", line)
    with open(sm.output.notes, "w", encoding="utf-8") as fh:
        fh.write("".join(f"{sm.wildcards.model}: {line}\n" for line in notes))


_common.run(snakemake, main)  # noqa: F821
