"""Idle devices: what connected, silent devices cost the cloud and PostgreSQL.

Run: ``make bench`` or ``python -m tests.bench.bench_idle_devices [--devices N]``.

One run, two real ``revlink cloud serve`` processes in turn on fresh PostgreSQL databases:

- **notices** (the default settings): an open socket re-checks its token and its device's
  pending work when a notice names it, and otherwise once an hour;
- **polling** (``REVLINK_NOTIFIED_RECHECK_SECONDS=2``): every socket re-checks both every
  2 s, which is what every socket did before notices (the baseline).

Both runs use the default WebSocket settings (sans-I/O implementation, no compression).

For each: the cloud idles without sockets (its own background loops), then N devices connect
(hello, then nothing) and stay silent. Printed: CPU of the cloud process (% of one core) and
PostgreSQL's transactions/s on the run's database, over the same window without and with the
sockets; the
cloud's RSS per connected socket; and, in the notices run, how long a revocation takes to
close a device's socket. The sockets' client side runs in this process and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import psutil
from websockets.exceptions import ConnectionClosed

from cloud.core.security import hash_device_token
from tests.bench.support import fresh_database
from tests.rig.cloud import start_cloud
from tests.rig.uplink import UplinkClient, uplink_client

WINDOW_S = 20.0
SETTLE_S = 5.0


async def transactions(dsn: str) -> int:
    """Transactions PostgreSQL has counted for the run's database (its own share of load:
    CPU time of short-lived backends cannot be measured from outside)."""
    connection = await asyncpg.connect(dsn)
    try:
        query = (
            "SELECT xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


def cloud_cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def window(pid: int, dsn: str) -> tuple[float, float]:
    """The cloud's CPU (% of one core) and PostgreSQL's transactions/s over WINDOW_S."""
    cloud_before, xact_before, started = cloud_cpu(pid), await transactions(dsn), time.monotonic()
    await asyncio.sleep(WINDOW_S)
    elapsed = time.monotonic() - started
    # PostgreSQL's statistics reach the view within about a second.
    await asyncio.sleep(1.5)
    xacts = await transactions(dsn) - xact_before - 2  # the two counting queries themselves
    return 100 * (cloud_cpu(pid) - cloud_before) / elapsed, xacts / elapsed


async def add_devices(dsn: str, count: int) -> list[tuple[uuid.UUID, str]]:
    devices = [(uuid.uuid4(), f"rld_{secrets.token_urlsafe(32)}") for _ in range(count)]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "INSERT INTO devices (id, name, token_hash, created_at, last_committed_seq,"
            " last_write_seq, last_command_seq, sensors_version)"
            " VALUES ($1, $2, $3, now(), 0, 0, 0, 0)",
            [(d, f"idle-{i}", hash_device_token(t)) for i, (d, t) in enumerate(devices)],
        )
    finally:
        await connection.close()
    return devices


async def revocation_delay(
    cloud_url: str, admin: str, device: uuid.UUID, link: UplinkClient
) -> float:
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=cloud_url, headers=headers) as client:
        (await client.post(f"/api/v1/devices/{device}/revoke")).raise_for_status()
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(30):
            while True:
                await link.receive()
    return time.perf_counter() - started


async def run(mode: str, env: dict[str, str], count: int) -> dict[str, float]:
    async with fresh_database() as database:
        devices = await add_devices(database.dsn, count)
        with (
            tempfile.TemporaryDirectory() as scratch,
            start_cloud(database.url, Path(scratch), env=env) as cloud,
        ):
            pid = cloud.process.pid
            admin = await asyncio.to_thread(cloud.admin_token)
            await asyncio.sleep(SETTLE_S)
            idle_cloud, idle_pg = await window(pid, database.dsn)
            rss_before = psutil.Process(pid).memory_info().rss
            async with contextlib.AsyncExitStack() as stack:
                links = []
                for _, token in devices:
                    link = await stack.enter_async_context(uplink_client(cloud.ws_url, token))
                    await link.hello()
                    links.append(link)
                await asyncio.sleep(SETTLE_S)
                rss_after = psutil.Process(pid).memory_info().rss
                busy_cloud, busy_pg = await window(pid, database.dsn)
                delay = await revocation_delay(cloud.base_url, admin, devices[0][0], links[0])
    result = {
        "idle_cloud": idle_cloud,
        "idle_pg": idle_pg,
        "cloud": busy_cloud,
        "pg": busy_pg,
        "kib_per_socket": (rss_after - rss_before) / count / 1024,
        "revocation_s": delay,
    }
    print(
        f"{mode:8} cloud {busy_cloud:5.1f} % of a core (no sockets {idle_cloud:4.1f} %), "
        f"PostgreSQL {busy_pg:6.1f} transactions/s (no sockets {idle_pg:5.1f}), "
        f"{result['kib_per_socket']:5.1f} KiB RSS per socket, revocation closed the socket "
        f"in {delay:.2f} s"
    )
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=500)
    args = parser.parse_args()
    print(f"idle devices: {args.devices} connected, silent, {WINDOW_S:.0f} s windows")
    notices = await run("notices", {}, args.devices)
    polling = await run("polling", {"REVLINK_NOTIFIED_RECHECK_SECONDS": "2"}, args.devices)
    for label, key, unit in (
        ("cloud CPU", "cloud", "% of a core"),
        ("PostgreSQL", "pg", "transactions/s"),
    ):
        extra_n = notices[key] - notices[f"idle_{key}"]
        extra_p = polling[key] - polling[f"idle_{key}"]
        print(
            f"{label} added by the sockets: notices {extra_n:.2f} vs polling {extra_p:.2f} "
            f"{unit} ({extra_n / extra_p:.3f}x)"
        )
    ratio = notices["kib_per_socket"] / polling["kib_per_socket"]
    print(f"RSS per socket: {notices['kib_per_socket']:.1f} KiB ({ratio:.2f}x of polling's)")


if __name__ == "__main__":
    asyncio.run(main())
