"""Telling open sockets that what admitted them changed, instead of each polling for it.

A socket is admitted by a token, and later a device is revoked, a user logs out, is
deactivated, loses a role or is deleted, or an API token is revoked. Each of those is a row
change, which :mod:`cloud.live.notices` sees and announces by its *subjects* (``device:ID``,
``user:ID``, ``jti:ID``) to every process's :class:`RevocationBoard`.

A socket watches its own subjects and re-checks its token only when one is named (and,
rarely, as a safety net); an idle socket costs no query. While a PostgreSQL listener is not
connected, notifications can be missed, so sockets fall back to polling
(:attr:`RevocationBoard.listening` says which applies).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = ["RevocationBoard", "device_subject", "jti_subject", "user_subject"]


def device_subject(device_id: uuid.UUID) -> str:
    return f"device:{device_id}"


def user_subject(user_id: int) -> str:
    return f"user:{user_id}"


def jti_subject(jti: str) -> str:
    return f"jti:{jti}"


class RevocationBoard:
    """Which open sockets wait on which subjects, in one process."""

    def __init__(self, *, listening: bool) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._listening = listening

    @property
    def listening(self) -> bool:
        """True while notifications are known to arrive (always on SQLite; on PostgreSQL
        while this process's listener is connected)."""
        return self._listening

    @listening.setter
    def listening(self, yes: bool) -> None:
        lost = self._listening and not yes
        self._listening = yes
        if lost:  # sockets waiting for a notification must poll now: wake them to re-plan
            for waiting in self._waiting.values():
                for changed in waiting:
                    changed.set()

    @contextmanager
    def watch(self, subjects: Iterable[str]) -> Iterator[asyncio.Event]:
        """An event set whenever one of ``subjects`` is named; the caller clears it."""
        changed = asyncio.Event()
        names = frozenset(subjects)
        for name in names:
            self._waiting.setdefault(name, set()).add(changed)
        try:
            yield changed
        finally:
            for name in names:
                waiting = self._waiting.get(name)
                if waiting is not None:
                    waiting.discard(changed)
                    if not waiting:
                        del self._waiting[name]

    def announce(self, subjects: Iterable[str]) -> int:
        """Wake every socket watching one of ``subjects``; how many were woken."""
        woken: set[asyncio.Event] = set()
        for name in subjects:
            woken |= self._waiting.get(name, set())
        for changed in woken:
            changed.set()
        return len(woken)

    @property
    def watched(self) -> int:
        return len(self._waiting)

    async def next_check(
        self,
        changed: asyncio.Event,
        *,
        poll_s: float,
        recheck_s: float,
        deadline: float | None = None,
    ) -> None:
        """Return when a socket watching with ``changed`` should re-check its token: one of
        its subjects was named, its token's ``deadline`` (``loop.time()``) came, or the
        interval passed (``recheck_s`` while notifications flow, else ``poll_s``)."""
        loop = asyncio.get_running_loop()
        timeout = recheck_s if self.listening else poll_s
        if deadline is not None:
            timeout = min(timeout, max(deadline - loop.time(), 0.0))
        try:
            async with asyncio.timeout(timeout):
                await changed.wait()
        except TimeoutError:
            pass
        changed.clear()
