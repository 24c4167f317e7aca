"""Reconnect delays: full-jitter exponential backoff, and longer waits when told to go away.

Full jitter (a uniform draw between zero and the capped exponential) spreads a fleet that
lost the cloud at the same moment over the whole window, so they do not return in lockstep.
The cap is low (2 s by default) so an agent is back within about that long once the cloud
is. An agent kicked by a newer connection for the same token, or refused its token, waits
far longer: reconnecting at once would only fight the other connection or hammer auth.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

__all__ = ["Backoff", "CloseKind", "classify_close"]


class CloseKind(enum.Enum):
    TRANSIENT = "transient"
    REPLACED = "replaced"
    REFUSED = "refused"


def classify_close(code: int | None, reason: str) -> CloseKind:
    if code == 1008:
        return CloseKind.REPLACED if "replaced" in reason else CloseKind.REFUSED
    return CloseKind.TRANSIENT


@dataclass
class Backoff:
    base_s: float = 0.1
    cap_s: float = 2.0
    replaced_s: float = 30.0
    refused_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self, kind: CloseKind = CloseKind.TRANSIENT) -> float:
        if kind is CloseKind.REPLACED:
            return self.rng.uniform(self.replaced_s, 2 * self.replaced_s)
        if kind is CloseKind.REFUSED:
            return self.rng.uniform(self.refused_s, 2 * self.refused_s)
        ceiling = min(self.cap_s, self.base_s * 2**self.attempt)
        self.attempt += 1
        return self.rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        self.attempt = 0
