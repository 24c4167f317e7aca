"""What tests of ``/ws/datapoints/stream`` (and the other token-checked sockets) share."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError

from tests.rig.cloud import CloudServer

__all__ = [
    "CONNECTED",
    "close_frame",
    "insert_sensors",
    "notifications",
    "one",
    "push_url",
    "stream_url",
    "watch",
]

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


async def insert_sensors(dsn: str, count: int) -> list[uuid.UUID]:
    """Device-less sensors (fed through the telemetry door); no REST route is needed."""
    ids = [uuid.uuid4() for _ in range(count)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO sensors (public_id, name, unit, created_at) VALUES ($1, $2, '', now())",
            [(i, f"stream-{i.hex[:8]}") for i in ids],
        )
    finally:
        await conn.close()
    return ids


def stream_url(cloud: CloudServer, token: str | None, query: str = "") -> str:
    params = "&".join(p for p in (f"token={token}" if token else "", query) if p)
    return f"{cloud.ws_url}/ws/datapoints/stream" + (f"?{params}" if params else "")


def push_url(cloud: CloudServer, token: str) -> str:
    return f"{cloud.ws_url}/ws/controller/telemetry?token={token}"


def one(sensor: uuid.UUID, value: float) -> str:
    return json.dumps({"datapoints": [{"value": value, "event_public_id": str(sensor)}]})


async def watch(
    cloud: CloudServer, token: str, query: str = "", **options: Any
) -> ClientConnection:
    ws = await connect(stream_url(cloud, token, query), **options)
    assert await asyncio.wait_for(ws.recv(), 10) == CONNECTED
    return ws
