"""Country shards: the unit a slice of the results tree is made of.

A study's prompts are split by target country: shard `JP` holds every prompt written for Japan
(persona prompts and prompts in Japan's language), shard `none` the prompts without a target country
(default prompting, compared with every country). A model's answers are stored per shard across
studies (`results/answers/<model>/<shard>.parquet`), so one country is a set of files: rerunning it,
or adding it to a finished study, leaves every other country's files untouched, and the study-wide
tables are combined from the shards.

Only the shard `none` depends on the country selection (default prompting asks the items of the
selected countries); a country's shard depends on that country alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

NONE = "none"


def world_conditions(conditions: Mapping[str, Mapping]) -> dict:
    """Conditions whose prompts have no target country (no persona, fixed prompt languages)."""
    return {n: c for n, c in conditions.items() if not c["persona"] and c["languages"] != "native"}


def country_conditions(conditions: Mapping[str, Mapping]) -> dict:
    """Conditions whose prompts are written for one country (a persona, or its language)."""
    world = world_conditions(conditions)
    return {n: c for n, c in conditions.items() if n not in world}


def survey_countries(targets: pd.DataFrame, scores: pd.DataFrame) -> list[str]:
    """Countries with survey data: answer distributions, or published scores (VSM)."""
    table = targets if len(targets) else scores
    return sorted(table["country"].unique()) if len(table) else []


def eligible(targets: pd.DataFrame, scores: pd.DataFrame, items: pd.DataFrame,
             selected: Iterable[str] | None) -> dict[str, list[str]]:
    """item_id → countries with survey data for it, within the selection (empty = every country)."""
    if len(targets):
        by_item = targets.groupby("item_id")["country"].unique().map(sorted).to_dict()
    else:
        with_scores = survey_countries(targets, scores)
        by_item = {item: with_scores for item in items["item_id"].unique()}
    selected = set(selected or ())
    if selected:
        by_item = {i: [c for c in cs if c in selected] for i, cs in by_item.items()}
    return by_item


def shards(countries: Iterable[str], conditions: Mapping[str, Mapping]) -> list[str]:
    """The shards of a study: `none` (if a condition has no target country) and one per country."""
    countries = sorted(countries)
    if not country_conditions(conditions):
        countries = []
    return ([NONE] if world_conditions(conditions) else []) + countries


def for_shard(by_item: Mapping[str, list[str]], shard: str) -> dict[str, list[str]]:
    """The eligibility map one shard renders from: every selected country for `none` (which renders
    one prompt per item whatever the countries), else the shard's own country where it has data."""
    if shard == NONE:
        return dict(by_item)
    return {i: [shard] for i, cs in by_item.items() if shard in cs}
