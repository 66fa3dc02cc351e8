"""The part every backend answered in this process shares (reference respondents, imported answers)."""

from __future__ import annotations


class InProcess:
    """Free and deterministic, answered by ``answer(request, key)``: the engine bypasses the response
    store for it (``stored = False``); ``send`` exists for callers that drive any backend alike."""

    stored = False
    #: True: the answer depends only on the question, country, condition and prompt language, not
    #: on the template paraphrase or the option order (culturelens.prompts.first_variant)
    one_answer_per_cell = False

    def estimate_tokens(self, request: dict) -> int:
        return 0

    async def send(self, request: dict, timeout: float) -> dict:
        return self.answer(request)

    async def aclose(self) -> None:
        return None

    def answer(self, request: dict, key: str | None = None) -> dict:
        raise NotImplementedError
