"""Telling open sockets that what admitted them changed, instead of each polling for it.

A socket is admitted by a token, and later a device is revoked, a user logs out, is
deactivated, loses a role or is deleted, or an API token is revoked. Each of those is a row
change; :func:`track_revocations` sees them as the session flushes (whichever service made
them) and names their *subjects* (``device:ID``, ``user:ID``, ``jti:ID``). On PostgreSQL the
names go out with ``NOTIFY`` in the same transaction, so every replica hears them at commit
and never for a rollback; each process's listener hands them to its
:class:`RevocationBoard`. SQLite has one process: the board hears them after the commit.

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
from typing import Any

import structlog
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session

from cloud.models import ApiToken, Device, RevokedToken, User

__all__ = [
    "REVOKED_CHANNEL",
    "RevocationBoard",
    "device_subject",
    "jti_subject",
    "track_revocations",
    "user_subject",
]

log = structlog.get_logger(__name__)

REVOKED_CHANNEL = "revlink_revoked"
_PENDING = "revlink_revoked_subjects"
# NOTIFY payloads must stay under 8000 bytes; subjects are sent in chunks of this many.
_CHUNK = 100


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


def _changed(obj: Any, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _subjects_of(session: Session) -> set[str]:
    found: set[str] = set()
    for obj in session.new:
        if isinstance(obj, RevokedToken):
            found.add(jti_subject(obj.jti))
    for obj in session.dirty:
        if isinstance(obj, Device) and _changed(obj, "revoked_at"):
            found.add(device_subject(obj.id))
        elif isinstance(obj, User) and _changed(obj, "token_version", "is_active", "role"):
            found.add(user_subject(obj.id))
        elif isinstance(obj, ApiToken) and _changed(obj, "revoked_at", "expires_at", "role"):
            found.add(user_subject(obj.user_id))
    for obj in session.deleted:
        if isinstance(obj, User):
            found.add(user_subject(obj.id))
        elif isinstance(obj, Device):
            found.add(device_subject(obj.id))
        elif isinstance(obj, ApiToken):
            found.add(user_subject(obj.user_id))
    return found


def track_revocations(session_class: type[Session], board: RevocationBoard, postgres: bool) -> None:
    """Hook ``session_class`` so that each commit names the subjects it changed."""

    @event.listens_for(session_class, "before_flush")
    def collect(session: Session, _context: object, _instances: object) -> None:
        # Before the flush: ``new``, ``dirty`` and ``deleted`` still say what is changing.
        session.info.setdefault(_PENDING, set()).update(_subjects_of(session))

    @event.listens_for(session_class, "before_commit")
    def notify(session: Session) -> None:
        if not postgres:
            return
        session.flush()  # commit flushes after this hook: collect what it would write
        if not (pending := session.info.get(_PENDING)):
            return
        names = sorted(pending)
        pending.clear()
        for start in range(0, len(names), _CHUNK):
            payload = ",".join(names[start : start + _CHUNK])
            session.execute(select(func.pg_notify(REVOKED_CHANNEL, payload)))

    @event.listens_for(session_class, "after_commit")
    def announce(session: Session) -> None:
        pending = session.info.pop(_PENDING, None)
        if pending and not postgres:
            board.announce(pending)

    @event.listens_for(session_class, "after_rollback")
    def forget(session: Session) -> None:
        session.info.pop(_PENDING, None)
