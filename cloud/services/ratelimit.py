"""Sliding-window limit on failed logins, per email address.

Two keepers of the same rule: :class:`LoginLimiter` in memory (one process: SQLite), and
:class:`DatabaseLoginLimiter`, which keeps the failures in PostgreSQL so that every replica
counts the same ones (a guesser spreading tries over replicas gains nothing). Failures are
written in a transaction of their own: the login that failed rolls its own back.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, insert, select

from cloud.db.session import Database
from cloud.models import LoginFailure

__all__ = ["DatabaseLoginLimiter", "LoginLimiter", "LoginLimits"]


class LoginLimits(Protocol):
    async def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        ...

    async def failed(self, key: str) -> None: ...

    async def succeeded(self, key: str) -> None: ...


def _wait(oldest: float, window_s: float, now: float) -> int:
    return max(1, int(oldest + window_s - now + 0.999))


class LoginLimiter:
    """In memory, for one process."""

    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    async def retry_after(self, key: str) -> int:
        failures = self._failures.get(key)
        if not failures:
            return 0
        now = self._clock()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if len(failures) < self.max_failures:
            return 0
        return _wait(failures[0], self.window_s, now)

    async def failed(self, key: str) -> None:
        self._failures[key].append(self._clock())

    async def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


class DatabaseLoginLimiter:
    """In the database, shared by every replica."""

    def __init__(self, db: Database, max_failures: int, window_s: float) -> None:
        self.db = db
        self.max_failures = max_failures
        self.window_s = window_s

    async def retry_after(self, key: str) -> int:
        now = datetime.now(UTC)
        query = (
            select(LoginFailure.failed_at)
            .where(
                LoginFailure.email_key == key,
                LoginFailure.failed_at > now - timedelta(seconds=self.window_s),
            )
            .order_by(LoginFailure.failed_at.desc())
            .limit(self.max_failures)
        )
        async with self.db.sessions() as session:
            recent = list(await session.scalars(query))
        if len(recent) < self.max_failures:
            return 0
        # The oldest of the newest max_failures must leave the window first.
        return _wait(recent[-1].timestamp(), self.window_s, now.timestamp())

    async def failed(self, key: str) -> None:
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            await session.execute(insert(LoginFailure).values(email_key=key, failed_at=now))
            # Old failures count for nothing: dropped as new ones come (the key's only).
            await session.execute(
                delete(LoginFailure).where(
                    LoginFailure.email_key == key,
                    LoginFailure.failed_at <= now - timedelta(seconds=self.window_s),
                )
            )

    async def succeeded(self, key: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(LoginFailure).where(LoginFailure.email_key == key))
