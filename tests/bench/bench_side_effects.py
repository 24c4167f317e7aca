"""Side effects vs ingest: the uplink door with 100 rules and 5 webhooks active vs none.

Run: ``make bench`` or ``python -m tests.bench.bench_side_effects [--records N]``.

One real ``revlink cloud serve`` on a fresh PostgreSQL database, one run, one set of 4
device connections (batches of 500 records, 4 in flight on each; each record one message
with two numeric fields, ``level`` a sawtooth 0..99.9 and ``temp``). After a warm-up, four
phases send the same load: **none**, **with**, **none**, **with**, so both kinds see the same
devices, sensors and a database of about the same size (phases run later are slower on a
growing database; alternating cancels that out of the ratio).

- **with**: 100 enabled rules on the ``level`` sensors (``gt`` thresholds across the range,
  cooldown 0, so each fires once per sawtooth cycle: half log, half webhook actions) and 5
  webhooks subscribed to ``sensor.threshold_exceeded`` and ``sensor.reading`` on a loopback
  receiver (via the allowlist): two answer 200, two answer 500 (retried, then dead-lettered),
  one answers after 1.5 s, past the cloud's 1 s timeout.
- **none**: the same rules and webhooks, disabled (so not watched and not delivered to).

It prints records/s and batch ack latency (send → ack, p50/p99) of each kind (the mean of
its two phases) and their ratio, how long after the last ack the rule evaluator had worked
off its inbox, how often rules fired and what became of the webhook deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from tests.bench.bench_ingest import BATCH, IN_FLIGHT, frames_for
from tests.bench.support import fresh_database
from tests.rig.cloud import start_cloud, start_worker
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


async def timed_drive(
    ws_url: str, token: str, frames: list[bytes], sent_before: int
) -> list[float]:
    """Send ``frames`` with up to IN_FLIGHT unacknowledged; each batch's send → ack time."""
    latencies: list[float] = []
    async with uplink_client(ws_url, token) as link:
        await link.hello(last_enqueued_seq=sent_before)
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


async def phase(
    ws_url: str, tokens: list[str], records: int, sent_before: int
) -> tuple[float, list[float]]:
    """``records`` more records over the devices' connections, after ``sent_before`` each."""
    per_device = records // len(tokens)
    start = datetime.now(UTC)
    work = [frames_for(per_device, start, first_seq=sent_before + 1) for _ in tokens]
    began = time.perf_counter()
    latencies = await asyncio.gather(
        *(timed_drive(ws_url, t, f, sent_before) for t, f in zip(tokens, work, strict=True))
    )
    rate = per_device * len(tokens) / (time.perf_counter() - began)
    return rate, [x for batch in latencies for x in batch]


async def add_side_effects(
    client: httpx.AsyncClient,
    devices: list[tuple[str, str]],
    receiver: Receiver,
    rules: int,
    webhooks: int,
) -> list[str]:
    """Create them; the paths of each (to switch them on and off)."""
    made: list[str] = []
    sensors: list[dict[str, Any]] = []
    for device_id, _ in devices:
        reply = await client.get(f"/api/v1/devices/{device_id}/sensors")
        sensors += [s for s in reply.json() if s["key"] == "tank.level"]
    for i in range(rules):
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
        made.append(f"/api/v1/rules/{reply.json()['rule']['public_id']}")
    for path in [*TARGETS, SLOW][:webhooks]:
        hook = {
            "url": receiver.url(path),
            "secret": secrets.token_hex(8),
            "events": ["sensor.threshold_exceeded", "sensor.reading"],
        }
        reply = await client.post("/api/v1/webhooks", json=hook)
        assert reply.status_code == 201, reply.text
        made.append(f"/api/v1/webhooks/{reply.json()['webhook']['public_id']}")
    return made


async def switch(client: httpx.AsyncClient, paths: list[str], enabled: bool) -> None:
    for path in paths:
        reply = await client.put(path, json={"enabled": enabled})
        assert reply.status_code == 200, reply.text
    await asyncio.sleep(3)  # past REVLINK_RULE_REFRESH_SECONDS: the watched set follows


def cpu_seconds(cloud_pid: int, worker_pid: int | None) -> tuple[float, float, float]:
    """CPU time used so far by the cloud process, by the worker (0 without one), and by
    everything else on the machine but this benchmark (PostgreSQL, mostly; its backends come
    and go, so counted from the total)."""

    def used(times: Any) -> float:
        return float(times.user + times.system)

    machine = psutil.cpu_times()
    cloud = used(psutil.Process(cloud_pid).cpu_times())
    worker = used(psutil.Process(worker_pid).cpu_times()) if worker_pid else 0.0
    here = used(psutil.Process().cpu_times())
    total = used(machine) + float(getattr(machine, "nice", 0.0))
    return cloud, worker, total - cloud - worker - here


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
    parser.add_argument("--rules", type=int, default=RULES, help="rules in the busy phase")
    parser.add_argument("--webhooks", type=int, default=5, help="webhooks (0-5) in it")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="rules and webhooks in a `revlink cloud worker` (REVLINK_RUN_AUTOMATION=false)",
    )
    args = parser.parse_args()
    receiver = Receiver()
    for path, behaviour in TARGETS.items():
        receiver.set(path, **behaviour)
    receiver.set(SLOW, delay=1.5)
    try:
        async with fresh_database() as database:
            cloud_env = {**ENV, "REVLINK_RUN_AUTOMATION": "false"} if args.worker else ENV
            with contextlib.ExitStack() as stack:
                scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                cloud = stack.enter_context(start_cloud(database.url, scratch, env=cloud_env))
                worker_pid = None
                if args.worker:
                    worker = stack.enter_context(start_worker(database.url, scratch, env=ENV))
                    worker_pid = worker.process.pid
                admin = await asyncio.to_thread(cloud.admin_token)
                headers = {"Authorization": f"Bearer {admin}"}
                async with httpx.AsyncClient(base_url=cloud.base_url, headers=headers) as c:
                    print(
                        f"side effects vs ingest: {args.records} records per phase, batches of "
                        f"{BATCH}, {IN_FLIGHT} in flight on each of {DEVICES} connections"
                    )
                    devices = await fresh_devices(c, cloud.ws_url)
                    tokens = [t for _, t in devices]
                    effects = await add_side_effects(
                        c, devices, receiver, args.rules, args.webhooks
                    )
                    await switch(c, effects, enabled=False)
                    sent = 1  # the record that registered the sensors
                    await phase(cloud.ws_url, tokens, args.records // 4, sent)  # warm-up
                    sent += args.records // 4 // DEVICES
                    # none, with, none, with: the same devices, sensors and tables, so the
                    # ratio is not the drift of a growing database between two phases.
                    runs: dict[bool, list[tuple[float, list[float]]]] = {False: [], True: []}
                    cpu: dict[bool, list[tuple[float, ...]]] = {False: [], True: []}
                    for active in (False, True, False, True):
                        if active:
                            await switch(c, effects, enabled=True)
                        before = cpu_seconds(cloud.process.pid, worker_pid)
                        runs[active].append(await phase(cloud.ws_url, tokens, args.records, sent))
                        after = cpu_seconds(cloud.process.pid, worker_pid)
                        cpu[active].append(tuple(b - a for a, b in zip(before, after, strict=True)))
                        sent += args.records // DEVICES
                        if active:
                            drained_in = await inbox_drained(database.dsn, 600)
                            await switch(c, effects, enabled=False)
                fired, deliveries = await outcomes(database.dsn)
    finally:
        receiver.close()
    base_rate = statistics.mean(rate for rate, _ in runs[False])
    rate = statistics.mean(rate for rate, _ in runs[True])
    base_acks = [x for _, acks in runs[False] for x in acks]
    acks = [x for _, acks in runs[True] for x in acks]
    drained = drained_in
    per_10k = 10_000 / (2 * args.records)  # two phases of each kind
    p50, p99 = percentile(base_acks, 50), percentile(base_acks, 99)
    q50, q99 = percentile(acks, 50), percentile(acks, 99)
    for label, value, a, b in (
        ("none", base_rate, p50, p99),
        (f"{args.rules} rules + {args.webhooks} webhooks", rate, q50, q99),
    ):
        print(f"{label:24} {value:9,.0f} records/s, ack p50 {a:6.1f} ms, p99 {b:6.1f} ms")
    print(
        f"with / none:           {rate / base_rate:9.2f} (rate), "
        f"{q50 / p50:.2f} (ack p50), {q99 / p99:.2f} (ack p99)"
    )
    for active, label in ((False, "none"), (True, "with")):
        cloud_cpu, worker_cpu, rest_cpu = (
            sum(column) * per_10k for column in zip(*cpu[active], strict=True)
        )
        print(
            f"CPU per 10k records, {label}: cloud {cloud_cpu:.2f} s, worker {worker_cpu:.2f} s, "
            f"the rest {rest_cpu:.2f} s"
        )
    print(
        f"rule inbox worked off {drained:.1f} s after the last ack of the last phase with; "
        f"rules fired {fired} times"
    )
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(deliveries.items()))
    print(f"webhook deliveries by status: {statuses}")


if __name__ == "__main__":
    asyncio.run(main())
