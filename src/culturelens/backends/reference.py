"""Built-in reference respondents: baselines that need no GPU and no key.

- `uniform`: every shown option equally likely (the floor).
- `oracle`: the target country's own survey distribution, resampled with a finite n (the survey's
  n where known, else the configured n) independently for every prompt variant: the per-country
  noise ceiling a perfect model could reach. Without a target country (default prompting, where
  one answer is compared with every country) there is no ceiling to give: it abstains.
- `pooled`: the unweighted mean of the survey distributions of every country with data for the
  item (no resampling), whatever the prompt: the best a model can do that knows the world's
  answers but not the country. Under default prompting it is the natural upper reference.
- `fixed_country`: always the survey distribution of one country (e.g. `us-centric`); it abstains
  on items that country was not asked.

For label tasks (CuLEmo: a gold label per question and culture; ``labels`` table):
- `majority_label`: the culture's most frequent gold label, whatever the question (the culture of
  a prompt without a target country is the study's country-free annotation, CuLEmo's English one);
  ties go to the label listed first.
- `unadapted_label`: the country-free (English) annotation's label for every culture: a model
  with no cultural adaptation at all.
Both abstain in studies without gold labels. `uniform` is the random-guess floor (its tied
distribution is broken at random when scored, see culturelens.labels).

Their answers depend only on the survey, never on the configured country slice: a slice changes
which prompts are asked, not how each is answered (so a slice's answers are the full run's).

They answer in the shape of an OpenAI chat completion, so their responses go through the same
request / send path of the engine and the same elicitation parsers as real models. They are free
and deterministic (every answer is a function of the request and the seed), so they declare
`stored = False`: the engine answers them again on every run instead of writing ~1.4 KB a record
to the response store (20 models × 100 countries would be ~11 GB) and reading it back.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..alignment import target_vectors
from ..config import digest
from ..store import request_key
from .in_process import InProcess


class ReferenceRespondent(InProcess):
    def __init__(self, name: str, spec: Mapping, *, targets: pd.DataFrame, labels: pd.DataFrame | None = None, **_):
        self.name = name
        self.kind = spec["respondent"]
        self.spec = dict(spec)
        self.elicitation = dict(spec["elicitation"])
        self._dist = target_vectors(targets)
        self._n: dict[tuple[str, str], float] = (
            targets.groupby(["item_id", "country"], sort=False)["n"].first().astype(float).to_dict()
            if "n" in targets else {})
        by_item: dict[str, list[np.ndarray]] = {}
        for (item, _), vec in self._dist.items():
            by_item.setdefault(item, []).append(vec)
        self._pooled = {item: np.mean(vecs, axis=0) for item, vecs in by_item.items()}
        data_sha = digest(sorted((k, v.round(12).tolist()) for k, v in self._dist.items()))
        self.identity = {"provider": "reference", "respondent": self.kind, "spec": self.spec,
                         "targets_sha": data_sha}
        self._gold: dict[tuple[str, str], int] = {}
        self._majority: dict[str, int] = {}
        if labels is not None and len(labels):
            self._gold = dict(zip(zip(labels["item_id"], labels["country"]), labels["option_index"].astype(int)))
            counts = labels.groupby(["country", "option_index"]).size().reset_index(name="n")
            counts = counts.sort_values(["country", "n", "option_index"], ascending=[True, False, True])
            first = counts.drop_duplicates("country")
            self._majority = dict(zip(first["country"], first["option_index"].astype(int)))
            self.identity["labels_sha"] = digest(sorted(self._gold.items()))

    #: the prompt columns a request is made of (engine.run reads only these)
    request_columns = ("prompt_id", "item_id", "country", "labels", "shown_options")

    def request(self, prompt: Mapping) -> dict:
        """What the respondent is asked: the prompt (by its id, which hashes the messages, labels
        and shown options), the item and target country, and how to answer."""
        return {
            "prompt_id": prompt["prompt_id"],
            "labels": list(prompt["labels"]),
            "shown_options": [int(i) for i in prompt["shown_options"]],
            "item_id": prompt["item_id"],
            "country": prompt["country"],
            "elicitation": self.elicitation,
        }

    def _distribution(self, item: str, country: str, k: int, rng) -> np.ndarray | None:
        if self.kind == "uniform":
            return np.full(k, 1.0 / k)
        if self.kind == "fixed_country":
            return self._dist.get((item, self.spec["country"]))
        if self.kind == "pooled":
            return self._pooled.get(item)
        if self.kind in ("majority_label", "unadapted_label"):
            label = (self._majority.get(country) if self.kind == "majority_label"
                     else self._gold.get((item, "none")))
            return None if label is None or label >= k else np.eye(k)[int(label)]
        # oracle: a ceiling only where the prompt has a target country
        probs, n = self._dist.get((item, country)), self._n.get((item, country), math.nan)
        if probs is None:
            return None
        n = int(n) if n == n and n > 0 else int(self.spec.get("n", 1000))
        return rng.multinomial(n, probs) / n

    def answer(self, request: dict, key: str | None = None) -> dict:
        """The answer to one request, as an OpenAI chat completion (or an abstention). Random draws
        (oracle resampling, `sample` elicitation) come from a generator seeded by the request's
        store key, which covers the respondent's identity (seed included) and the request."""
        labels, shown = request["labels"], request["shown_options"]
        key = key or request_key(self.identity, request)
        rng = _Seeded(key)
        probs = self._distribution(request["item_id"], request["country"], len(shown), rng)
        if probs is None:
            if self.kind == "oracle" and request["country"] == "none":
                why = f"{self.name} (oracle) needs a target country; default prompting has none"
            elif self.kind in ("majority_label", "unadapted_label"):
                why = (f"{self.name} needs gold labels (label tasks only)" if not self._gold else
                       f"{self.name} has no gold label for item {request['item_id']} and culture {request['country']}")
            else:
                why = f"{self.name} has no survey data for item {request['item_id']}"
            return {"status": "abstained", "payload": None, "error": why}
        if len(probs) != len(shown):
            raise ValueError(f"{self.name}: item {request['item_id']} has {len(probs)} options in the "
                             f"survey but {len(shown)} were shown")
        display = [float(probs[i]) for i in shown]  # probability of each label, in display order
        return {"status": "ok", "payload": _completion(self.name, labels, display, self.elicitation, rng),
                "error": None, "usage": {"prompt_tokens": 0, "completion_tokens": 0}, "cost_usd": 0.0}


_threads = threading.local()


class _Seeded:
    """A numpy Generator for one answer, its PCG64 state set from a hex key (a sha256) on first use:
    ~4x cheaper than seeding through a SeedSequence, and only paid by answers that draw. One
    generator per thread is reused (its state is set anew for every answer)."""

    def __init__(self, key: str):
        self.key, self._gen = key, None

    def __getattr__(self, name):
        if self._gen is None:
            gen = getattr(_threads, "gen", None)
            if gen is None:
                gen = _threads.gen = np.random.Generator(np.random.PCG64(0))
            gen.bit_generator.state = {"bit_generator": "PCG64", "has_uint32": 0, "uinteger": 0,
                                       "state": {"state": int(self.key[:32], 16), "inc": int(self.key[32:64], 16) | 1}}
            self._gen = gen
        return getattr(self._gen, name)


def _completion(model: str, labels: list[str], probs: list[float], elicitation: Mapping, rng) -> dict:
    """An OpenAI-style chat completion for the given answer probabilities."""
    method = elicitation["method"]
    if method == "logprobs":
        top = sorted(((lab, p) for lab, p in zip(labels, probs) if p > 0), key=lambda t: -t[1])
        top = top[: int(elicitation.get("top_logprobs", 20))]
        entries = [{"token": lab, "logprob": math.log(p)} for lab, p in top]
        choice = {"index": 0, "message": {"role": "assistant", "content": top[0][0]},
                  "logprobs": {"content": [{"token": top[0][0], "logprob": math.log(top[0][1]),
                                            "top_logprobs": entries}]}, "finish_reason": "length"}
        return {"object": "chat.completion", "model": model, "choices": [choice]}
    if method == "sample":
        draws = rng.choice(len(labels), size=int(elicitation.get("n", 20)), p=np.asarray(probs) / sum(probs))
        choices = [{"index": j, "message": {"role": "assistant", "content": labels[d]}, "finish_reason": "stop"}
                   for j, d in enumerate(draws)]
        return {"object": "chat.completion", "model": model, "choices": choices}
    if method == "verbalized":
        content = json.dumps({lab: round(p, 6) for lab, p in zip(labels, probs)})
        return {"object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}
    raise ValueError(f"unknown elicitation method '{method}'")
