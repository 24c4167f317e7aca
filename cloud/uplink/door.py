"""``GET /ws/devices/uplink``: the device door, a thin I/O layer over :mod:`protocol`.

One task reads frames and feeds the protocol, executing its events in order (so acks follow
commits in seq order); a second task re-checks the device's token every few seconds and
closes the socket (1008) once it is revoked; a third, once the session is open, sends the
device its channel writes and commands (:mod:`outbox`). The registry keeps one socket per device.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from cloud.live.notices import announce_connection
from cloud.live.revocations import device_subject
from cloud.models import Device
from cloud.services import event_log
from cloud.services.channel_writes import mark_delivered
from cloud.services.commands import record_receipt
from cloud.services.devices import connection_gen, device_for_token, mark_seen, take_connection
from cloud.services.ingest import ConcurrentCommitError, SensorCache, UplinkBatch
from cloud.state import CloudState
from cloud.uplink.outbox import Outbox
from cloud.uplink.protocol import (
    Event,
    PersistBatch,
    ReceiptReceived,
    SendFrame,
    StartOutbox,
    UplinkProtocol,
    WriteAnswered,
    error_frame,
)
from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = ["router"]

log = structlog.get_logger(__name__)
router = APIRouter()

COMMIT_ATTEMPTS = 3


def _bearer(websocket: WebSocket) -> str | None:
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@router.websocket("/ws/devices/uplink")
async def uplink(websocket: WebSocket) -> None:
    state: CloudState = websocket.app.state.cloud
    token = _bearer(websocket)
    await websocket.accept()
    if token is None:
        await websocket.close(1008, "missing device token (Authorization: Bearer <token>)")
        return
    link = await _link_for(state, websocket, token)
    if link is None:
        await websocket.close(1008, "invalid or revoked device token")
        return
    await link.run()


async def _link_for(state: CloudState, websocket: WebSocket, token: str) -> DeviceLink | None:
    # A function of its own, so neither the session nor the loaded Device outlives the
    # lookup in the frame that waits on the socket for as long as it is open.
    async with state.db.sessions() as session:
        device = await device_for_token(session, token)
    return None if device is None else DeviceLink(state, websocket, device)


class DeviceLink:
    """One device's live connection."""

    def __init__(self, state: CloudState, websocket: WebSocket, device: Device) -> None:
        self.state = state
        self.websocket = websocket
        self.device_id = device.id
        self.device_name = device.name
        self.protocol = UplinkProtocol(
            device.id,
            device.last_committed_seq,
            max_batch_size=state.settings.uplink_max_batch,
            max_frame_bytes=state.settings.max_frame_bytes,
            limits=state.device_limits,
        )
        self.sensors = SensorCache()
        self.log = log.bind(device_id=str(device.id), device=device.name)
        self.outbox = Outbox(state, device.id, websocket.send_bytes, self.log, device.name)
        self._pump: asyncio.Task[None] | None = None
        self.connection_gen = 0

    async def run(self) -> None:
        await self._take_connection()
        await self.state.devices.register(self.device_id, self.websocket, self.connection_gen)
        await self.state.presence.connected(self.device_id, self.connection_gen)
        self.log.info("uplink.connected")
        await self._mark_seen()
        self.state.event_log.note(event_log.device_online(self.device_id, self.device_name))
        watcher = asyncio.create_task(self._watch_revocation())
        try:
            await self._read()
        except WebSocketDisconnect:
            pass
        finally:
            for task in (watcher, self._pump):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                        await task
            current = await self.state.devices.unregister(self.device_id, self.websocket)
            await self.state.presence.disconnected(self.device_id, self.connection_gen)
            self.log.info("uplink.disconnected", replaced=not current)
            await self._mark_seen()
            # Replaced here (another link is registered) or elsewhere (a newer connection
            # number): the device did not go offline. Revoked or gone: it did.
            if not self.state.devices.online(self.device_id) and not (
                await self._replaced_elsewhere()
            ):
                self.state.event_log.note(
                    event_log.device_offline(self.device_id, self.device_name)
                )

    async def _replaced_elsewhere(self) -> bool:
        """A newer connection of the device opened (on any replica) since this one did."""
        async with self.state.db.sessions() as session:
            return await connection_gen(session, self.device_id) > self.connection_gen

    async def _mark_seen(self) -> None:
        # "Last seen" covers a device that connects and sends nothing; a database hiccup
        # here must not cost the connection, so it is only logged.
        try:
            async with self.state.db.transaction() as session:
                await mark_seen(session, self.device_id, datetime.now(UTC))
        except SQLAlchemyError:
            self.log.warning("uplink.mark_seen_failed", exc_info=True)

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                await self._send(
                    error_frame(pb.ERROR_CODE_MALFORMED_FRAME, "frames must be binary protobuf")
                )
                continue
            for event in self.protocol.receive(data):
                await self._handle(event)

    async def _handle(self, event: Event) -> None:
        if isinstance(event, SendFrame):
            await self._send(event)
        elif isinstance(event, PersistBatch):
            for reply in await self._persist(event):
                await self._handle(reply)
        elif isinstance(event, ReceiptReceived):
            await self._receipt(event.receipt)
        elif isinstance(event, StartOutbox):
            self._pump = asyncio.create_task(
                self._pump_outbox(event.after_write_seq, event.after_command_seq)
            )
        elif isinstance(event, WriteAnswered):
            await self._write_answered(event)

    async def _pump_outbox(self, after_write_seq: int, after_command_seq: int) -> None:
        try:
            await self.outbox.run(after_write_seq, after_command_seq)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the socket is gone; the reader ends the link
        except SQLAlchemyError:
            # Writes wait in the database; a reconnect starts a fresh pump.
            self.log.exception("uplink.outbox_failed")
            await self.websocket.close(1011, "storage failed; reconnect to get writes and commands")

    async def _receipt(self, receipt: pb.CommandReceipt) -> None:
        self.log.info(
            "uplink.command_receipt",
            command_id=receipt.command_id,
            delivered=receipt.delivered,
            detail=receipt.detail,
        )
        try:
            async with self.state.db.transaction() as session:
                outcome = await record_receipt(session, self.device_id, receipt, datetime.now(UTC))
        except SQLAlchemyError:
            # Only the state shown lags; the device has the command either way.
            self.log.warning("uplink.receipt_not_stored", exc_info=True)
            return
        if outcome is not None:  # None: answered already (a receipt sent again)
            entry = event_log.command_answered(self.device_id, outcome, self.device_name)
            self.state.event_log.note(entry)

    async def _write_answered(self, event: WriteAnswered) -> None:
        if event.refused:
            self.log.warning("uplink.write_refused", write_seq=event.seq, reason=event.refused)
        try:
            async with self.state.db.transaction() as session:
                await mark_delivered(
                    session, self.device_id, event.seq, refused=event.refused, now=datetime.now(UTC)
                )
        except SQLAlchemyError:
            # Only the state shown lags: the device's record of the write marks it applied.
            self.log.warning("uplink.write_ack_not_stored", write_seq=event.seq, exc_info=True)

    async def _send(self, event: SendFrame) -> None:
        frame = event.frame
        if frame.WhichOneof("frame") == "ack":
            # Every batch ends in exactly one Ack, written or not: count its drops here.
            self.state.metrics.duplicates_dropped.inc(frame.ack.duplicates)
            self.state.metrics.rejected_records.labels(door="uplink").inc(frame.ack.rejected)
        await self.websocket.send_bytes(frame.SerializeToString())

    async def _persist(self, batch: PersistBatch) -> list[Event]:
        metrics = self.state.metrics
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                result = await self.state.ingest.commit(
                    UplinkBatch(self.device_id, batch.records, batch.up_to_seq, self.sensors)
                )
                break
            except ConcurrentCommitError:
                if attempt == COMMIT_ATTEMPTS:
                    raise
            except SQLAlchemyError:
                # The batch is not acked, so the device keeps it and sends it again; closing
                # makes it reconnect and resend rather than wait for an ack that won't come.
                self.log.exception("uplink.commit_failed", up_to_seq=batch.up_to_seq)
                await self.websocket.close(1011, "storage failed; resend after reconnecting")
                raise WebSocketDisconnect(1011) from None
        metrics.ingested_records.labels(door="uplink").inc(result.stored)
        metrics.ingested_batches.labels(door="uplink").inc()
        self.state.live.publish(result.points)
        return self.protocol.committed(
            result.committed_seq, batch.duplicates + result.late_duplicates, batch.rejected
        )

    async def _take_connection(self) -> None:
        async with self.state.db.transaction() as session:
            self.connection_gen = await take_connection(session, self.device_id)
            await announce_connection(session, self.device_id, self.connection_gen)

    async def _revoked(self) -> bool:
        async with self.state.db.sessions() as session:
            revoked = await session.scalar(
                select(Device.revoked_at).where(Device.id == self.device_id)
            )
        return revoked is not None

    async def _watch_revocation(self) -> None:
        """Close the socket once the device is revoked: told by a revocation notification
        (an idle device costs no query), re-checked rarely as a safety net."""
        settings, board = self.state.settings, self.state.revocations
        with board.watch({device_subject(self.device_id)}) as changed:
            while True:
                await board.next_check(
                    changed,
                    poll_s=settings.revocation_check_seconds,
                    recheck_s=settings.notified_recheck_seconds,
                )
                if await self._revoked():
                    break
        self.log.info("uplink.revoked")
        await self.state.devices.disconnect(self.device_id, 1008, "device token revoked")
