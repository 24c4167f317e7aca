"""``/ws/controller/telemetry``: WebMACS controllers push datapoint batches here.

One message is one batch, stored in one transaction (which it may share with batches of other
connections: cloud.services.telemetry_queue); the next messages are read and checked while
it is stored. A bad message or item never ends the
connection, because a controller that reconnects on every bad reading would lose the good ones
in between. Replies are WebMACS's, and only where it sends one: a message that is not a batch,
a batch over 500, or a batch without one well-formed item gets ``{"type":"error",
"message":...}``; anything else gets no reply, however many of its items were dropped (unknown
or device-owned sensors, non-finite values). WebMACS's controllers never read replies, so a
reply per batch would fill their socket's receive queue until keepalive fails and the
connection drops. Dropped items are counted (``revlink_rejected_records_total``), logged
with their reasons and summed into the event log (:mod:`cloud.services.telemetry_drops`);
``POST /api/v1/datapoints/batch`` names them in its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import structlog
from fastapi import WebSocket, WebSocketDisconnect
from starlette.types import Message

from cloud.models import Role, User
from cloud.services import telemetry
from cloud.services.telemetry_drops import DropTally
from cloud.services.telemetry_store import store_batch
from cloud.state import CloudState
from cloud.ws.auth import (
    POLICY_VIOLATION,
    accept_and_authenticate,
    cloud_state,
    require_role,
    token_lapsed,
)

__all__ = ["DOOR", "read_message", "store_message", "telemetry_door"]

DOOR = "telemetry"
# Batches of one connection being stored at once; more would only queue at the group commit.
STORING_PER_CONNECTION = 8

log = structlog.get_logger(__name__)


async def telemetry_door(websocket: WebSocket) -> None:
    user = await accept_and_authenticate(websocket)
    if user is None or not await require_role(websocket, user, Role.OPERATOR):
        return
    log.info("telemetry_connected", user=str(user.public_id))
    receiving = asyncio.create_task(_receive(websocket, cloud_state(websocket), user))
    lapsed = asyncio.create_task(token_lapsed(websocket, user, Role.OPERATOR))
    try:
        await asyncio.wait((receiving, lapsed), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # A batch not yet stored is dropped: a session that lost its token stores nothing more
        # (one already in a committing group is stored; it arrived before the token lapsed).
        for task in (receiving, lapsed):
            task.cancel()
        await asyncio.gather(receiving, lapsed, return_exceptions=True)
    for task in (receiving, lapsed):
        failed = None if task.cancelled() else task.exception()
        if failed is not None and not isinstance(failed, OSError):
            log.error("telemetry_failed", user=str(user.public_id), error=repr(failed))
    if not lapsed.cancelled() and lapsed.exception() is None:
        reason = lapsed.result()
        log.info("telemetry_token_lapsed", user=str(user.public_id), reason=reason)
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await websocket.close(code=POLICY_VIOLATION, reason=reason)
    log.info("telemetry_disconnected", user=str(user.public_id))


async def _receive(websocket: WebSocket, state: CloudState, user: User) -> None:
    """Store batch after batch until the client goes away, reading the next messages while
    earlier ones are stored: up to :data:`STORING_PER_CONNECTION` at once, stored in the
    order they came (the door's group commit is first in, first out)."""
    drops = DropTally(user.email, state.settings.telemetry_drop_log_seconds)
    storing: deque[asyncio.Task[None]] = deque()
    sender = object()  # this connection, to the group commit
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            read = read_message(state, _payload(message))
            if isinstance(read, telemetry.ParsedBatch):
                if len(storing) == STORING_PER_CONNECTION:
                    await storing.popleft()
                storing.append(
                    asyncio.create_task(_store_and_answer(websocket, state, read, drops, sender))
                )
            elif read is not None:
                while storing:  # answers keep the order of the messages
                    await storing.popleft()
                await _answer(websocket, read)
    except WebSocketDisconnect:
        return
    except asyncio.CancelledError:
        for task in storing:  # the token lapsed, or the server stops: store nothing more
            task.cancel()
        storing.clear()
        raise
    finally:
        for task in storing:  # what arrived before the client left is still stored
            await task
        if (entry := drops.flush()) is not None:
            state.event_log.note(entry)


async def _store_and_answer(
    websocket: WebSocket,
    state: CloudState,
    batch: telemetry.ParsedBatch,
    drops: DropTally,
    sender: object,
) -> None:
    try:
        reply = await store_message(state, batch, drops, sender)
    except Exception as exc:  # one bad batch must not end the connection
        log.exception("telemetry_batch_failed")
        reply = f"Batch not stored: internal error ({type(exc).__name__})"
    if reply is not None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await _answer(websocket, reply)


async def _answer(websocket: WebSocket, reply: str) -> None:
    await websocket.send_json({"type": "error", "message": reply})


def _payload(message: Message) -> str | bytes:
    text: str | None = message.get("text")
    if text is not None:
        return text
    data: bytes = message.get("bytes") or b""
    return data


def read_message(state: CloudState, payload: str | bytes) -> telemetry.ParsedBatch | str | None:
    """One message as a batch to store, or the error message to send, or None (an empty
    batch, which WebMACS skips without a word)."""
    size = len(payload.encode()) if isinstance(payload, str) else len(payload)
    if size > state.settings.max_frame_bytes:
        return f"Frame too large ({size} bytes), max {state.settings.max_frame_bytes} bytes"
    try:
        batch = telemetry.parse_message(payload)
    except telemetry.TelemetryMessageError as exc:
        return exc.message
    return batch if batch.total else None


async def store_message(
    state: CloudState,
    batch: telemetry.ParsedBatch,
    drops: DropTally | None = None,
    sender: object = None,
) -> str | None:
    """Store and publish one batch (after ``sender``'s earlier ones); return the error
    message to send, if any. ``drops`` sums what was dropped for the event log."""
    result = await store_batch(state, batch, DOOR, sender)
    if drops is not None and (entry := drops.add(result.total, result.refused)) is not None:
        state.event_log.note(entry)
    return None if batch.accepted else telemetry.NO_VALID_DATAPOINTS
