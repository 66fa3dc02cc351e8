"""Reference respondents answer with the same requests, keys, records and parsers as real models (not the store)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from culturelens import backends, elicit, engine
from culturelens.backends import Fatal
from culturelens.store import ResponseStore

TARGETS = pd.DataFrame([
    {"item_id": "q", "country": c, "option_index": i, "share": s, "n": n}
    for c, shares, n in [("US", [0.6, 0.3, 0.1], 500.0), ("JP", [0.1, 0.2, 0.7], math.nan)]
    for i, s in enumerate(shares)
])


def prompt(country, shown=(0, 1, 2), pid="p"):
    return {"prompt_id": pid + country + "".join(map(str, shown)), "item_id": "q", "country": country,
            "condition": "c", "labels": ["A", "B", "C"][: len(shown)], "shown_options": list(shown),
            "messages": json.dumps([{"role": "user", "content": "Q?"}])}


def distribution(name, spec, p):
    b = backends.make(name, spec, targets=TARGETS)
    result = b.answer(b.request(p))
    if result["status"] != "ok":
        return None
    probs, *_ = elicit.PARSERS[spec["elicitation"]["method"]](result["payload"], p["labels"])
    return dict(zip(p["shown_options"], probs))


LOGPROBS = {"method": "logprobs"}


def test_uniform():
    got = distribution("u", {"provider": "reference", "respondent": "uniform", "elicitation": LOGPROBS}, prompt("US"))
    assert got == pytest.approx({0: 1 / 3, 1: 1 / 3, 2: 1 / 3})


def test_fixed_country_follows_its_country_whatever_the_target_and_order():
    spec = {"provider": "reference", "respondent": "fixed_country", "country": "US", "elicitation": LOGPROBS}
    got = distribution("us", spec, prompt("JP", shown=(2, 1, 0)))
    assert got == pytest.approx({0: 0.6, 1: 0.3, 2: 0.1})


def test_fixed_country_abstains_without_data():
    spec = {"provider": "reference", "respondent": "fixed_country", "country": "DE", "elicitation": LOGPROBS}
    assert distribution("de", spec, prompt("US")) is None


def test_oracle_resamples_with_survey_n_and_is_reproducible():
    spec = {"provider": "reference", "respondent": "oracle", "n": 200, "seed": 1, "elicitation": LOGPROBS}
    got = distribution("o", spec, prompt("US"))
    assert got == distribution("o", spec, prompt("US"))
    # shares are multiples of 1/500 (the survey's n), near the truth
    assert all(abs(v * 500 - round(v * 500)) < 1e-6 for v in got.values())
    assert np.allclose([got[0], got[1], got[2]], [0.6, 0.3, 0.1], atol=0.08)
    jp = distribution("o", spec, prompt("JP"))   # no survey n: the configured n=200
    assert all(abs(v * 200 - round(v * 200)) < 1e-6 for v in jp.values())


def test_oracle_abstains_without_a_target_country():
    spec = {"provider": "reference", "respondent": "oracle", "n": 1000, "seed": 1, "elicitation": LOGPROBS}
    b = backends.make("o", spec, targets=TARGETS)
    result = b.answer(b.request(prompt("none")))
    assert result["status"] == "abstained" and "default prompting" in result["error"]


def test_pooled_answers_the_cross_country_mean_whatever_the_prompt():
    spec = {"provider": "reference", "respondent": "pooled", "elicitation": LOGPROBS}
    for target in ("none", "US", "JP"):
        got = distribution("p", spec, prompt(target, shown=(1, 2, 0)))
        assert got == pytest.approx({0: 0.35, 1: 0.25, 2: 0.4})


@pytest.mark.parametrize("respondent", ["oracle", "pooled", "fixed_country", "uniform"])
def test_answers_do_not_depend_on_the_country_slice(respondent):
    """The same request gets the same answer (and the same identity, so the same store key)
    whether the job saw every country's survey or only a slice of it."""
    spec = {"provider": "reference", "respondent": respondent, "country": "US", "n": 300, "seed": 3,
            "elicitation": LOGPROBS}
    full = backends.make("r", spec, targets=TARGETS)
    assert full.answer(full.request(prompt("JP"))) == full.answer(full.request(prompt("JP")))
    assert "targets_sha" in full.identity


def test_oracle_ceiling_does_not_rise_with_the_number_of_variants():
    """Each variant is resampled at the survey's n and scored on its own: the headline (mean of
    per-variant 1 − JSD) is the same in expectation for 1 or 16 variants, while the metric of the
    mean distribution climbs towards 1."""
    from culturelens import alignment

    spec = {"provider": "reference", "respondent": "oracle", "n": 50, "seed": 7, "elicitation": LOGPROBS}
    b = backends.make("o", spec, targets=TARGETS)
    items = pd.DataFrame([{"item_id": "q", "scale": "nominal", "options": ["a", "b", "c"]}])

    def cell(n_variants, rep):
        rows = []
        for v in range(n_variants):
            p = prompt("JP", pid=f"r{rep}v{v}")
            p["messages"] = json.dumps([{"role": "user", "content": f"Q? (wording {rep}.{v})"}])
            probs, *_ = elicit.PARSERS["logprobs"](b.answer(b.request(p))["payload"], p["labels"])
            rows += [{"model": "o", "study": "s", "item_id": "q", "item_lang": "en", "prompt_lang": "en",
                      "condition": "c", "country": "JP", "paraphrase": v, "option_order": "listed",
                      "prompt_id": p["prompt_id"], "option_index": i, "prob": x} for i, x in enumerate(probs)]
        return alignment.cells(pd.DataFrame(rows), TARGETS, items, baselines={"o"}).iloc[0]

    one = [cell(1, r) for r in range(60)]
    many = [cell(16, r) for r in range(60)]
    head_one, head_many = np.mean([c.js_sim for c in one]), np.mean([c.js_sim for c in many])
    assert head_many == pytest.approx(head_one, abs=0.01)
    assert np.mean([c.js_sim_of_mean for c in many]) > head_many + 0.03


@pytest.mark.parametrize("method", ["sample", "verbalized"])
def test_other_elicitation_methods_parse(method):
    spec = {"provider": "reference", "respondent": "fixed_country", "country": "JP",
            "elicitation": {"method": method, "n": 400}}
    got = distribution("jp", spec, prompt("US"))
    assert np.allclose([got[0], got[1], got[2]], [0.1, 0.2, 0.7], atol=0.06)


def test_engine_answers_locally_without_the_store_and_identically_every_time(tmp_path):
    """Free and deterministic: nothing is written to (or read from) the store; a rerun answers again,
    identically, and the table is what a stored first run gives (cached False, same payloads)."""
    spec = {"provider": "reference", "respondent": "oracle", "n": 100, "seed": 3, "elicitation": LOGPROBS}
    rows = pd.DataFrame([prompt("US"), prompt("JP"), prompt("US", shown=(2, 1, 0)), prompt("none")])
    b = backends.make("o", spec, targets=TARGETS)
    assert b.stored is False
    calls = []
    original = b.answer
    b.answer = lambda req, key=None: calls.append(req) or original(req, key)
    with ResponseStore(tmp_path, "o") as store:
        first, stats = engine.run(rows, b, store)
    assert len(calls) == 4 and (stats.sent, stats.cached, stats.local, stats.attempts) == (0, 0, 4, 0)
    assert (stats.ok, stats.abstained) == (3, 1)
    assert "sent 0 (0 attempts), 0 from the store, answered locally 4; ok 3, abstained 1" in stats.line()
    assert not list((tmp_path / "o").glob("*.jsonl")) and len(ResponseStore(tmp_path, "o")) == 0
    with ResponseStore(tmp_path, "o") as store:
        second, stats = engine.run(rows, b, store)
    assert len(calls) == 8 and stats.local == 4
    assert not first["cached"].any() and not second["cached"].any()
    cols = [c for c in engine.RESPONSE_COLUMNS if c != "latency_s"]
    pd.testing.assert_frame_equal(first[cols], second[cols])
    # the same table as the store gave when reference answers were stored (first run)
    b.stored = True
    with ResponseStore(tmp_path / "stored", "o") as store:
        stored_run, stats = engine.run(rows, b, store)
    assert stats.sent == 4 and stats.local == 0 and len(ResponseStore(tmp_path / "stored", "o")) == 4
    pd.testing.assert_frame_equal(first[cols], stored_run[cols])
    dist, _ = elicit.distributions(rows.assign(**{k: "x" for k in elicit.META if k not in rows}), first, "logprobs")
    assert set(dist["country"]) == {"US", "JP"}


def test_engine_records_failures(tmp_path):
    spec = {"provider": "reference", "respondent": "uniform", "elicitation": LOGPROBS}
    b = backends.make("u", spec, targets=TARGETS)
    def fails(request, key=None):
        raise Fatal("bad_request", "HTTP 400: no such option")

    b.answer = fails
    with ResponseStore(tmp_path, "u") as store:
        responses, stats = engine.run(pd.DataFrame([prompt("US")]), b, store)
    assert stats.failed == {"bad_request": 1} and stats.local == 1
    assert responses.iloc[0]["error"] == "HTTP 400: no such option"
    assert responses.iloc[0]["error_kind"] == "bad_request" and responses.iloc[0]["status"] == "failed"
    assert ResponseStore(tmp_path, "u").failures(responses.iloc[0]["key"]) == 0   # reported, not stored


def test_engine_records_unexpected_client_errors_and_goes_on(tmp_path):
    spec = {"provider": "reference", "respondent": "uniform", "elicitation": LOGPROBS}
    b = backends.make("u", spec, targets=TARGETS)
    original = b.answer

    def flaky(request, key=None):
        if request["country"] == "JP":
            raise ValueError("bug in a client library")
        return original(request, key)

    b.answer = flaky
    with ResponseStore(tmp_path, "u") as store:
        responses, stats = engine.run(pd.DataFrame([prompt("US"), prompt("JP")]), b, store)
    assert stats.ok == 1 and stats.failed == {"client_error": 1}
    assert responses.set_index("country").loc["JP", "error"] == "ValueError: bug in a client library"
