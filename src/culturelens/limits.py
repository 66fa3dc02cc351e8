"""Per-model request limits: concurrency, requests and tokens per minute, timeouts, retry budget.

Token buckets replace `time.sleep` rate limiting: each request takes one request token and its
estimated tokens; buckets refill continuously. A 429 with Retry-After pauses the whole model, not
only the request that got it.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    max_concurrency: int = 8
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    timeout_s: float = 60.0
    max_attempts: int = 6            # per request, first try included
    max_total_s: float = 6 * 3600    # wall-clock budget of one inference job: a run never hangs for days
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0

    @classmethod
    def from_config(cls, spec: dict | None) -> "Limits":
        spec = dict(spec or {})
        known = {f.name for f in fields(cls)}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown limits: {sorted(unknown)}")
        return cls(**spec)


def backoff_delay(attempt: int, limits: Limits, retry_after: float | None = None, rng=random) -> float:
    """Capped exponential backoff with jitter; a server's Retry-After is a lower bound."""
    cap = min(limits.backoff_max_s, limits.backoff_base_s * 2 ** max(attempt - 1, 0))
    delay = rng.uniform(cap / 2, cap)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class TokenBucket:
    """`rate` units per minute with a burst of one minute's worth (at least `min_capacity`)."""

    def __init__(self, per_minute: float, min_capacity: float = 1.0, clock=time.monotonic):
        self.rate = per_minute / 60.0
        self.capacity = max(per_minute, min_capacity)
        self.level = self.capacity
        self.clock = clock
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self, amount: float) -> float:
        """Seconds until `amount` is available (0 if it is now). Amounts above capacity wait for a full bucket."""
        self._refill()
        amount = min(amount, self.capacity)
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= min(amount, self.capacity)

    def give_back(self, amount: float) -> None:
        """Return an over-estimate (e.g. when actual tokens were fewer than estimated)."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    """Requests-per-minute and tokens-per-minute buckets plus a model-wide pause (Retry-After)."""

    def __init__(self, limits: Limits):
        self.requests = TokenBucket(limits.requests_per_minute) if limits.requests_per_minute else None
        self.tokens = TokenBucket(limits.tokens_per_minute, 1.0) if limits.tokens_per_minute else None
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self, tokens: float) -> None:
        async with self._lock:  # first come, first served
            while True:
                wait = self.paused_until - time.monotonic()
                if self.requests:
                    wait = max(wait, self.requests.wait_time(1))
                if self.tokens:
                    wait = max(wait, self.tokens.wait_time(tokens))
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.requests:
                self.requests.take(1)
            if self.tokens:
                self.tokens.take(tokens)

    def settle(self, estimated: float, actual: float | None) -> None:
        """Correct the token bucket once the real usage is known."""
        if self.tokens and actual is not None and actual < estimated:
            self.tokens.give_back(estimated - actual)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)
