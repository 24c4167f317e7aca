"""Side effects vs ingest: the uplink door with 100 rules and 5 webhooks active vs none.

Run: ``make bench`` or ``python -m tests.bench.bench_side_effects [--records N]``.

One real ``revlink cloud serve`` on a fresh PostgreSQL database, one run. Each phase sends
the same load (batches of 500 records, 4 in flight, on 4 device connections; each record one
message with two numeric fields) from fresh devices:

1. a warm-up phase, not counted;
2. **none**: no rule and no webhook exists;
3. **with**: 100 enabled rules on the phase's sensors (cooldown 0, edge-triggered, so every
   sawtooth cycle of ``level`` fires each level rule once: half log, half webhook actions)
   and 5 webhooks subscribed to ``sensor.threshold_exceeded`` and ``sensor.reading`` on a
   loopback receiver (via the allowlist): two answer 200, two answer 500 (retried, then
   dead-lettered), one answers only after 1.5 s, past the cloud's 1 s timeout.

It prints records/s and batch ack latency (send → ack, p50/p99) for both phases and their
ratio, then how long after the last ack the rule evaluator had worked off its inbox, how
often rules fired and what became of the webhook deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.bench.bench_ingest import BATCH, IN_FLIGHT, frames_for
from tests.bench.support import fresh_database
from tests.rig.cloud import start_cloud
from tests.rig.uplink import record, uplink_client
from tests.rig.webhooks import Receiver

DEVICES = 4
RULES = 100
ENV = {
    "REVLINK_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    "REVLINK_WEBHOOK_TIMEOUT_SECONDS": "1",
    "REVLINK_WEBHOOK_BACKOFF_SECONDS": "0.5",
}
TARGETS = {"/ok-1": {}, "/ok-2": {}, "/fail-1": {"status": 500}, "/fail-2": {"status": 500}}
SLOW = "/slow"


async def timed_drive(ws_url: str, token: str, frames: list[bytes]) -> list[float]:
    """Send ``frames`` with up to IN_FLIGHT unacknowledged; each batch's send → ack time."""
    latencies: list[float] = []
    async with uplink_client(ws_url, token) as link:
        await link.hello(last_enqueued_seq=1)  # the warm-up record
        window = asyncio.Semaphore(IN_FLIGHT)
        sent: list[float] = []

        async def read_acks() -> None:
            while len(latencies) < len(frames):
                frame = await link.receive()
                if frame.WhichOneof("frame") != "ack":
                    continue  # nothing in this bench sends commands; be robust anyway
                latencies.append(time.perf_counter() - sent[len(latencies)])
                window.release()

        reader = asyncio.create_task(read_acks())
        for frame in frames:
            await window.acquire()
            sent.append(time.perf_counter())
            await link.send(frame)
        await reader
    return latencies


async def fresh_devices(client: httpx.AsyncClient, ws_url: str) -> list[tuple[str, str]]:
    """DEVICES new devices, each with its two sensors registered by one warm-up record."""
    made = []
    for _ in range(DEVICES):
        reply = await client.post("/api/v1/devices", json={"name": f"fx-{secrets.token_hex(4)}"})
        body = reply.json()
        async with uplink_client(ws_url, body["token"]) as link:
            await link.hello()
            ack, errors = await link.batch(record(1, message={"level": 0.0, "temp": 20.0}))
            assert not errors, errors
            assert ack is not None
        made.append((body["id"], body["token"]))
    return made


async def phase(ws_url: str, tokens: list[str], records: int) -> tuple[float, list[float]]:
    per_device = records // len(tokens)
    start = datetime.now(UTC)
    work = [frames_for(per_device, start, first_seq=2) for _ in tokens]
    began = time.perf_counter()
    latencies = await asyncio.gather(
        *(timed_drive(ws_url, t, f) for t, f in zip(tokens, work, strict=True))
    )
    rate = per_device * len(tokens) / (time.perf_counter() - began)
    return rate, [x for batch in latencies for x in batch]


async def add_side_effects(
    client: httpx.AsyncClient, devices: list[tuple[str, str]], receiver: Receiver
) -> None:
    sensors: list[dict[str, Any]] = []
    for device_id, _ in devices:
        reply = await client.get(f"/api/v1/devices/{device_id}/sensors")
        sensors += [s for s in reply.json() if s["key"] == "tank.level"]
    for i in range(RULES):
        rule = {
            "name": f"fx-{i}-{secrets.token_hex(3)}",
            "event_public_id": sensors[i % len(sensors)]["public_id"],
            "operator": "gt",
            "threshold": (i * 7) % 100,
            "action_type": "log" if i % 2 else "webhook",
            "cooldown_seconds": 0,
        }
        reply = await client.post("/api/v1/rules", json=rule)
        assert reply.status_code == 201, reply.text
    for path in [*TARGETS, SLOW]:
        hook = {
            "url": receiver.url(path),
            "secret": secrets.token_hex(8),
            "events": ["sensor.threshold_exceeded", "sensor.reading"],
        }
        reply = await client.post("/api/v1/webhooks", json=hook)
        assert reply.status_code == 201, reply.text


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


async def inbox_drained(dsn: str, timeout: float) -> float:
    began = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    try:
        while await connection.fetchval("SELECT count(*) FROM rule_inbox"):
            if time.perf_counter() - began > timeout:
                raise TimeoutError("the rule inbox was not worked off")
            await asyncio.sleep(0.05)
        return time.perf_counter() - began
    finally:
        await connection.close()


async def outcomes(dsn: str) -> tuple[int, dict[str, int]]:
    connection = await asyncpg.connect(dsn)
    try:
        fired = await connection.fetchval(
            "SELECT count(*) FROM log_entries WHERE kind='rule.fired'"
        )
        rows = await connection.fetch(
            "SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status"
        )
        return fired, {row["status"]: row["n"] for row in rows}
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=40_000)
    args = parser.parse_args()
    receiver = Receiver()
    for path, behaviour in TARGETS.items():
        receiver.set(path, **behaviour)
    receiver.set(SLOW, delay=1.5)
    try:
        async with fresh_database() as database:
            with (
                tempfile.TemporaryDirectory() as scratch,
                start_cloud(database.url, Path(scratch), env=ENV) as cloud,
            ):
                admin = await asyncio.to_thread(cloud.admin_token)
                headers = {"Authorization": f"Bearer {admin}"}
                async with httpx.AsyncClient(base_url=cloud.base_url, headers=headers) as c:
                    print(
                        f"side effects vs ingest: {args.records} records per phase, batches of "
                        f"{BATCH}, {IN_FLIGHT} in flight on each of {DEVICES} connections"
                    )
                    warm = await fresh_devices(c, cloud.ws_url)
                    await phase(cloud.ws_url, [t for _, t in warm], args.records // 4)
                    plain = await fresh_devices(c, cloud.ws_url)
                    base_rate, base_acks = await phase(
                        cloud.ws_url, [t for _, t in plain], args.records
                    )
                    busy = await fresh_devices(c, cloud.ws_url)
                    await add_side_effects(c, busy, receiver)
                    await asyncio.sleep(3)  # past REVLINK_RULE_REFRESH_SECONDS: all watched
                    rate, acks = await phase(cloud.ws_url, [t for _, t in busy], args.records)
                drained = await inbox_drained(database.dsn, 600)
                fired, deliveries = await outcomes(database.dsn)
    finally:
        receiver.close()
    p50, p99 = percentile(base_acks, 50), percentile(base_acks, 99)
    q50, q99 = percentile(acks, 50), percentile(acks, 99)
    for label, value, a, b in (
        ("none", base_rate, p50, p99),
        (f"{RULES} rules + 5 webhooks", rate, q50, q99),
    ):
        print(f"{label:24} {value:9,.0f} records/s, ack p50 {a:6.1f} ms, p99 {b:6.1f} ms")
    print(
        f"with / none:           {rate / base_rate:9.2f} (rate), "
        f"{q50 / p50:.2f} (ack p50), {q99 / p99:.2f} (ack p99)"
    )
    print(f"rule inbox worked off {drained:.1f} s after the last ack; rules fired {fired} times")
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(deliveries.items()))
    print(f"webhook deliveries by status: {statuses}")


if __name__ == "__main__":
    asyncio.run(main())
