"""Model backends: one small interface, one class per provider.

A backend turns a prompt row into a JSON request (what the store hashes) and a request into a
response record. Caching, retries and bookkeeping belong to `culturelens.engine`, not to backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Backend(Protocol):
    name: str
    identity: dict        # everything that defines the model's answers (provider, id, parameters, data)
    elicitation: dict     # method and its parameters

    def request(self, prompt: Mapping) -> dict:
        """The JSON request for one prompt row: everything the answer may depend on."""

    def answer(self, request: dict) -> dict:
        """Send one request; return {status, payload, error, usage, cost_usd}."""


def make(name: str, spec: Mapping, **context) -> Backend:
    """Build the backend a model entry of the config asks for."""
    if spec["provider"] == "reference":
        from .reference import ReferenceRespondent

        return ReferenceRespondent(name, spec, **context)
    raise ValueError(f"model '{name}': unknown provider '{spec['provider']}'")
