"""Live messages for every replica's stream clients, through PostgreSQL ``NOTIFY``.

A rule's notification is made by whichever replica's evaluator holds the lease, but the
people watching are connected to any replica. So on PostgreSQL the evaluator does not
announce it to its own hub: :func:`publish` queues a ``NOTIFY`` inside the pass's
transaction (sent at commit, never for a pass that rolled back), and every cloud process runs
a :class:`FanOutListener` that hands what arrives to its :class:`~cloud.live.hub.LiveHub`.
SQLite has one process, which announces directly.

The same connection also LISTENs for row-change notices (:mod:`cloud.live.notices`):
revocations go to this process's revocation board, device work to its device links. While
it is not listening the board says so, and sockets and links poll instead.

A listener that loses its connection reconnects with backoff; messages sent meanwhile do
not reach that replica's clients (they are also in the event log).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import asyncpg
import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.core.tasks import cancel_and_wait
from cloud.live.hub import LiveHub
from cloud.live.notices import (
    CONNECTED_CHANNEL,
    DEVICE_WORK_CHANNEL,
    REVOKED_CHANNEL,
    parse_connection,
)
from cloud.live.revocations import RevocationBoard
from cloud.uplink.registry import DeviceConnections
from cloud.uplink.signals import DeviceSignals

__all__ = ["CHANNEL", "MAX_PAYLOAD_BYTES", "FanOutListener", "asyncpg_dsn", "publish"]

log = structlog.get_logger(__name__)

CHANNEL = "revlink_live"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD_BYTES = 7900
RECONNECT_MAX_SECONDS = 30.0


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The plain ``postgresql://`` DSN of a ``postgresql+asyncpg://`` URL."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def publish(session: AsyncSession, message: dict[str, Any]) -> None:
    """Send ``message`` to every replica's stream clients once the session commits."""
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        log.warning("live.fanout_too_large", type=message.get("type"), size=len(text))
        return
    await session.execute(select(func.pg_notify(CHANNEL, text)))


class FanOutListener:
    """LISTENs on :data:`CHANNEL` and announces every message to this process's hub."""

    def __init__(
        self,
        dsn: str,
        live: LiveHub,
        revocations: RevocationBoard | None = None,
        device_work: DeviceSignals | None = None,
        devices: DeviceConnections | None = None,
    ) -> None:
        self.dsn = dsn
        self.live = live
        self.revocations = revocations
        self.device_work = device_work
        self.devices = devices
        self._closing: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # set while listening (tests wait for it)

    def _received(self, _: object, __: int, ___: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("live.fanout_malformed", payload=payload[:80])
            return
        if isinstance(message, dict):
            self.live.announce(message)

    def _revoked(self, _: object, __: int, ___: str, payload: str) -> None:
        if self.revocations is not None:
            self.revocations.announce(name for name in payload.split(",") if name)

    def _work(self, _: object, __: int, ___: str, payload: str) -> None:
        if self.device_work is None:
            return
        for text in payload.split(","):
            try:
                self.device_work.notify(uuid.UUID(text))
            except ValueError:
                log.warning("live.device_work_malformed", payload=text[:80])

    def _connected(self, _: object, __: int, ___: str, payload: str) -> None:
        found = parse_connection(payload)
        if self.devices is None or found is None:
            return
        task = asyncio.create_task(self.devices.superseded(*found))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _listening(self, yes: bool) -> None:
        if yes:
            self.ready.set()
        else:
            self.ready.clear()
        if self.revocations is not None:
            self.revocations.listening = yes
        if not yes and self.device_work is not None:
            self.device_work.notify_all()  # links waiting for a notice must poll now

    async def _listen_forever(self) -> None:
        delay = 1.0
        while True:
            try:
                connection = await asyncpg.connect(self.dsn)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _, ended=lost: ended.set())
                try:
                    await connection.add_listener(CHANNEL, self._received)
                    await connection.add_listener(REVOKED_CHANNEL, self._revoked)
                    await connection.add_listener(DEVICE_WORK_CHANNEL, self._work)
                    await connection.add_listener(CONNECTED_CHANNEL, self._connected)
                    self._listening(True)
                    delay = 1.0
                    await lost.wait()
                finally:
                    self._listening(False)
                    with contextlib.suppress(Exception):
                        await connection.close()
            except (OSError, asyncpg.PostgresError):
                log.warning("live.fanout_listen_failed", retry_in=delay, exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="live-fanout")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.ready.wait()

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
