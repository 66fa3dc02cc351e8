"""Answers imported from a file (culturelens.imported) served as a model: each prompt row receives
the imported distribution of its (item, country, condition, prompt language) — one prompt row per
such cell, its first paraphrase and option order, so each imported answer is one observation — in
the shape of an
OpenAI chat completion with stated probabilities, so it is parsed (the `verbalized` parser),
scored and analysed exactly like a model the pipeline ran. Nothing is sent or stored."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from ..imported import KEY
from .in_process import InProcess

#: imported answers are read as stated probabilities
METHOD = "verbalized"


class ImportedAnswers(InProcess):
    #: a released answer is one observation: asked of the first variant of each cell only
    one_answer_per_cell = True
    request_columns = ("prompt_id", "item_id", "country", "condition", "prompt_lang", "labels", "shown_options")

    def __init__(self, name: str, spec: Mapping, *, answers: pd.DataFrame, **_):
        self.name = name
        self.spec = dict(spec)
        self.elicitation = {"method": METHOD}
        self._probs = {tuple(k): list(p) for k, p in zip(answers[KEY].itertuples(index=False, name=None),
                                                         answers["probs"])}
        self._unreadable = {tuple(k): why for k, why in zip(answers[KEY].itertuples(index=False, name=None),
                                                            answers["unreadable"]) if why}
        self.identity = {"provider": "imported", "path": spec.get("path")}

    def request(self, prompt: Mapping) -> dict:
        return {"prompt_id": prompt["prompt_id"], "labels": list(prompt["labels"]),
                "shown_options": [int(i) for i in prompt["shown_options"]],
                "key": [prompt["item_id"], prompt["country"], prompt["condition"], prompt["prompt_lang"]]}

    def answer(self, request: dict, key: str | None = None) -> dict:
        why = self._unreadable.get(tuple(request["key"]))
        if why:   # the released answer names no option: elicit counts it by this kind
            return {"status": "unreadable", "payload": None, "error": why}
        probs = self._probs.get(tuple(request["key"]))
        if probs is None:
            return {"status": "abstained", "payload": None,
                    "error": f"{self.name}: no imported answer for item {request['key'][0]}, country "
                             f"{request['key'][1]}, condition {request['key'][2]}, prompt language {request['key'][3]}"}
        shown = request["shown_options"]
        if len(probs) != len(shown):
            return {"status": "abstained", "payload": None,
                    "error": f"{self.name}: the imported answer has {len(probs)} options, the prompt {len(shown)}"}
        content = json.dumps({lab: probs[i] for lab, i in zip(request["labels"], shown)})
        payload = {"object": "chat.completion", "model": self.name,
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}
        return {"status": "ok", "payload": payload, "error": None,
                "usage": {"prompt_tokens": 0, "completion_tokens": 0}, "cost_usd": 0.0}
