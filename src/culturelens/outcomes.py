"""How a model's prompts ended, in words: failed requests by kind with the provider's first
message, prompt rows without a distribution by reason. Used by summary.md and by the error a
study with no usable answer ends with."""

from __future__ import annotations

import pandas as pd


def failures_line(responses: pd.DataFrame) -> str | None:
    """`N requests failed: auth 3 (e.g. '…'); timeout 1 (e.g. '…')`, or None if none failed.
    Counts distinct requests (`key`), not prompt rows."""
    failed = responses[responses["status"] == "failed"].drop_duplicates("key")
    if not len(failed):
        return None
    kinds = [f"{kind} {len(grp)} (e.g. {str(grp['error'].iloc[0])[:160]!r})"
             for kind, grp in failed.groupby(failed["error_kind"].fillna("unknown"), sort=True)]
    return f"{len(failed)} requests failed: " + "; ".join(kinds)


def outcome_line(model: str, responses: pd.DataFrame, invalid: pd.DataFrame) -> str:
    """One model's prompt rows: failed by kind, without a distribution by reason, abstained."""
    parts = []
    failed = responses[responses["status"] == "failed"]
    for kind, grp in failed.groupby(failed["error_kind"].fillna("unknown"), sort=True):
        parts.append(f"{len(grp)} failed ({kind}, e.g. {str(grp['error'].iloc[0])[:120]!r})")
    unusable = invalid[~invalid["reason"].isin(["failed", "abstained", "missing"])]
    for reason, grp in unusable.groupby("reason", sort=True):
        parts.append(f"{len(grp)} without a distribution ({reason})")
    abstained = int((responses["status"] == "abstained").sum())
    if abstained:
        parts.append(f"{abstained} abstained")
    return f"{model}: {len(responses)} prompt rows: " + ("; ".join(parts) or "no prompts")
