"""Row changes other processes must hear of, announced with the transaction that made them.

Three kinds: *revocations* (a device revoked; a user logged out, deactivated, lowered, given a
new password or deleted; an API token revoked: see :mod:`cloud.live.revocations`) and *device
work* (a channel write or a command queued for a device, which the replica holding that
device's socket must send), seen by hooks, and *connections* (a device connected somewhere:
older connections of it elsewhere close), sent by :func:`announce_connection`. Hooks on a
database's session class see them as rows flush,
whichever service made them. On PostgreSQL they go out with ``NOTIFY`` in the same
transaction, so every process hears them at commit, never for a rollback, and each one's
:class:`~cloud.live.fanout.FanOutListener` hands them on. SQLite has one process: they are
handed on after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from cloud.live.revocations import device_subject, jti_subject, user_subject
from cloud.models import ApiToken, ChannelWrite, Device, DeviceCommand, RevokedToken, User

__all__ = [
    "CONNECTED_CHANNEL",
    "DEVICE_WORK_CHANNEL",
    "REVOKED_CHANNEL",
    "Notices",
    "announce_connection",
    "parse_connection",
    "track_notices",
]

REVOKED_CHANNEL = "revlink_revoked"
DEVICE_WORK_CHANNEL = "revlink_device_work"
CONNECTED_CHANNEL = "revlink_device_connected"
_PENDING = "revlink_notices"
# NOTIFY payloads must stay under 8000 bytes; names are sent in chunks of this many.
_CHUNK = 100


class Notices:
    """What one transaction has to announce."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.device_work: set[uuid.UUID] = set()

    def __bool__(self) -> bool:
        return bool(self.revoked or self.device_work)


def _changed(obj: Any, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _collect(session: Session, into: Notices) -> None:
    for obj in session.new:
        if isinstance(obj, RevokedToken):
            into.revoked.add(jti_subject(obj.jti))
        elif isinstance(obj, ChannelWrite | DeviceCommand):
            into.device_work.add(obj.device_id)
    for obj in session.dirty:
        if isinstance(obj, Device) and _changed(obj, "revoked_at"):
            into.revoked.add(device_subject(obj.id))
        elif isinstance(obj, User) and _changed(obj, "token_version", "is_active", "role"):
            into.revoked.add(user_subject(obj.id))
        elif isinstance(obj, ApiToken) and _changed(obj, "revoked_at", "expires_at", "role"):
            into.revoked.add(user_subject(obj.user_id))
    for obj in session.deleted:
        if isinstance(obj, User):
            into.revoked.add(user_subject(obj.id))
        elif isinstance(obj, Device):
            into.revoked.add(device_subject(obj.id))
        elif isinstance(obj, ApiToken):
            into.revoked.add(user_subject(obj.user_id))


def _notify(session: Session, channel: str, names: list[str]) -> None:
    for start in range(0, len(names), _CHUNK):
        payload = ",".join(names[start : start + _CHUNK])
        session.execute(select(func.pg_notify(channel, payload)))


def track_notices(
    session_class: type[Session],
    *,
    postgres: bool,
    revoked: Callable[[set[str]], object] | None = None,
    device_work: Callable[[set[uuid.UUID]], object] | None = None,
) -> None:
    """Hook ``session_class``: each commit announces what it changed (on SQLite through
    ``revoked`` and ``device_work``, called after the commit)."""

    @event.listens_for(session_class, "before_flush")
    def collect(session: Session, _context: object, _instances: object) -> None:
        # Before the flush: ``new``, ``dirty`` and ``deleted`` still say what is changing.
        _collect(session, session.info.setdefault(_PENDING, Notices()))

    @event.listens_for(session_class, "before_commit")
    def notify(session: Session) -> None:
        if not postgres:
            return
        session.flush()  # commit flushes after this hook: collect what it would write
        pending: Notices | None = session.info.pop(_PENDING, None)
        if not pending:
            return
        _notify(session, REVOKED_CHANNEL, sorted(pending.revoked))
        _notify(session, DEVICE_WORK_CHANNEL, sorted(str(d) for d in pending.device_work))

    @event.listens_for(session_class, "after_commit")
    def hand_on(session: Session) -> None:
        pending: Notices | None = session.info.pop(_PENDING, None)
        if pending and not postgres:
            if pending.revoked and revoked is not None:
                revoked(pending.revoked)
            if pending.device_work and device_work is not None:
                device_work(pending.device_work)

    @event.listens_for(session_class, "after_rollback")
    def forget(session: Session) -> None:
        session.info.pop(_PENDING, None)


async def announce_connection(session: AsyncSession, device_id: uuid.UUID, gen: int) -> None:
    """Tell every process, at commit, that connection ``gen`` is now the device's (PostgreSQL;
    SQLite's one process knows already)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CONNECTED_CHANNEL, f"{device_id}:{gen}")))


def parse_connection(payload: str) -> tuple[uuid.UUID, int] | None:
    device, _, gen = payload.partition(":")
    try:
        return uuid.UUID(device), int(gen)
    except ValueError:
        return None
