"""Every shipped survey, rendered as the workflow renders it: no prompt shows an escaping artefact
(a doubled CSV quote, a backslash escape, an HTML entity, a literal \\n) that the source files'
quoting would leave behind if a file were read the wrong way."""

import json
import re
from pathlib import Path

import pytest
import yaml

from culturelens import jobs, shards, surveys
from culturelens.config import study_conditions

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config/config.yaml").read_text())
SHIPPED = [s for s, spec in CONFIG["catalog"]["studies"].items()
           if all((ROOT / p).exists() for p in spec["paths"].values())]
ARTEFACT = re.compile(r'""|\\"|\\[ntr]|&(?:quot|amp|lt|gt|apos|#\d+);|\\u[0-9a-fA-F]{4}')


def test_every_study_of_the_default_run_is_checked():
    assert set(CONFIG["studies"]) <= set(SHIPPED)


@pytest.mark.parametrize("study", SHIPPED)
def test_no_prompt_of_a_shipped_survey_shows_an_escaping_artefact(study, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    spec = CONFIG["catalog"]["studies"][study]
    tables = surveys.load(spec["format"], study, spec["paths"], label_set=spec.get("label_set"))
    for column in ("question", "options"):
        texts = tables.items[column].explode().astype(str)
        bad = texts[texts.str.contains(ARTEFACT)]
        assert bad.empty, f"{study} {column}: {bad.head(3).tolist()}"
    items, targets, _ = surveys.exclude_flagged(tables.items, tables.targets)
    items, targets = surveys.substantive_view(items, targets, spec.get("keep_non_substantive", False))
    paths = {}
    for name, table in (("survey_items", items), ("targets", targets), ("scores", tables.scores)):
        paths[name] = tmp_path / f"{name}.parquet"
        table.to_parquet(paths[name])
    conditions = {c: CONFIG["catalog"]["conditions"][c] for c in study_conditions(CONFIG, study)}
    found = shards.survey_countries(targets, tables.scores)
    for shard in shards.shards(found, conditions)[:3]:   # `none` and the first countries
        out = tmp_path / f"{shard}.parquet"
        jobs.render_shard(**paths, templates_dir=ROOT / CONFIG["templates"], output=out, log=tmp_path / "log",
                          study=study, shard=shard, spec=spec, conditions=conditions, paraphrases=CONFIG["paraphrases"],
                          option_orders=CONFIG["option_orders"], countries=CONFIG["countries"])
        table = jobs.read_table(out)
        assert len(table)
        contents = [m["content"] for blob in table["messages"] for m in json.loads(blob)]
        bad = [c for c in contents if ARTEFACT.search(c)]
        assert not bad, f"{study} shard {shard}: {len(bad)} prompts, e.g. {bad[0][:300]!r}"
