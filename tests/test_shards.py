"""Country shards (culturelens.shards, culturelens.jobs): a study rendered shard by shard is the
study rendered at once, with the same notes; a shard depends on its own country only."""

import multiprocessing
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from culturelens import jobs, prompts, shards
from culturelens.store import ResponseStore, exclusive

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = {"default": {"persona": False, "languages": ["en"]},
              "cross_national": {"persona": True, "languages": ["en"]},
              "linguistic": {"persona": False, "languages": "native"}}


def test_world_and_country_conditions():
    assert list(shards.world_conditions(CONDITIONS)) == ["default"]
    assert list(shards.country_conditions(CONDITIONS)) == ["cross_national", "linguistic"]
    assert shards.shards(["NL", "DE"], CONDITIONS) == ["none", "DE", "NL"]
    assert shards.shards(["NL"], {"default": CONDITIONS["default"]}) == ["none"]      # no country prompts
    assert shards.shards(["NL"], {"x": CONDITIONS["cross_national"]}) == ["NL"]       # no world prompts


def test_eligible_and_for_shard():
    targets = pd.DataFrame({"item_id": ["a", "a", "b"], "country": ["NL", "DE", "DE"]})
    items = pd.DataFrame({"item_id": ["a", "b"]})
    by_item = shards.eligible(targets, pd.DataFrame(), items, None)
    assert by_item == {"a": ["DE", "NL"], "b": ["DE"]}
    assert shards.eligible(targets, pd.DataFrame(), items, ["NL"]) == {"a": ["NL"], "b": []}
    assert shards.for_shard(by_item, "NL") == {"a": ["NL"]}            # only the items NL has
    assert shards.for_shard(by_item, "none") == by_item
    scores = pd.DataFrame({"country": ["JP", "BR"]})                   # VSM: published scores only
    assert shards.eligible(pd.DataFrame(columns=["item_id", "country"]), scores, items, None) == \
        {"a": ["BR", "JP"], "b": ["BR", "JP"]}


@pytest.fixture(scope="module")
def goqa(tmp_path_factory):
    from culturelens import surveys

    spec = yaml.safe_load((ROOT / "config/config.yaml").read_text())["catalog"]["studies"]["goqa"]
    paths = {k: str(ROOT / v) for k, v in spec["paths"].items()}
    tables = surveys.load("goqa", "goqa", paths)
    items, targets, _ = surveys.exclude_flagged(tables.items, tables.targets)
    items, targets = surveys.substantive_view(items, targets, False)
    d = tmp_path_factory.mktemp("goqa")
    for name, table in (("items", items), ("targets", targets), ("scores", tables.scores)):
        table.to_parquet(d / f"{name}.parquet")
    return d


def _render_shard(d, shard, countries, out):
    jobs.render_shard(survey_items=d / "items.parquet", targets=d / "targets.parquet", scores=d / "scores.parquet",
                      templates_dir=ROOT / "resources/templates", output=out, log=out.with_suffix(".log"),
                      study="goqa", shard=shard, spec={"format": "goqa"}, conditions=CONDITIONS, paraphrases=1,
                      option_orders=["listed", "reversed"], countries=countries)
    return pd.read_parquet(out)


@pytest.mark.parametrize("countries", [None, ["JP", "DE", "US", "KE"]])
def test_shards_combine_to_the_whole_study(goqa, tmp_path, countries):
    items, targets = pd.read_parquet(goqa / "items.parquet"), pd.read_parquet(goqa / "targets.parquet")
    scores = pd.read_parquet(goqa / "scores.parquet")
    available = jobs.load_templates(ROOT / "resources/templates")
    by_item = shards.eligible(targets, scores, items, countries)
    whole, notes = prompts.render(items, by_item, study="goqa", stance=False, conditions=CONDITIONS,
                                  templates=available, paraphrases=1, option_orders=["listed", "reversed"],
                                  survey_sha=jobs.survey_sha(goqa / "items.parquet", goqa / "targets.parquet",
                                                             goqa / "scores.parquet"), phrase_templates=available)
    names = shards.shards(countries or shards.survey_countries(targets, scores), CONDITIONS)
    files = [tmp_path / f"{s}.parquet" for s in names]
    parts = [_render_shard(goqa, s, countries, f) for s, f in zip(names, files)]
    combined = pd.concat(parts, ignore_index=True)
    assert set(parts[0]["country"]) == {"none"} and all(set(p["country"]) <= {s} for p, s in zip(parts[1:], names[1:]))
    key = ["prompt_id", "condition", "country"]
    a = whole.sort_values(key, ignore_index=True)
    b = combined.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(a.drop(columns=["labels", "shown_options"]), b.drop(columns=["labels", "shown_options"]))
    assert prompts.notes_for(combined, items, by_item, conditions=CONDITIONS, templates=available, stance=False) == notes
    # the whole study through the combining job: the same table and notes
    out = {n: tmp_path / n for n in ("prompts.parquet", "notes.txt", "langs.csv")}
    jobs.combine_prompts(shard_files=files, survey_items=goqa / "items.parquet", targets=goqa / "targets.parquet",
                         scores=goqa / "scores.parquet", templates_dir=ROOT / "resources/templates",
                         prompts=out["prompts.parquet"], notes=out["notes.txt"], country_languages=out["langs.csv"],
                         log=tmp_path / "combine.log", spec={"format": "goqa"}, conditions=CONDITIONS,
                         countries=countries)
    assert out["notes.txt"].read_text().splitlines()[:-1] == notes
    assert len(pd.read_parquet(out["prompts.parquet"])) == len(whole)


def test_a_country_shard_does_not_depend_on_the_selection(goqa, tmp_path):
    alone = _render_shard(goqa, "JP", ["JP"], tmp_path / "a.parquet")
    among = _render_shard(goqa, "JP", None, tmp_path / "b.parquet")
    pd.testing.assert_frame_equal(alone, among)
    assert len(alone) and set(alone["country"]) == {"JP"}


def _hold(root, ready, release):
    with exclusive(root, "m") as store:
        store.put({"key": "k" * 64, "status": "ok", "payload": 1})
        ready.set()
        release.wait(30)


def test_exclusive_store_makes_a_second_writer_wait_and_see_the_first_ones_answers(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(tmp_path, ready, release))
    holder.start()
    assert ready.wait(30)
    waits = []
    t0 = time.monotonic()
    ctx_release = ctx.Process(target=lambda: (time.sleep(1.0), release.set()))
    ctx_release.start()
    with exclusive(tmp_path, "m", on_wait=waits.append) as store:
        waited = time.monotonic() - t0
        assert "k" * 64 in store            # opened after the first writer closed: its answer is there
    holder.join(10)
    ctx_release.join(10)
    assert waited >= 0.9 and len(waits) == 1 and "in use by" in waits[0] and "pid" in waits[0]
    with exclusive(tmp_path, "m", on_wait=waits.append):   # free again: no wait
        pass
    assert len(waits) == 1
    assert len(ResponseStore(tmp_path, "m")) == 1
