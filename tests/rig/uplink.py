"""A minimal device-side uplink client for testing the cloud door frame by frame."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = ["UplinkClient", "record", "uplink_client"]


def record(
    seq: int,
    channel: str = "tank",
    message: dict[str, Any] | str | None = None,
    aggregate: dict[str, Any] | str | None = None,
    ts: datetime | None = None,
    replace: bool = False,
) -> pb.Record:
    rec = pb.Record(seq=seq, channel=channel, replace_aggregate=replace)
    if message is not None:
        rec.message_json = message if isinstance(message, str) else json.dumps(message)
    if aggregate is not None:
        rec.aggregate_json = aggregate if isinstance(aggregate, str) else json.dumps(aggregate)
    rec.source_time.FromDatetime(ts or datetime.now(UTC))
    return rec


class UplinkClient:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    async def send(self, frame: pb.DeviceFrame | bytes) -> None:
        await self.socket.send(frame if isinstance(frame, bytes) else frame.SerializeToString())

    async def receive(self) -> pb.CloudFrame:
        data = await self.socket.recv()
        assert isinstance(data, bytes), f"expected a binary frame, got {data!r}"
        return pb.CloudFrame.FromString(data)

    async def hello(self, last_enqueued_seq: int = 0) -> pb.Welcome:
        await self.send(
            pb.DeviceFrame(
                hello=pb.Hello(
                    agent_version="test", max_batch_size=500, last_enqueued_seq=last_enqueued_seq
                )
            )
        )
        frame = await self.receive()
        assert frame.WhichOneof("frame") == "welcome", frame
        return frame.welcome

    async def batch(self, *records: pb.Record) -> tuple[pb.Ack | None, list[pb.Error]]:
        """Send one batch; collect Error frames until its Ack (or a frame-level Error)."""
        await self.send(pb.DeviceFrame(batch=pb.Batch(records=records)))
        return await self.until_ack()

    async def until_ack(self) -> tuple[pb.Ack | None, list[pb.Error]]:
        errors: list[pb.Error] = []
        while True:
            frame = await self.receive()
            kind = frame.WhichOneof("frame")
            if kind == "ack":
                return frame.ack, errors
            assert kind == "error", frame
            errors.append(frame.error)
            if frame.error.seq == 0:  # a frame-level error ends the exchange without an ack
                return None, errors


@asynccontextmanager
async def uplink_client(ws_url: str, token: str | None) -> AsyncIterator[UplinkClient]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with connect(
        f"{ws_url}/ws/devices/uplink", additional_headers=headers, max_size=None
    ) as socket:
        yield UplinkClient(socket)
