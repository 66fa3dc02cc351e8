"""Coverage per model × condition × prompt language, the floor and what is excluded below it
(culturelens.coverage), and its summary section."""

import pandas as pd
import pytest

from culturelens import coverage, labels, summary


def _dist(rows):
    """rows: (prompt_id, condition, prompt_lang, coverage); two options each."""
    out = []
    for pid, cond, lang, cov in rows:
        for k in (0, 1):
            out.append({"model": "m", "item_id": "q", "item_lang": "en", "prompt_lang": lang, "condition": cond,
                        "persona": "none", "country": "none", "paraphrase": 0, "option_order": "listed",
                        "prompt_id": pid, "option_index": k, "prob": 0.5, "coverage": cov, "method": "logprobs"})
    return pd.DataFrame(out)


DIST = _dist([("p1", "default", "en", 0.9), ("p2", "default", "en", 0.3), ("p3", "default", "de", 0.1),
              ("p4", "linguistic", "de", 0.6)])


def test_table_by_hand():
    table = coverage.table(DIST, 0.5, False).set_index(["condition", "prompt_lang"])
    en = table.loc[("default", "en")]
    assert en["n_rows"] == 2 and en["mean_coverage"] == pytest.approx(0.6) and en["min_coverage"] == pytest.approx(0.3)
    assert en["n_below_floor"] == 1 and en["share_below_floor"] == pytest.approx(0.5)
    assert table.loc[("default", "de"), "n_below_floor"] == 1 and table.loc[("linguistic", "de"), "n_below_floor"] == 0


def test_rows_below_the_floor_are_excluded_only_when_asked_and_counted_as_low_coverage():
    invalid = pd.DataFrame(columns=[*coverage.ROW, "reason", "detail"])
    dist, bad = coverage.exclude_below(DIST, invalid, 0.5)
    assert sorted(dist["prompt_id"].unique()) == ["p1", "p4"]
    assert sorted(bad["prompt_id"]) == ["p2", "p3"] and set(bad["reason"]) == {"low_coverage"}
    assert "coverage 0.300 below the floor 0.5" in set(bad["detail"])
    assert labels.unreadable_kind("low_coverage") == "low_coverage"


def test_summary_flags_a_mean_below_the_floor():
    table = pd.concat([coverage.table(DIST, 0.5, True),
                       coverage.table(DIST.assign(model="uniform", coverage=1.0), 0.5, True)])
    text = summary.coverage_section(table, baselines=["uniform"])
    lines = [line for line in text.splitlines() if line.startswith("| m ")]
    assert len(lines) == 3 and "uniform" not in text.split("\n\n", 1)[1]
    de = next(line for line in lines if "| default | de |" in line)
    assert "0.100 ⚠" in de and "1 (100%) excluded" in de
    assert "⚠" not in next(line for line in lines if "| linguistic |" in line)
    only = summary.coverage_section(table[table["model"] == "uniform"], baselines=["uniform"])
    assert "Only reference respondents ran" in only
