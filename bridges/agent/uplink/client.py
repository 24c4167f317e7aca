"""The uplink loop: connect to the cloud door, run a session, reconnect with backoff.

Thin I/O around :class:`~bridges.agent.uplink.session.UplinkSession`: a reader task feeds
received frames to the session and carries out its events; a sender task ships batches from
the durable queue whenever the session's window allows and new records wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from bridges.agent.core import DeviceAgent
from bridges.agent.uplink.backoff import Backoff, CloseKind, classify_close
from bridges.agent.uplink.session import (
    Acked,
    CloudError,
    CommandArrived,
    Event,
    Outgoing,
    Renumber,
    SessionProtocolError,
    UplinkSession,
    Welcomed,
    WriteArrived,
)
from revlink import __version__

__all__ = ["UplinkClient"]

log = structlog.get_logger(__name__)

SYNCED_MARKER = "uplink-synced"


class UplinkClient:
    def __init__(
        self,
        agent: DeviceAgent,
        url: str,
        token: str,
        data_dir: Path,
        *,
        max_batch_size: int,
        backoff: Backoff | None = None,
    ) -> None:
        self.agent = agent
        self.url = url
        self.token = token
        self.max_batch_size = max_batch_size
        self.backoff = backoff or Backoff()
        self.marker = data_dir / SYNCED_MARKER
        agent.uplink.enabled = True
        agent.uplink.cloud_url = url

    async def run(self) -> None:
        """Forever: connect, serve the session, and wait before the next attempt."""
        while True:
            kind = CloseKind.TRANSIENT
            try:
                async with connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=10,
                    ping_interval=20,
                    ping_timeout=20,
                    max_size=None,
                ) as socket:
                    await self._serve(socket)
            except ConnectionClosed as exc:
                received = exc.rcvd
                code, reason = (received.code, received.reason) if received else (None, "")
                kind = classify_close(code, reason)
                self._lost(f"closed by the cloud: {code} {reason}".strip())
            except (OSError, TimeoutError, InvalidStatus, SessionProtocolError) as exc:
                self._lost(f"{type(exc).__name__}: {exc}")
            except InvalidURI as exc:
                self._lost(f"bad cloud URL: {exc}")
                kind = CloseKind.REFUSED
            delay = self.backoff.next_delay(kind)
            log.info("uplink.retry", delay_s=round(delay, 2), reason=kind.value)
            await asyncio.sleep(delay)

    def _lost(self, why: str) -> None:
        if self.agent.uplink.connected:
            log.warning("uplink.disconnected", reason=why)
        self.agent.uplink.connected = False
        self.agent.uplink.last_error = why

    async def _serve(self, socket: ClientConnection) -> None:
        session = UplinkSession(agent_version=__version__, max_batch_size=self.max_batch_size)
        stats = await asyncio.to_thread(self.agent.queue.stats)
        hello = session.start(
            stats.last_enqueued_seq,
            synced=self.marker.exists(),
            last_applied_write_seq=stats.last_applied_write_seq,
            last_command_seq=stats.last_command_seq,
        )
        await socket.send(hello.data)
        sender = asyncio.create_task(self._send_loop(socket, session))
        try:
            async for data in socket:
                if not isinstance(data, bytes):
                    raise SessionProtocolError("text frame from the cloud")
                for event in session.receive(data):
                    await self._handle(event, socket, session)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        # The iterator ends quietly on a normal close; surface it like any other close.
        raise socket.close_exc

    async def _handle(self, event: Event, socket: ClientConnection, session: UplinkSession) -> None:
        queue = self.agent.queue
        if isinstance(event, Renumber):
            offset = await asyncio.to_thread(queue.renumber_after, event.floor_seq)
            session.renumbered(event.floor_seq)
            log.warning("uplink.renumbered", floor_seq=event.floor_seq, offset=offset)
        elif isinstance(event, Welcomed):
            if not self.marker.exists():
                self.marker.write_text(event.device_id)
            self.agent.uplink.connected = True
            self.agent.uplink.device_id = event.device_id
            self.agent.uplink.last_error = ""
            self.backoff.reset()
            log.info("uplink.connected", last_committed_seq=event.last_committed_seq)
            self.agent.queue_changed.set()
        elif isinstance(event, Acked):
            await asyncio.to_thread(queue.ack, event.up_to_seq)
            if event.rejected:
                log.warning("uplink.rejected_records", count=event.rejected)
            self.agent.queue_changed.set()
        elif isinstance(event, CommandArrived):
            command = event.command
            outcome = await self.agent.deliver_command(
                command.command_id,
                command.channel,
                command.payload_json,
                command.expire_time.ToNanoseconds() if command.HasField("expire_time") else 0,
                command.seq,
            )
            receipt = session.receipt(
                command.command_id, outcome.delivered, outcome.detail, expired=outcome.expired
            )
            await socket.send(receipt.data)
        elif isinstance(event, WriteArrived):
            write = event.write
            applied = await self.agent.apply_cloud_write(
                write.seq, write.channel, write.patch_json, replace=write.replace
            )
            if applied.refused:
                log.warning("uplink.write_refused", write_seq=write.seq, reason=applied.refused)
            await socket.send(session.write_ack(write.seq, refused=applied.refused).data)
        elif isinstance(event, CloudError):
            log.warning("uplink.cloud_error", code=event.code, seq=event.seq, error=event.message)
        elif isinstance(event, Outgoing):
            await socket.send(event.data)

    async def _send_loop(self, socket: ClientConnection, session: UplinkSession) -> None:
        queue = self.agent.queue
        changed = self.agent.queue_changed
        while True:
            await changed.wait()
            changed.clear()
            while session.can_send:
                records = await asyncio.to_thread(
                    queue.pending, session.sent_up_to, session.max_batch_size
                )
                outgoing = session.batch(records)
                if outgoing is None:
                    break
                await socket.send(outgoing.data)
