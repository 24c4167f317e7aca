"""Cloud ingest speed: datapoints/s through both doors into PostgreSQL, against raw COPY.

Run: ``make bench`` or ``python -m tests.bench.bench_ingest [--records N]``.

The baseline, in the same run and database: asyncpg ``copy_records_to_table`` of 500-row
batches (one transaction each) into a narrow ``(sensor, ts, value)`` table, the least a
datapoint can cost. Then a real ``revlink cloud serve`` process takes:

- on ``/ws/devices/uplink``, batches of 500 records, each a channel message with
  ``VALUES`` numeric fields (one message row and ``VALUES`` datapoints), from 1 and from 8
  device connections, each keeping up to 4 batches in flight (acked when committed);
- on ``/ws/controller/telemetry`` (WebMACS's door), messages of 500 datapoints from 4
  connections, timed until the last is in the database (the door sends no acks).

Every rate is counted in datapoints and printed as a ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from websockets.asyncio.client import connect

from revlink.uplink.v1 import uplink_pb2 as pb
from tests.bench.support import fresh_database
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.uplink import uplink_client

BATCH = 500
IN_FLIGHT = 4
VALUES = 10  # numeric fields per uplink record, as the fleet benchmark's devices send
TELEMETRY_CONNECTIONS = 4


def frames_for(records: int, start: datetime, first_seq: int = 1) -> list[bytes]:
    frames = []
    last = first_seq + records
    for first in range(first_seq, last, BATCH):
        batch = pb.Batch()
        for seq in range(first, min(first + BATCH, last)):
            rec = batch.records.add(seq=seq, channel="tank")
            rec.message_json = json.dumps({f"v{i}": seq % 1000 / 10 + i for i in range(VALUES)})
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


async def narrow_copy_rate(dsn: str, rows: int) -> float:
    """Rows/s of raw COPY, 500 per transaction, into a bare ``(sensor, ts, value)`` table."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "CREATE TABLE bench_narrow (sensor integer, ts timestamptz, value double precision)"
        )
        now = datetime.now(UTC)
        points = [(n % 10, now + timedelta(microseconds=n), n / 10) for n in range(rows)]
        began = time.perf_counter()
        for first in range(0, rows, BATCH):
            async with connection.transaction():
                await connection.copy_records_to_table(
                    "bench_narrow",
                    records=points[first : first + BATCH],
                    columns=("sensor", "ts", "value"),
                )
        return rows / (time.perf_counter() - began)
    finally:
        await connection.execute("DROP TABLE bench_narrow")
        await connection.close()


async def telemetry_rate(cloud: CloudServer, dsn: str, operator: str, datapoints: int) -> float:
    """Datapoints/s through ``/ws/controller/telemetry`` until all of them are stored.

    The door sends no acks, so each connection ends with one datapoint of a sensor of its
    own: a connection's messages are stored in order, so once every such mark is in the
    database, so is everything before it. Polling for the marks costs the database an
    index probe, where counting the rows each time would cost it more than the door does.
    """
    with cloud.http(operator) as client:

        def new_sensor(label: str) -> str:
            reply = client.post(
                "/api/v1/sensors", json={"name": f"bench-{label}-{secrets.token_hex(3)}"}
            )
            return str(reply.json()["public_id"])

        sensors = [new_sensor(str(n)) for n in range(10)]
        marks = [new_sensor(f"mark{n}") for n in range(TELEMETRY_CONNECTIONS)]
    per_connection = datapoints // TELEMETRY_CONNECTIONS // BATCH
    message = json.dumps(
        {
            "datapoints": [
                {"value": n / 10, "event_public_id": sensors[n % len(sensors)]}
                for n in range(BATCH)
            ]
        }
    )
    total = per_connection * BATCH * TELEMETRY_CONNECTIONS
    url = f"{cloud.ws_url}/ws/controller/telemetry?token={operator}"

    async def push(mark: str) -> None:
        async with connect(url, max_size=None) as socket:
            for _ in range(per_connection):
                await socket.send(message)
            await socket.send(json.dumps({"datapoints": [{"value": 1, "event_public_id": mark}]}))
            await stored.wait()

    watcher = await asyncpg.connect(dsn)
    stored = asyncio.Event()
    try:
        ids = "SELECT array_agg(id) FROM sensors WHERE public_id = ANY($1::uuid[])"
        mark_ids = await watcher.fetchval(ids, marks)
        # By sensor id, so that the plan is a probe of the (sensor_id, ts) index.
        marked = "SELECT count(*) FROM datapoints WHERE sensor_id = ANY($1::int[])"
        began = time.perf_counter()
        pushers = [asyncio.create_task(push(mark)) for mark in marks]
        while True:  # the door sends no acks: the database says when all are in
            if await watcher.fetchval(marked, mark_ids) == len(marks):
                break
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - began
        stored.set()
        await asyncio.gather(*pushers)
        found = await watcher.fetchval(marked, await watcher.fetchval(ids, sensors))
        assert found == total, f"{found} of {total} datapoints stored"
        return total / elapsed
    finally:
        await watcher.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000, help="uplink records per run")
    args = parser.parse_args()
    datapoints = args.records * VALUES
    async with fresh_database() as database:
        url, dsn = database.url, database.dsn
        # No per-device record limit: one device here sends more than a real one may.
        no_limit = {"REVLINK_UPLINK_RECORDS_PER_SECOND": "0"}
        with (
            tempfile.TemporaryDirectory() as scratch,
            start_cloud(url, Path(scratch), env=no_limit) as cloud,
        ):
            admin = await asyncio.to_thread(cloud.admin_token)
            print(f"cloud ingest benchmark: {datapoints:,} datapoints per run, batches of {BATCH}")
            baseline = await narrow_copy_rate(dsn, datapoints)
            print(
                f"raw asyncpg COPY into (sensor, ts, value), {BATCH} rows per transaction: "
                f"{baseline:10,.0f} datapoints/s = 1.00"
            )
            for devices in (1, 8):
                rate = await uplink_rate(cloud.base_url, cloud.ws_url, admin, devices, args.records)
                print(
                    f"uplink, {devices} device connection(s), {IN_FLIGHT} batches in flight, "
                    f"records of {VALUES} values: {rate:10,.0f} records/s = "
                    f"{rate * VALUES:10,.0f} datapoints/s = {rate * VALUES / baseline:5.2f}"
                )
            operator = await asyncio.to_thread(lambda: cloud.user("operator")[1])
            rate = await telemetry_rate(cloud, dsn, operator, datapoints)
            print(
                f"WebMACS telemetry door, {TELEMETRY_CONNECTIONS} connections, {BATCH} per "
                f"message: {rate:10,.0f} datapoints/s = {rate / baseline:5.2f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
