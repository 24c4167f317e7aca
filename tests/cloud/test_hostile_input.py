"""Hostile input, generated from fixed seeds (tests/support/hostile.py): 100,000 frames through
the uplink protocol core and 100,000 messages through the WebMACS telemetry parser, then
samples of both through the real doors of a real cloud, whose sockets must stay usable and
whose database must hold only what was acknowledged as stored."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
import uuid

import asyncpg
import pytest
from websockets.asyncio.client import connect

from cloud.services.telemetry import TelemetryMessageError, parse_message
from cloud.uplink.protocol import MAX_SEQ, PersistBatch, SendFrame, UplinkProtocol
from revlink.uplink.v1 import uplink_pb2 as pb
from tests.rig.cloud import CloudServer
from tests.rig.postgres import PostgresDatabase, stored_values
from tests.rig.uplink import record, uplink_client
from tests.support.hostile import telemetry_texts, uplink_frames

CORE_INPUTS = 100_000
# Through the running doors: a few thousand in `make test`, 100,000 in `make fuzz`.
SOCKET_INPUTS = int(os.environ.get("REVLINK_FUZZ_SOCKET_INPUTS", "3000"))
PROBE_EVERY = 250
SOCKET_TIMEOUT = 120 + SOCKET_INPUTS // 50  # seconds, for pytest-timeout


def test_the_uplink_core_answers_every_hostile_frame_without_raising() -> None:
    protocol = None
    kinds: dict[str, int] = {}
    for n, data in enumerate(uplink_frames(seed=18, count=CORE_INPUTS)):
        if n % 500 == 0:  # a fresh connection now and then, opened as a device would
            protocol = UplinkProtocol(
                uuid.uuid4(), 0, max_batch_size=500, max_frame_bytes=64 * 1024
            )
            protocol.receive(pb.DeviceFrame(hello=pb.Hello()).SerializeToString())
        assert protocol is not None
        for event in protocol.receive(data):
            kinds[type(event).__name__] = kinds.get(type(event).__name__, 0) + 1
            if isinstance(event, SendFrame):
                assert pb.CloudFrame.FromString(event.frame.SerializeToString()) == event.frame
            if isinstance(event, PersistBatch):
                seqs = [r.seq for r in event.records]
                assert seqs == sorted(set(seqs))
                assert all(protocol.last_committed_seq < s <= MAX_SEQ for s in seqs)
                assert event.up_to_seq <= MAX_SEQ
                for r in event.records:
                    assert all(math.isfinite(v) for _, v in r.leaves)
                protocol.committed(event.up_to_seq, event.duplicates, event.rejected)
    assert n + 1 == CORE_INPUTS
    assert kinds["PersistBatch"] > 300, kinds  # valid records get through too
    assert kinds["SendFrame"] > CORE_INPUTS / 2, kinds


def test_the_telemetry_parser_refuses_or_splits_every_hostile_message() -> None:
    sensors = [str(uuid.uuid4()) for _ in range(3)]
    refusals: list[str] = []
    accepted = known = 0
    for text in telemetry_texts(seed=19, count=CORE_INPUTS, sensors=sensors):
        try:
            batch = parse_message(text)
        except TelemetryMessageError as exc:
            refusals.append(exc.message)
            continue
        assert batch.total == len(batch.accepted) + len(batch.refused) <= 500
        for item in batch.accepted:
            assert math.isfinite(item.value)
            # A well-formed id of no sensor passes here; the ingest refuses it by name.
            assert isinstance(item.sensor_public_id, uuid.UUID)
            known += str(item.sensor_public_id) in sensors
        assert all(r.reason for r in batch.refused)
        accepted += len(batch.accepted)
    assert len(refusals) > 1000
    assert all(refusals)  # each whole refusal says why
    assert known > 1000


async def _device_rows(dsn: str, device_id: uuid.UUID) -> tuple[int, list[int]]:
    connection = await asyncpg.connect(dsn)
    try:
        seq = await connection.fetchval(
            "SELECT last_committed_seq FROM devices WHERE id = $1", device_id
        )
        rows = await connection.fetch(
            "SELECT seq FROM channel_messages WHERE device_id = $1 ORDER BY seq", device_id
        )
    finally:
        await connection.close()
    return seq, [r["seq"] for r in rows]


@pytest.mark.timeout(SOCKET_TIMEOUT)
async def test_the_uplink_door_keeps_its_socket_through_hostile_frames(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    acked = 0
    probe_acks: asyncio.Queue[None] = asyncio.Queue()
    last_frame_at = time.monotonic()
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()

        async def drain() -> None:
            # Read while sending, as a device does: a client that stops reading stalls both
            # directions of its socket once the buffers fill.
            nonlocal acked, last_frame_at
            while True:
                frame = await link.receive()
                last_frame_at = time.monotonic()
                if frame.WhichOneof("frame") == "ack":
                    acked = max(acked, frame.ack.up_to_seq)
                    if _is_probe_ack(frame.ack):
                        probe_acks.put_nowait(None)

        reader = asyncio.create_task(drain())
        try:
            frames = list(uplink_frames(seed=20, count=SOCKET_INPUTS))
            for start in range(0, len(frames), PROBE_EVERY):
                for data in frames[start : start + PROBE_EVERY]:
                    await link.send(data)
                # A probe: a record already stored or new, either way acked on this socket.
                await link.send(pb.DeviceFrame(batch=pb.Batch(records=[record(1, message={})])))
                await asyncio.wait_for(probe_acks.get(), 30)
            while True:  # every answer in: nothing more for a second
                if time.monotonic() - last_frame_at > 1.0:
                    break
                await asyncio.sleep(0.1)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    committed, stored = await _device_rows(postgres_database.dsn, device_id)
    assert committed == acked  # the database moved exactly as far as the acks said
    assert stored == sorted(set(stored))
    assert all(0 < s <= committed for s in stored)
    assert "Traceback" not in cloud.log_path.read_text(errors="replace")


def _is_probe_ack(ack: pb.Ack) -> bool:
    # The probe is one record; its ack has it as a duplicate or as stored (up_to_seq == 1).
    return ack.duplicates >= 1 or ack.up_to_seq == 1


@pytest.mark.timeout(SOCKET_TIMEOUT)
async def test_the_telemetry_door_keeps_its_socket_through_hostile_messages(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    _, operator = cloud.user("operator")
    sensor = uuid.uuid4()
    connection = await asyncpg.connect(postgres_database.dsn)
    try:
        await connection.execute(
            "INSERT INTO sensors (public_id, name, unit, created_at) VALUES ($1, $2, '', now())",
            sensor,
            f"fuzz-{sensor.hex[:8]}",
        )
    finally:
        await connection.close()
    url = cloud.ws_url + f"/ws/controller/telemetry?token={operator}"
    replies = 0
    async with connect(url, max_size=None) as socket:

        async def drain() -> None:  # read while sending, or both directions stall
            nonlocal replies
            async for _ in socket:
                replies += 1

        reader = asyncio.create_task(drain())
        try:
            for text in telemetry_texts(seed=21, count=SOCKET_INPUTS, sensors=[str(sensor)]):
                await socket.send(text)
            marker = 123456.25
            await socket.send(
                json.dumps({"datapoints": [{"value": marker, "event_public_id": str(sensor)}]})
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                values = await stored_values(postgres_database.dsn, sensor)
                if values and values[-1] == marker:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the marker never arrived: the socket stopped storing")
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    values = await stored_values(postgres_database.dsn, sensor)
    assert all(math.isfinite(v) for v in values)
    assert replies > 0
    assert "Traceback" not in cloud.log_path.read_text(errors="replace")
