"""What tests of ``/ws/datapoints/stream`` (and the other token-checked sockets) share."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosedError

__all__ = ["CONNECTED", "close_frame", "notifications"]

CONNECTED = '{"type":"connected","message":"Subscribed to live datapoint stream."}'


async def close_frame(ws: ClientConnection) -> tuple[int, str] | None:
    """Read whatever the server sends until it closes; return its close code and reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 30)
    except ConnectionClosedError as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else None


async def notifications(stream: ClientConnection, quiet: float) -> list[dict[str, Any]]:
    """Every rule notification the stream brings until it has been quiet for ``quiet`` s."""
    found: list[dict[str, Any]] = []
    while True:
        try:
            message = json.loads(await asyncio.wait_for(stream.recv(), quiet))
        except TimeoutError:
            return found
        if message.get("type") == "notification":
            found.append(message)
