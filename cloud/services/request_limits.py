"""Rate limits per credential or device: a token bucket per key, in memory.

Each key (a hash of the bearer token a REST request carried, or a device's id for the records
it uplinks) may spend ``burst`` at once and then ``rate_per_s`` a second. Buckets live in
the process, so with several replicas a key may do the rate on each: the limit is there to
keep one runaway client from starving everyone else on a replica, not to meter use. At most
``max_keys`` buckets are kept (least recently used go first: a key forgotten comes back with
a full bucket, which only errs towards letting a request through).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimited", "TokenBuckets", "credential_key"]


def credential_key(token: str) -> str:
    """The bucket key of a bearer token: a hash, so no token is kept in memory in clear."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RateLimited:
    """A refusal: how long until the next request of that key would pass."""

    retry_after_s: float

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, rounded up, as ``Retry-After`` wants them (at least 1)."""
        return str(max(1, math.ceil(self.retry_after_s)))


class TokenBuckets:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate_per_s > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, key: str, cost: int = 1) -> RateLimited | None:
        """Spend ``cost`` (requests, records) of ``key``: None if it may go, else how long it
        must wait. A cost above the burst can never go: callers keep it within."""
        if cost > self.burst:
            raise ValueError(f"a cost of {cost} exceeds the burst of {self.burst}")
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate_per_s)
        if tokens >= cost:
            self._keep(key, tokens - cost, now)
            return None
        self._keep(key, tokens, now)
        return RateLimited((cost - tokens) / self.rate_per_s)

    def _keep(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
