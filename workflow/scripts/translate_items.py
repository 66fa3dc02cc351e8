"""Machine translations of a study's items into its prompt languages (culturelens.translate), sent
through the engine and the translator's response store: resumable, never paid twice."""

import datetime
import logging
from pathlib import Path

import pandas as pd

import _common
from culturelens import backends, countries, engine, shards, translate
from culturelens.limits import Limits
from culturelens.surveys import read_table
from culturelens.store import exclusive
from query_model import fail_if_retryable


def prompt_languages(conditions, study_countries, available) -> list[str]:
    """Every language a prompt of the study can be in: fixed languages, and each country's own."""
    langs = {lang for c in conditions.values() if c["languages"] != "native" for lang in c["languages"]}
    if any(c["languages"] == "native" for c in conditions.values()):
        langs |= {countries.native_language(c, available) for c in study_countries} - {None}
    return sorted(langs)


def main(sm):
    items = read_table(sm.input.survey_items)
    targets, scores = pd.read_parquet(sm.input.targets), pd.read_parquet(sm.input.scores)
    available = sorted(Path(p).stem for p in sm.input.templates)
    # every country with survey data, not only the selected ones: a country slice must not change
    # (and so rebuild) the study's items
    languages = (sm.params.languages
                 or prompt_languages(sm.params.conditions, shards.survey_countries(targets, scores), available))
    name, spec = sm.params.translator, {**sm.params.spec, "elicitation": translate.ELICITATION}
    backend = backends.make(name, spec)
    translator = f"{name} ({spec.get('model', spec['provider'])})"
    with exclusive(sm.params.store, name, on_wait=lambda m: logging.info("%s", m)) as store:

        def ask(rows: pd.DataFrame) -> pd.DataFrame:
            table, stats = engine.run(rows.assign(condition="translation", country="none"), backend, store,
                                      Limits.from_config(spec.get("limits")))
            logging.info("%s", stats.line())
            print(f"{name} translating {sm.wildcards.study}: {stats.line()}", file=_common.CONSOLE)
            fail_if_retryable(table, name, spec)   # what arrived is stored; a rerun sends the failed ones
            received = []
            for key in table["key"]:
                record = store.get(key) if key in store else None
                at = (record or {}).get("stored_at")
                received.append(datetime.datetime.fromtimestamp(at, datetime.timezone.utc).date().isoformat()
                                if at else None)
            return table.assign(received_at=received)

        out, table = translate.translate(items, languages, ask, translator, sm.params.back_translate)
    out.to_parquet(sm.output.translated)
    table.to_csv(sm.output.table, index=False)
    problems = table[table["problem"].fillna("").astype(bool)]
    logging.info("%d machine translations into %s; %d problems", (table["translation"] == "machine").sum(),
                 ", ".join(languages), len(problems))
    for row in problems.itertuples(index=False):
        logging.warning("%s %s: %s", row.item_id, row.lang, row.problem)


_common.run(snakemake, main)  # noqa: F821
