"""``/ws/datapoints/stream``: live ``datapoints_batch`` messages for dashboards.

Any signed-in user may watch. ``?device_id=`` and ``?sensor=`` (each repeatable) narrow the
stream to those devices' and sensors' points; without them every point is sent, as in
WebMACS. The hub throttles each sensor, so a socket here only forwards what it is given. A
client too slow to drain its queue is closed with 1013 so it reconnects and starts fresh,
instead of holding the other subscribers back or growing memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Coroutine
from typing import Any

import structlog
from fastapi import WebSocket, WebSocketDisconnect

from cloud.live.hub import Subscriber
from cloud.models import User
from cloud.ws.auth import POLICY_VIOLATION, accept_and_authenticate, cloud_state, token_lapsed

__all__ = [
    "CONNECTED",
    "PONG",
    "TOO_SLOW",
    "TRY_AGAIN_LATER",
    "InvalidFilterError",
    "parse_filter",
    "stream_door",
]

# Serialised as Starlette's send_json does, so these are WebMACS's exact bytes.
CONNECTED = '{"type":"connected","message":"Subscribed to live datapoint stream."}'
PONG = '{"type":"pong"}'
TRY_AGAIN_LATER = 1013
TOO_SLOW = "Too slow; reconnect"
CLOSE_GRACE_S = 10.0
_MAX_SHOWN = 60  # close reasons must fit in 123 bytes

log = structlog.get_logger(__name__)


class InvalidFilterError(ValueError):
    """A filter query parameter is not a UUID; the message is the close reason."""


def parse_filter(name: str, values: list[str]) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            shown = ascii(value)  # one byte per character: the reason stays under 123 bytes
            shown = shown if len(shown) <= _MAX_SHOWN else shown[: _MAX_SHOWN - 3] + "..."
            raise InvalidFilterError(f"Invalid {name} filter {shown}: not a UUID") from None
    return ids


async def stream_door(websocket: WebSocket) -> None:
    user = await accept_and_authenticate(websocket)
    if user is None:
        return
    params = websocket.query_params
    try:
        devices = parse_filter("device_id", params.getlist("device_id"))
        sensors = parse_filter("sensor", params.getlist("sensor"))
    except InvalidFilterError as exc:
        await websocket.close(code=POLICY_VIOLATION, reason=str(exc))
        return
    hub = cloud_state(websocket).live
    # Subscribe before "connected": a client that reacts to it must not miss the next point.
    subscriber = hub.subscribe(Subscriber(devices=devices or None, sensors=sensors or None))
    log.info("stream_connected", user=str(user.public_id), clients=len(hub))
    try:
        closing = await _serve(websocket, subscriber, user)
    finally:
        hub.unsubscribe(subscriber)
        log.info("stream_disconnected", user=str(user.public_id), clients=len(hub))
    if closing is not None:
        code, reason = closing
        log.info("stream_closed", user=str(user.public_id), code=code, reason=reason)
        # The close frame queues behind what the client has not read yet; a client that
        # reads nothing at all is not waited for beyond the grace time.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
            async with asyncio.timeout(CLOSE_GRACE_S):
                await websocket.close(code=code, reason=reason)


async def _serve(
    websocket: WebSocket, subscriber: Subscriber, user: User
) -> tuple[int, str] | None:
    """Forward and answer pings until the client goes away (None) or must be closed.

    The socket must be closed, with the returned code and reason, when its queue overflowed
    (1013) or its token stopped admitting it (1008).
    """
    send_lock = asyncio.Lock()  # the forwarder and the pong must not interleave their frames

    async def send(text: str) -> None:
        async with send_lock:
            await websocket.send_text(text)

    async def forward() -> None:
        while True:
            await send(await subscriber.queue.get())

    async def read() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if _is_ping(message.get("text") or message.get("bytes")):
                await send(PONG)

    try:
        await send(CONNECTED)
    except WebSocketDisconnect:
        return None
    jobs: list[Coroutine[Any, Any, object]] = [
        forward(),
        read(),
        subscriber.overflowed.wait(),
        token_lapsed(websocket, user),
    ]
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        error = None if task.cancelled() else task.exception()
        if error is not None and not isinstance(error, WebSocketDisconnect | OSError):
            log.error("stream_failed", error=repr(error))
    lapsed = tasks[3]
    if lapsed in done and not lapsed.cancelled() and lapsed.exception() is None:
        return POLICY_VIOLATION, str(lapsed.result())
    if tasks[2] in done:
        return TRY_AGAIN_LATER, TOO_SLOW
    return None


def _is_ping(raw: str | bytes | None) -> bool:
    """Only ``{"type":"ping"}`` gets an answer; anything else, even broken JSON, is ignored."""
    if not raw:
        return False
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(message, dict) and message.get("type") == "ping"
