"""Jobs that run inside the Snakemake process (`run:` rules, `localrules`).

A study has one rendering job per country shard: hundreds of jobs of a fraction of a second each.
As scripts each would start Python and import pandas first (2–5 s); here they share the Snakemake
process, its imports and a small cache of the tables every shard reads (the survey, the templates).
The default profile sets `force-use-threads` so that Snakemake runs them in threads, not in a new
Snakemake process each.

Each function takes paths and plain values, writes its outputs and its log, and raises
`InputError` for bad input (the rule turns it into one line naming file and field).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from . import prompts as prompts_mod
from . import shards, templates

_lock = threading.Lock()
# pyplot keeps one current figure per process: figures drawn in Snakemake's threads take turns
_drawing = threading.Lock()


def _stamp(path: str | Path) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(path), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=32)
def _parquet(stamp: tuple[str, int, int]) -> pd.DataFrame:
    return pd.read_parquet(stamp[0])


def read_table(path: str | Path) -> pd.DataFrame:
    """A parquet table, read once per version of the file (callers must not modify it)."""
    with _lock:
        return _parquet(_stamp(path))


@functools.lru_cache(maxsize=8)
def _templates(directory: str, stamps: tuple) -> dict:
    return templates.load_dir(Path(directory))


def load_templates(directory: str | Path) -> dict:
    files = tuple(_stamp(p) for p in sorted(Path(directory).glob("*.yaml")))
    with _lock:
        return _templates(str(directory), files)


@functools.lru_cache(maxsize=64)
def _sha(stamps: tuple) -> str:
    h = hashlib.sha256()
    for path, *_ in stamps:
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


def survey_sha(*paths) -> str:
    """The survey version a prompt was rendered from (recorded in every prompt row)."""
    with _lock:
        return _sha(tuple(_stamp(p) for p in paths))


@functools.lru_cache(maxsize=16)
def _eligible(stamps: tuple, selected: tuple | None) -> dict:
    items, targets, scores = (_parquet(stamp) for stamp in stamps)
    return shards.eligible(targets, scores, items, selected)


def eligible(survey_items, targets, scores, selected: tuple | None) -> dict:
    """shards.eligible of a study's survey, computed once per version of its files: every country
    shard asks the same question, and answering it reads the whole survey (callers must not modify it)."""
    with _lock:
        return _eligible(tuple(_stamp(p) for p in (survey_items, targets, scores)), selected)


@contextlib.contextmanager
def job_log(path: str | Path):
    """The log of one job (a function that writes a timestamped line); its last line is the job's
    wall time (benchmarks/bench_campaign.py reads it: these jobs have no process of their own)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(path, "w", encoding="utf-8") as fh:
        def write(message: str) -> None:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
        yield write
        write(f"{JOB_TIME} {time.perf_counter() - started:.4f} s")


JOB_TIME = "in-process job time:"


def render_shard(*, survey_items, targets, scores, templates_dir, output, log, study: str, shard: str,
                 spec: Mapping, conditions: Mapping, paraphrases: int, option_orders, countries, **_) -> None:
    """Render one shard of a study's prompts (see culturelens.shards)."""
    with job_log(log) as write:
        items = read_table(survey_items)
        available = load_templates(templates_dir)
        conds = shards.world_conditions(conditions) if shard == shards.NONE else shards.country_conditions(conditions)
        selected = tuple(countries or ()) if shard == shards.NONE else None
        by_item = shards.for_shard(eligible(survey_items, targets, scores, selected), shard)
        table, notes = prompts_mod.render(
            items, by_item, study=study, stance=spec["format"] == "wvs_stance", conditions=conds,
            templates=used_templates(conditions, available), paraphrases=paraphrases,
            option_orders=list(option_orders), survey_sha=survey_sha(survey_items, targets, scores),
            phrase_templates=available)
        for line in notes:
            write(line)
        write(f"{len(table)} prompt rows, {table['prompt_id'].nunique()} distinct prompts")
        table.to_parquet(output)


def draw_heatmap(*, alignment, output, log, model: str, **_) -> None:
    """One model's heatmap of mean alignment per country × prompt language (plots.heatmap_country_language)
    from its cells. In Snakemake's process: as a script, each of the studies × models heatmaps
    paid seconds of Python and plotting imports for a fraction of a second of drawing."""
    from . import plots   # matplotlib and seaborn: imported by the first figure, not by every job

    with job_log(log) as write:
        columns = ["model", "study", "country", "prompt_lang", "condition", "native", "js_sim"]
        cells = pd.read_parquet(alignment, columns=columns)
        with _drawing:
            plots.heatmap_country_language(cells, model, output)
        write(f"{len(cells)} cells of {model}")


def used_templates(conditions: Mapping, available: Mapping) -> dict:
    langs = {lang for c in conditions.values() if c["languages"] != "native" for lang in c["languages"]}
    native = any(c["languages"] == "native" for c in conditions.values())
    return dict(available) if native else {k: v for k, v in available.items() if k in langs}


def answers_table(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One shard's responses of every study, `study` first."""
    from .engine import RESPONSE_COLUMNS

    if not tables:
        return pd.DataFrame(columns=["study", *RESPONSE_COLUMNS])
    table = pd.concat(tables, ignore_index=True)
    return table[["study", *[c for c in table.columns if c != "study"]]]


def combine_prompts(*, shard_files: list[str], survey_items, targets, scores, templates_dir,
                    prompts, notes, country_languages, log, spec: Mapping, conditions: Mapping,
                    countries, **_) -> None:
    """A study's prompt table from its shards, with the study-wide notes and the table of each
    country's prompt language."""
    with job_log(log) as write:
        items, tgt, sc = read_table(survey_items), read_table(targets), read_table(scores)
        available = load_templates(templates_dir)
        by_item = shards.eligible(tgt, sc, items, countries)
        parts = [pd.read_parquet(p) for p in shard_files]
        parts = [p for p in parts if len(p)] or parts[:1]
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=prompts_mod.COLUMNS)
        lines = prompts_mod.notes_for(table, items, by_item, conditions=conditions,
                                      templates=used_templates(conditions, available),
                                      stance=spec["format"] == "wvs_stance")
        lines.append(f"{len(table)} prompt rows, {table['prompt_id'].nunique()} distinct prompts "
                     f"in {len(shard_files)} shards")
        for line in lines:
            write(line)
        prompts_mod.country_languages(items, by_item, available).to_csv(country_languages, index=False)
        table.to_parquet(prompts)
        Path(notes).write_text("\n".join(lines) + "\n", encoding="utf-8")


def slice_table(*, answers: list[str], labels: list[tuple], output, log, study: str | None = None,
                **_) -> None:
    """What a slice holds: per model, shard, study and condition the prompt rows and their outcome.
    `labels[i]` = (model, shard, file study) of `answers[i]`: an answer file of one shard across
    studies (file study None), or a study's responses table (a reference respondent's), of which
    the shard's rows count; `study`: that study's rows only."""
    with job_log(log) as write:
        rows = []
        for (model, shard, file_study), path in zip(labels, answers):
            table = pd.read_parquet(path, columns=["country", "condition", "status"]
                                    + ([] if file_study else ["study"]))
            table = table[table["country"] == shard]
            if file_study:
                table = table.assign(study=file_study)
            if study is not None:
                table = table[table["study"] == study]
            if not len(table):
                continue
            counts = (table.groupby(["study", "condition", "status"]).size().unstack("status", fill_value=0)
                      .reset_index())
            rows.append(counts.assign(model=model, shard=shard))
        cols = ["model", "shard", "study", "condition"]
        out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)
        status = [c for c in ("ok", "abstained", "failed") if c in out.columns]
        out = out[cols + status].fillna(0).sort_values(cols, ignore_index=True)
        for c in status:
            out[c] = out[c].astype(int)
        out.to_csv(output, sep="\t", index=False)
        write(f"{len(answers)} answer files, {len(out)} rows")
