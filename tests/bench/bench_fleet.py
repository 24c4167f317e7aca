"""Fleet load: many devices, each sending a record a second, against two cloud replicas.

Run: ``make bench`` or ``python -m tests.bench.bench_fleet [--devices N] [--seconds S]``
(or ``BENCH_FLEET_DEVICES`` / ``BENCH_FLEET_SECONDS``; defaults 1,000 devices for 60 s).

Two real ``revlink cloud serve`` processes on two loopback ports share one fresh PostgreSQL
database and the Redis on 127.0.0.1:6379 (a prefix of their own). The devices are lightweight
uplink clients, a raw WebSocket each speaking the protobuf frames (Hello, then one Batch of one
record a second, a channel message with 10 numeric fields, so 10 datapoints), half on each
replica, started at evenly spread phases. They all run in one separate process on one asyncio
loop (uvloop when installed): on a 2-core machine that process competes with the replicas and
PostgreSQL, and its CPU is printed too.

Printed: records/s and values/s stored over the sending window, every record and value
counted in the database at the end against what was sent (nothing lost, nothing twice), Ack
latency p50/p99 (send → Ack for that seq), CPU of each replica and in total per 10k values/s,
CPU of the PostgreSQL backends serving the run's database, RSS per connected device, and what
ThingsBoard reports for a comparable load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from revlink.uplink.v1 import uplink_pb2 as pb
from tests.bench.bench_idle_devices import add_devices
from tests.bench.support import fresh_database
from tests.rig.cloud import CloudServer, start_cloud

__all__ = ["main"]

REDIS_URL = "redis://127.0.0.1:6379/0"
VALUES_PER_RECORD = 10
CONNECTS_AT_ONCE = 50  # handshakes in flight: token checks are the replicas' work
DRAIN_S = 30.0  # after the last send, how long acks may take to arrive
SETTLE_S = 5.0
# ThingsBoard's own figure for a comparable load (../shared/research/peers.md).
THINGSBOARD = (
    "ThingsBoard reports 1,111 msg/s = 3,333 datapoints/s at 20 % CPU of a c5.xlarge "
    "(4 vCPU, 8 GB; PostgreSQL, 100k devices, 24 h), i.e. ~0.8 vCPU, ~2.4 vCPU per 10k "
    "values/s (https://thingsboard.io/docs/pe/reference/architecture/performance/)"
)


# -- the load generator (its own process) ---------------------------------------------------


def record_frame(seq: int, phase: int) -> bytes:
    batch = pb.Batch()
    rec = batch.records.add(seq=seq, channel="fleet")
    values = {f"v{i}": (seq * 7 + phase + i) % 1000 / 10 for i in range(VALUES_PER_RECORD)}
    rec.message_json = json.dumps(values)
    rec.source_time.GetCurrentTime()
    return pb.DeviceFrame(batch=batch).SerializeToString()


async def receive(socket: ClientConnection) -> bytes:
    data = await socket.recv()
    if not isinstance(data, bytes):
        raise RuntimeError(f"expected a binary frame, got {data!r}")
    return data


async def open_link(url: str, token: str, gate: asyncio.Semaphore) -> ClientConnection:
    async with gate:
        socket = await connect(
            f"{url}/ws/devices/uplink",
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=None,
            compression=None,
            # The replicas ping every socket (and a client answers at once); client pings on
            # top would only add frames, and a late pong would close a socket being measured.
            ping_interval=None,
        )
        hello = pb.Hello(agent_version="bench-fleet", max_batch_size=1)
        await socket.send(pb.DeviceFrame(hello=hello).SerializeToString())
        welcome = pb.CloudFrame.FromString(await receive(socket))
        if welcome.WhichOneof("frame") != "welcome":
            raise RuntimeError(f"expected Welcome, got {welcome}")
        return socket


async def device(
    socket: ClientConnection, phase: float, start: float, seconds: float, latencies: list[float]
) -> tuple[int, int, int, int]:
    """Send one record a second from ``start + phase``; (sent, acked, errors, closed)."""
    sent_at: dict[int, float] = {}
    count = int(seconds)
    sent = acked = errors = 0
    loop = asyncio.get_running_loop()

    async def read() -> None:
        nonlocal acked, errors
        while acked < count:
            try:
                data = await receive(socket)
            except ConnectionClosed:
                return
            frame = pb.CloudFrame.FromString(data)
            kind = frame.WhichOneof("frame")
            if kind == "ack":
                now = loop.time()
                for seq in range(acked + 1, frame.ack.up_to_seq + 1):
                    latencies.append(now - sent_at.pop(seq))
                acked = max(acked, frame.ack.up_to_seq)
            elif kind == "error":
                errors += 1

    reader = asyncio.create_task(read())
    for seq in range(1, count + 1):
        await asyncio.sleep(max(0.0, start + phase + seq - 1 - loop.time()))
        sent_at[seq] = loop.time()
        try:
            await socket.send(record_frame(seq, int(phase * 1000)))
        except ConnectionClosed:
            break
        sent = seq
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader, DRAIN_S)
    return sent, acked, errors, int(socket.close_code is not None)


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    links: list[tuple[str, str]] = spec["links"]
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
    began = time.perf_counter()
    sockets = await asyncio.gather(*(open_link(url, token, gate) for url, token in links))
    connected_s = time.perf_counter() - began
    print(json.dumps({"connected": len(sockets), "seconds": connected_s}), flush=True)
    sys.stdin.readline()  # the parent's go: it has measured the replicas with idle sockets
    loop = asyncio.get_running_loop()
    start = loop.time() + 1.0
    latencies: list[float] = []
    cpu = psutil.Process().cpu_times()
    outcomes = await asyncio.gather(
        *(
            device(socket, i / len(sockets), start, spec["seconds"], latencies)
            for i, socket in enumerate(sockets)
        )
    )
    after = psutil.Process().cpu_times()
    await asyncio.gather(*(socket.close() for socket in sockets))
    return {
        "sent": sum(o[0] for o in outcomes),
        "acked": sum(o[1] for o in outcomes),
        "errors": sum(o[2] for o in outcomes),
        "closed": sum(o[3] for o in outcomes),
        "latencies": sorted(latencies),
        "cpu_s": after.user + after.system - cpu.user - cpu.system,
    }


def generator_main() -> None:
    spec = json.loads(sys.stdin.readline())
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(generate(spec))
    else:
        result = uvloop.run(generate(spec))
    print(json.dumps(result), flush=True)


# -- the measuring side ----------------------------------------------------------------------


@dataclass
class CpuSample:
    replicas: list[float]
    postgres: dict[int, float]


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def postgres_backends(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database`` (by pid)."""
    found: dict[int, float] = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            title = " ".join(process.info["cmdline"] or [])
            if process.info["name"] == "postgres" and f" {database} " in f" {title} ":
                found[process.pid] = cpu_seconds(process)
    return found


def sample(replicas: list[CloudServer], database: str) -> CpuSample:
    return CpuSample(
        [cpu_seconds(psutil.Process(r.process.pid)) for r in replicas],
        postgres_backends(database),
    )


def complaints_in(log: str) -> tuple[int, dict[str, str]]:
    """How many warnings and errors a replica logged; by event, how often and the last line
    of the first one's exception (JSON log lines)."""
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
                event = str(entry.get("event")).strip()[:80]
                counts[event] = counts.get(event, 0) + 1
                trace = str(entry.get("exception", "")).strip().splitlines()
                first.setdefault(event, trace[-1][:160] if trace else "")
    events = {event: f"{n}x {first[event]}".strip() for event, n in counts.items()}
    return sum(counts.values()), events


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def stored(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM channel_messages) AS records,"
            " (SELECT count(DISTINCT (device_id, seq)) FROM channel_messages) AS distinct_records,"
            " (SELECT count(*) FROM datapoints) AS values,"
            " (SELECT count(DISTINCT (sensor_id, ts)) FROM datapoints) AS distinct_values,"
            " (SELECT sum(last_committed_seq) FROM devices) AS committed,"
            " (SELECT extract(epoch FROM max(received_at) - min(received_at)) * 1000"
            "  FROM channel_messages) AS span_ms"
        )
    finally:
        await connection.close()
    assert row is not None
    return {key: int(row[key] or 0) for key in row.keys()}  # noqa: SIM118


@contextlib.contextmanager
def generator(spec: dict[str, Any]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.bench_fleet", "--generator"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(spec) + "\n")
    process.stdin.flush()
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def reply(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the load generator ended (exit {process.wait()})")
    answer: dict[str, Any] = json.loads(line)
    return answer


async def run(devices: int, seconds: int) -> None:
    async with fresh_database() as database:
        name = database.dsn.rpartition("/")[2]
        tokens = [token for _, token in await add_devices(database.dsn, devices)]
        env = {"REVLINK_REDIS_URL": REDIS_URL, "REVLINK_REDIS_PREFIX": f"bench-{uuid.uuid4().hex}"}
        with (
            tempfile.TemporaryDirectory() as scratch,
            start_cloud(database.url, Path(scratch) / "a", env=env) as a,
            start_cloud(database.url, Path(scratch) / "b", env=env) as b,
        ):
            replicas = [a, b]
            await asyncio.sleep(SETTLE_S)
            rss_before = [psutil.Process(r.process.pid).memory_info().rss for r in replicas]
            links = [(replicas[i % 2].ws_url, token) for i, token in enumerate(tokens)]
            with generator({"links": links, "seconds": seconds}) as load:
                connected = await asyncio.to_thread(reply, load)
                await asyncio.sleep(SETTLE_S)
                rss_after = [psutil.Process(r.process.pid).memory_info().rss for r in replicas]
                assert load.stdin is not None
                load.stdin.write("go\n")
                load.stdin.flush()
                # The generator starts sending one second after the go.
                await asyncio.sleep(1.0)
                before, began = sample(replicas, name), time.monotonic()
                await asyncio.sleep(seconds)
                after, window = sample(replicas, name), time.monotonic() - began
                result = await asyncio.to_thread(reply, load)
            complaints = [complaints_in(r.output()) for r in replicas]
            counts = await stored(database.dsn)
    report(devices, seconds, connected, result, counts, before, after, window)
    for name_, (count, events) in zip("ab", complaints, strict=True):
        print(f"replica {name_} logged {count} warnings/errors" + (f": {events}" if events else ""))
    print(
        "per connected device (hello, then silent), RSS: "
        + ", ".join(
            f"replica {'ab'[i]} {(rss_after[i] - rss_before[i]) / (devices / 2) / 1024:.1f} KiB"
            for i in range(2)
        )
    )


def report(
    devices: int,
    seconds: int,
    connected: dict[str, Any],
    result: dict[str, Any],
    counts: dict[str, int],
    before: CpuSample,
    after: CpuSample,
    window: float,
) -> None:
    sent = result["sent"]
    values = counts["values"]
    print(
        f"fleet: {devices} devices ({connected['connected']} connected in "
        f"{connected['seconds']:.1f} s), half on each of 2 replicas, 1 record/s each with "
        f"{VALUES_PER_RECORD} values, {seconds} s; the devices run in one separate process "
        f"(one asyncio loop) on the same {psutil.cpu_count()} cores as the replicas and PostgreSQL"
    )
    # Stored once each, every acknowledged record among them; a record sent on a socket that
    # closed before its Ack may or may not be stored (a device would send it again).
    ok = (
        counts["records"] == counts["distinct_records"] == counts["committed"]
        and result["acked"] <= counts["records"] <= sent
        and values == counts["distinct_values"] == counts["records"] * VALUES_PER_RECORD
    )
    print(
        f"sent {sent:,} records, acked {result['acked']:,}, errors {result['errors']}, "
        f"sockets closed by the cloud {result['closed']}; stored "
        f"{counts['records']:,} records ({counts['distinct_records']:,} distinct, committed seqs "
        f"{counts['committed']:,}) and {values:,} values ({counts['distinct_values']:,} "
        f"distinct): {'every acked record stored, nothing twice' if ok else 'MISMATCH'}"
    )
    print(
        f"stored {counts['records'] / window:,.0f} records/s, {values / window:,.0f} values/s "
        f"(over the {window:.1f} s sending window; first to last stored: "
        f"{counts['span_ms'] / 1000:.2f} s)"
    )
    latencies = result["latencies"]
    if latencies:
        print(
            f"ack latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 "
            f"{percentile(latencies, 0.99) * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms "
            f"(mean {statistics.fmean(latencies) * 1000:.1f} ms, {len(latencies):,} acks)"
        )
    per_10k = values / window / 10_000
    replica_cores = [(b - a) / window for a, b in zip(before.replicas, after.replicas, strict=True)]
    pg_s = sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in after.postgres.items())
    total = sum(replica_cores)
    print(
        "cloud CPU (cores) per 10k values/s: "
        + ", ".join(f"replica {'ab'[i]} {c / per_10k:.2f}" for i, c in enumerate(replica_cores))
        + f", total {total / per_10k:.2f} (total {100 * total:.0f} % of a core)"
    )
    print(
        f"PostgreSQL backends of the run's database: {100 * pg_s / window:.0f} % of a core, "
        f"{pg_s / window / per_10k:.2f} cores per 10k values/s; cloud + PostgreSQL "
        f"{(total + pg_s / window) / per_10k:.2f}; the load generator "
        f"{100 * result['cpu_s'] / window:.0f} % of a core"
    )
    print(f"for comparison: {THINGSBOARD}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--devices", type=int, default=int(os.environ.get("BENCH_FLEET_DEVICES", "1000"))
    )
    parser.add_argument(
        "--seconds", type=int, default=int(os.environ.get("BENCH_FLEET_SECONDS", "60"))
    )
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generator:
        generator_main()
        return
    if args.devices < 2 or args.seconds < 1:
        parser.error("--devices must be at least 2 and --seconds at least 1")
    asyncio.run(run(args.devices, args.seconds))


if __name__ == "__main__":
    main()
