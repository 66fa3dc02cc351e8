"""How a model's prompts ended, in words (culturelens.outcomes): counted by kind, with a message."""

import pandas as pd

from culturelens import outcomes


def responses(*rows):
    return pd.DataFrame(rows, columns=["key", "status", "error_kind", "error"])


def test_failures_by_kind_count_distinct_requests_and_quote_the_provider():
    r = responses(("k1", "failed", "auth", "AuthenticationError: Incorrect API key provided"),
                  ("k1", "failed", "auth", "AuthenticationError: Incorrect API key provided"),  # same request twice
                  ("k2", "failed", "timeout", "timed out after 60 s"),
                  ("k3", "ok", None, None))
    line = outcomes.failures_line(r)
    assert line == ("2 requests failed: auth 1 (e.g. 'AuthenticationError: Incorrect API key provided'); "
                    "timeout 1 (e.g. 'timed out after 60 s')")
    assert outcomes.failures_line(r[r.status == "ok"]) is None


def test_outcome_line_says_why_a_model_has_no_usable_answer():
    r = responses(("k1", "failed", "auth", "bad key"), ("k2", "ok", None, None), ("k3", "ok", None, None),
                  ("k4", "abstained", None, "no data"))
    invalid = pd.DataFrame({"reason": ["failed", "refusal", "refusal", "abstained"]})
    assert outcomes.outcome_line("gpt", r, invalid) == (
        "gpt: 4 prompt rows: 1 failed (auth, e.g. 'bad key'); 2 without a distribution (refusal); 1 abstained")
    assert outcomes.outcome_line("m", r.iloc[:0], invalid.iloc[:0]) == "m: 0 prompt rows: no prompts"
