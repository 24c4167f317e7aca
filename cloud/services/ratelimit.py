"""Sliding-window limit on failed logins, per email address."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

__all__ = ["LoginLimiter"]


class LoginLimiter:
    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        failures = self._failures.get(key)
        if not failures:
            return 0
        now = self._clock()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if len(failures) < self.max_failures:
            return 0
        return max(1, int(failures[0] + self.window_s - now + 0.999))

    def failed(self, key: str) -> None:
        self._failures[key].append(self._clock())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
