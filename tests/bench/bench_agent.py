"""Device agent → cloud: publish-to-commit latency and sustained throughput.

Run: ``make bench`` or ``python -m tests.bench.bench_agent``.

A real agent process (durable queue, synchronous=FULL) streams to a real cloud process on a
fresh PostgreSQL database. Latency: records published at a steady rate, each timed from the
Publish call to the cloud's commit (its ``received_at``, stamped inside the committing
transaction). Throughput: 8 concurrent publishers as fast as they can, timed until the cloud
has acked everything. Beside them, the cloud's own ingest figure from the same run
(``bench_ingest``'s uplink client driving the door directly, no agent in between).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import grpc

from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from tests.bench.bench_ingest import uplink_rate
from tests.bench.support import fresh_database
from tests.rig.agent import agent_status, start_agent
from tests.rig.bridges import free_port
from tests.rig.cloud import start_cloud
from tests.rig.platform import wait_for


async def latency(target: str, dsn: str, device: str, count: int, rate: float) -> list[float]:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.DeviceAgentServiceStub(channel)
        sent: dict[int, int] = {}
        for i in range(count):
            started = time.time_ns()
            reply = await stub.Publish(
                pb.PublishRequest(channel="lat", message_json=json.dumps({"i": i}))
            )
            sent[reply.seq] = started
            await asyncio.sleep(max(0.0, 1 / rate - (time.time_ns() - started) / 1e9))
    last = max(sent)
    await asyncio.to_thread(wait_for, lambda: agent_status(target).last_acked_seq >= last, 60)
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT seq, received_at FROM channel_messages WHERE device_id=$1 AND channel='lat'",
            device,
        )
    finally:
        await connection.close()
    return sorted((r["received_at"].timestamp() * 1e9 - sent[r["seq"]]) / 1e6 for r in rows)


async def throughput(target: str, total: int, publishers: int = 8) -> float:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.DeviceAgentServiceStub(channel)
        start_seq = agent_status(target).last_enqueued_seq
        began = time.perf_counter()

        async def publish(n: int) -> None:
            for i in range(n):
                await stub.Publish(
                    pb.PublishRequest(channel="tput", message_json=json.dumps({"i": i, "v": 1.5}))
                )

        await asyncio.gather(*(publish(total // publishers) for _ in range(publishers)))
        goal = start_seq + (total // publishers) * publishers
        await asyncio.to_thread(wait_for, lambda: agent_status(target).last_acked_seq >= goal, 120)
        return (goal - start_seq) / (time.perf_counter() - began)


def resume_delays(url: str, scratch: Path, token: str, outages: int) -> list[float]:
    """Seconds from the cloud answering again to the agent's first ack, per outage."""
    port = free_port()
    delays = []
    with start_agent(scratch / "resume-agent", scratch, f"http://127.0.0.1:{port}", token) as agent:
        for i in range(outages):
            with start_cloud(url, scratch, port=port):
                back = time.monotonic()
                wait_for(lambda: agent_status(agent.target).cloud_connected, 30)
                delays.append(time.monotonic() - back)
                publish_one(agent.target, i)
            time.sleep(3)  # the cloud is down; the agent backs off meanwhile
    return sorted(delays)


def publish_one(target: str, i: int) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.DeviceAgentServiceStub(channel)
        seq = stub.Publish(pb.PublishRequest(channel="resume", message_json=f'{{"i": {i}}}')).seq
    wait_for(lambda: agent_status(target).last_acked_seq >= seq, 30)


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-records", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--throughput-records", type=int, default=10_000)
    parser.add_argument("--outages", type=int, default=10)
    args = parser.parse_args()
    async with fresh_database() as database:
        url, dsn = database.url, database.dsn
        with tempfile.TemporaryDirectory() as scratch, start_cloud(url, Path(scratch)) as cloud:
            device, token = await asyncio.to_thread(cloud.device)
            with start_agent(
                Path(scratch) / "agent", Path(scratch), cloud.base_url, token
            ) as agent:
                await asyncio.to_thread(
                    wait_for, lambda: agent_status(agent.target).cloud_connected, 30
                )
                lat = await latency(agent.target, dsn, str(device), args.latency_records, args.rate)
                print(
                    f"publish → committed in cloud, {len(lat)} records at {args.rate:.0f}/s: "
                    f"p50 {statistics.median(lat):.1f} ms  p99 {percentile(lat, 0.99):.1f} ms"
                    f"  max {lat[-1]:.1f} ms"
                )
                rate = await throughput(agent.target, args.throughput_records)
            admin_token = await asyncio.to_thread(cloud.admin_token)
            door = await uplink_rate(
                cloud.base_url, cloud.ws_url, admin_token, 1, args.throughput_records
            )
            print(f"one agent, 8 publishers, sustained: {rate:10,.0f} records/s (publish → acked)")
            print(f"cloud door alone, 1 connection:     {door:10,.0f} records/s (same run)")
            print(f"agent / door: {rate / door:.2f}")
            _, resume_token = await asyncio.to_thread(cloud.device)
        delays = await asyncio.to_thread(
            resume_delays, url, Path(tempfile.mkdtemp()), resume_token, args.outages
        )
        print(
            f"resume after the cloud returns ({len(delays)} outages of 3 s): "
            f"median {statistics.median(delays):.2f} s, max {delays[-1]:.2f} s"
        )


if __name__ == "__main__":
    asyncio.run(main())
