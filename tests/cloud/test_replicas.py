"""Three cloud replicas on one PostgreSQL and one Redis (``REVLINK_REDIS_URL``).

Live datapoints that arrive on one replica reach stream clients on all of them, still
throttled per sensor, also when one sensor is fed through two replicas at once; every
replica says the same about which devices are online, through a take-over and after a
replica is killed; and a device whose replica dies under load reconnects to a survivor and
its records are stored once each, none lost. (Commands, channel writes, revocations and
take-overs across replicas: ``test_notices.py``; rules and webhooks once: ``test_rule_fanout``
and ``test_webhook_dispatcher``.)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.rig.agent import agent_status, start_agent
from tests.rig.balancer import balancer
from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer, start_cloud, stored_publisher_records, unique
from tests.rig.platform import wait_for
from tests.rig.postgres import PostgresDatabase
from tests.rig.redis import REDIS_URL, require_redis
from tests.rig.stream import insert_sensors, one, push_url, watch
from tests.rig.uplink import uplink_client

INTERVAL_S = 0.5
PRESENCE_TTL_S = 3.0
RECORDS = 4_000


@pytest.fixture(scope="module", autouse=True)
def redis_server() -> None:
    require_redis()


@pytest.fixture(scope="module")
def cluster_env() -> dict[str, str]:
    """One cluster's settings: its own Redis names, so no other run's replicas hear it."""
    return {
        "REVLINK_REDIS_URL": REDIS_URL,
        "REVLINK_REDIS_PREFIX": unique("test-cluster"),
        "REVLINK_STREAM_INTERVAL_MS": str(int(INTERVAL_S * 1000)),
        "REVLINK_PRESENCE_TTL_SECONDS": str(PRESENCE_TTL_S),
    }


@pytest.fixture(scope="module")
def replicas(
    redis_server: None,
    cloud_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    cluster_env: dict[str, str],
) -> Iterator[tuple[CloudServer, CloudServer, CloudServer]]:
    root = tmp_path_factory.mktemp("cluster")
    with (
        start_cloud(cloud_database_url, root / "a", env=cluster_env) as a,
        start_cloud(cloud_database_url, root / "b", env=cluster_env) as b,
        start_cloud(cloud_database_url, root / "c", env=cluster_env) as c,
    ):
        yield a, b, c


async def arrivals_until(
    ws: ClientConnection, sensor: uuid.UUID, last: float
) -> list[tuple[float, float]]:
    """(arrival time, value) of each update of ``sensor`` until it shows ``last``."""
    seen: list[tuple[float, float]] = []
    while not seen or seen[-1][1] != last:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert message["type"] == "datapoints_batch", message
        seen += [
            (time.monotonic(), p["value"])
            for p in message["datapoints"]
            if p["event_public_id"] == str(sensor)
        ]
    return seen


def online_everywhere(replicas: tuple[CloudServer, ...], device_id: uuid.UUID) -> list[bool]:
    found = []
    for replica in replicas:
        with replica.http(replica.admin_token()) as client:
            reply = client.get(f"/api/v1/devices/{device_id}")
            assert reply.status_code == 200, reply.text
            found.append(reply.json()["online"])
    return found


async def test_points_pushed_on_one_replica_reach_watchers_on_every_replica_throttled(
    replicas: tuple[CloudServer, CloudServer, CloudServer], postgres_database: PostgresDatabase
) -> None:
    a = replicas[0]
    _, operator = a.user("operator")
    [sensor] = await insert_sensors(postgres_database.dsn, 1)
    watchers = [await watch(replica, operator, f"sensor={sensor}") for replica in replicas]
    try:
        async with connect(push_url(a, operator)) as pusher:
            for value in range(20):
                await pusher.send(one(sensor, value))
            seen = await asyncio.gather(*(arrivals_until(ws, sensor, 19) for ws in watchers))
    finally:
        for ws in watchers:
            await ws.close()
    for arrivals in seen:  # on A itself and on B and C
        values = [value for _, value in arrivals]
        assert values == sorted(values)
        assert len(values) < 20
        first = arrivals[0][0]
        assert len([at for at, _ in arrivals if at - first <= INTERVAL_S * 0.6]) <= 2


async def test_a_sensor_fed_through_two_replicas_at_once_is_throttled_where_it_is_watched(
    replicas: tuple[CloudServer, CloudServer, CloudServer], postgres_database: PostgresDatabase
) -> None:
    """Each origin throttles its own points; without the watcher's replica throttling what it
    hears too, the two streams would interleave at twice the rate."""
    a, b, c = replicas
    _, operator = a.user("operator")
    [sensor] = await insert_sensors(postgres_database.dsn, 1)
    ws = await watch(c, operator, f"sensor={sensor}")
    try:
        # Read while pushing: arrival times are only true if nothing waits unread.
        watching = asyncio.create_task(arrivals_until(ws, sensor, 59))
        async with connect(push_url(a, operator)) as on_a, connect(push_url(b, operator)) as on_b:
            for value in range(60):  # about 1.5 s of pushes, alternating replicas
                await (on_a if value % 2 else on_b).send(one(sensor, value))
                await asyncio.sleep(0.025)
            arrivals = await watching
    finally:
        await ws.close()
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(arrivals)]
    assert len(arrivals) >= 3, arrivals
    # The watcher's replica sends the sensor at most once per interval (a little slack for
    # the socket between it and this test).
    assert min(gaps) >= INTERVAL_S * 0.7, gaps


async def test_every_replica_says_the_same_about_who_is_online_through_a_take_over(
    replicas: tuple[CloudServer, CloudServer, CloudServer],
) -> None:
    a, b, _ = replicas
    device_id, token = a.device()
    assert online_everywhere(replicas, device_id) == [False] * 3
    async with uplink_client(a.ws_url, token) as first:
        await first.hello()
        assert online_everywhere(replicas, device_id) == [True] * 3
        async with uplink_client(b.ws_url, token) as second:
            await second.hello()
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(first.receive(), 5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1008
            # The old socket on A has ended: it must not have taken the new one offline.
            await asyncio.sleep(0.5)
            assert online_everywhere(replicas, device_id) == [True] * 3
    wait_for(lambda: online_everywhere(replicas, device_id) == [False] * 3, 5, "offline on all")


@pytest.mark.timeout(240)
def test_a_replica_killed_under_load_loses_and_duplicates_nothing(
    tmp_path: Path,
    replicas: tuple[CloudServer, CloudServer, CloudServer],
    cloud_database_url: str,
    postgres_database: PostgresDatabase,
    cluster_env: dict[str, str],
) -> None:
    a, b, _ = replicas
    device_id, token = a.device()
    idle_id, idle_token = a.device()
    target, idle_target = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    logs = tmp_path / "logs"
    publisher = subprocess.Popen(
        [sys.executable, "-m", "tests.support.publisher", target, str(RECORDS)],
        stdout=subprocess.DEVNULL,
    )
    try:
        with start_cloud(cloud_database_url, tmp_path / "doomed", env=cluster_env) as doomed:
            doomed_at = _address(doomed)
            with (
                balancer([doomed_at, _address(a), _address(b)]) as front,
                start_agent(tmp_path / "agent", logs, front.url, token, target=target),
                # A second device on the doomed replica alone: it cannot come back.
                start_agent(
                    tmp_path / "idle", logs, doomed.base_url, idle_token, target=idle_target
                ),
            ):
                wait_for(lambda: agent_status(target).cloud_connected, 20, "agent connected")
                wait_for(lambda: agent_status(idle_target).cloud_connected, 20, "idle connected")
                assert front.connections[-1] == doomed_at
                wait_for(
                    lambda: agent_status(target).last_acked_seq >= RECORDS // 3, 60, "1/3 acked"
                )
                assert online_everywhere((a, b), idle_id) == [True, True]
                doomed.process.send_signal(signal.SIGKILL)
                doomed.process.wait()
                front.backends.remove(doomed_at)
                assert publisher.wait(120) == 0
                wait_for(lambda: agent_status(target).queue_depth == 0, 60, "queue drained")
                status = agent_status(target)
                assert (status.last_acked_seq, status.dropped_records) == (RECORDS, 0)
                assert status.cloud_connected
                # The idle device's mark died with its replica: offline within the TTL.
                wait_for(
                    lambda: online_everywhere((a, b), idle_id) == [False, False],
                    PRESENCE_TTL_S + 5,
                    "a dead replica's device offline",
                )
    finally:
        publisher.kill()
        publisher.wait()
    rows = asyncio.run(stored_publisher_records(postgres_database.dsn, device_id))
    assert [seq for seq, _ in rows] == list(range(1, RECORDS + 1))
    assert [i for _, i in rows] == list(range(RECORDS))  # each once, in publish order


def _address(server: CloudServer) -> tuple[str, int]:
    host, _, port = server.base_url.removeprefix("http://").rpartition(":")
    return host, int(port)
