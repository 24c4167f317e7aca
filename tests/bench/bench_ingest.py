"""Cloud ingest speed: records/s through ``/ws/devices/uplink`` into PostgreSQL.

Run: ``make bench`` or ``python -m tests.bench.bench_ingest [--records N]``.

A real ``revlink cloud serve`` process on a fresh PostgreSQL database takes batches of 500
records (each a channel message with two numeric fields, so one message row and two
datapoints) from 1 and from 8 device connections, each keeping up to 4 batches in flight.
The baseline, in the same run, writes the same rows with asyncpg ``copy_records_to_table``
straight into the same tables: the ratio says what validation, the protocol, the
transaction per batch and the acks cost on top of raw COPY.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from revlink.uplink.v1 import uplink_pb2 as pb
from tests.bench.support import fresh_database
from tests.rig.cloud import start_cloud
from tests.rig.uplink import uplink_client

BATCH = 500
IN_FLIGHT = 4


def frames_for(records: int, start: datetime, first_seq: int = 1) -> list[bytes]:
    frames = []
    last = first_seq + records
    for first in range(first_seq, last, BATCH):
        batch = pb.Batch()
        for seq in range(first, min(first + BATCH, last)):
            rec = batch.records.add(seq=seq, channel="tank")
            rec.message_json = json.dumps({"level": seq % 1000 / 10, "temp": 20 + seq % 7})
            rec.source_time.FromDatetime(start + timedelta(milliseconds=seq))
        frames.append(pb.DeviceFrame(batch=batch).SerializeToString())
    return frames


async def drive(ws_url: str, token: str, frames: list[bytes]) -> None:
    async with uplink_client(ws_url, token) as link:
        await link.hello()
        window = asyncio.Semaphore(IN_FLIGHT)
        done = asyncio.Event()
        acked = 0

        async def read_acks() -> None:
            nonlocal acked
            while acked < len(frames):
                frame = await link.receive()
                assert frame.WhichOneof("frame") == "ack", frame
                acked += 1
                window.release()
            done.set()

        reader = asyncio.create_task(read_acks())
        for frame in frames:
            await window.acquire()
            await link.send(frame)
        await done.wait()
        await reader


async def uplink_rate(base_url: str, ws_url: str, admin: str, devices: int, records: int) -> float:
    tokens = []
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {admin}"}
    ) as c:
        for _ in range(devices):
            reply = await c.post("/api/v1/devices", json={"name": f"bench-{secrets.token_hex(4)}"})
            tokens.append(reply.json()["token"])
    per_device = records // devices
    start = datetime.now(UTC)
    work = [frames_for(per_device, start) for _ in tokens]
    began = time.perf_counter()
    await asyncio.gather(*(drive(ws_url, t, f) for t, f in zip(tokens, work, strict=True)))
    return per_device * devices / (time.perf_counter() - began)


async def copy_rate(dsn: str, records: int) -> float:
    """The same rows (one message, two datapoints per record) by raw COPY."""
    connection = await asyncpg.connect(dsn)
    try:
        device = uuid.uuid4()
        await connection.execute(
            "INSERT INTO devices (id, name, token_hash, created_at, last_committed_seq)"
            " VALUES ($1, $2, $3, now(), 0)",
            device,
            f"copy-{device}",
            secrets.token_hex(32),
        )
        sensors = [
            await connection.fetchval(
                "INSERT INTO sensors (public_id, device_id, key, name, unit, created_at)"
                " VALUES ($1, $2, $3, $3, '', now()) RETURNING id",
                uuid.uuid4(),
                device,
                key,
            )
            for key in ("tank.level", "tank.temp")
        ]
        now = datetime.now(UTC)
        messages = []
        points = []
        for seq in range(1, records + 1):
            ts = now + timedelta(milliseconds=seq)
            level, temp = seq % 1000 / 10, 20 + seq % 7
            messages.append(
                (device, "tank", seq, ts, now, json.dumps({"level": level, "temp": temp}))
            )
            points.append((sensors[0], ts, now, float(level), None))
            points.append((sensors[1], ts, now, float(temp), None))
        began = time.perf_counter()
        for first in range(0, records, BATCH):
            async with connection.transaction():
                await connection.copy_records_to_table(
                    "channel_messages",
                    records=messages[first : first + BATCH],
                    columns=("device_id", "channel", "seq", "ts", "received_at", "payload"),
                )
                await connection.copy_records_to_table(
                    "datapoints",
                    records=points[2 * first : 2 * (first + BATCH)],
                    columns=("sensor_id", "ts", "received_at", "value", "experiment_id"),
                )
        return records / (time.perf_counter() - began)
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=40_000)
    args = parser.parse_args()
    async with fresh_database() as database:
        url, dsn = database.url, database.dsn
        with tempfile.TemporaryDirectory() as scratch, start_cloud(url, Path(scratch)) as cloud:
            admin = await asyncio.to_thread(cloud.admin_token)
            print(
                f"cloud ingest benchmark: {args.records} records per run, batches of {BATCH}, "
                f"{IN_FLIGHT} in flight per connection; each record = 1 message + 2 datapoints"
            )
            baseline = await copy_rate(dsn, args.records)
            print(
                f"raw asyncpg COPY, same rows, {BATCH} per transaction: {baseline:10,.0f} records/s"
            )
            for devices in (1, 8):
                rate = await uplink_rate(cloud.base_url, cloud.ws_url, admin, devices, args.records)
                print(
                    f"uplink, {devices} device connection(s): {rate:10,.0f} records/s"
                    f"  = {rate / baseline:5.2f} of raw COPY"
                )


if __name__ == "__main__":
    asyncio.run(main())
