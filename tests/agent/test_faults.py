"""Exactly once through faults: 20,000 records, agent kill -9 twice, cloud down 10 s, ghost.

A real publisher process (retrying with idempotency keys, as the SDK does), real agent
processes, real cloud processes, real PostgreSQL. At the end the cloud holds every record
exactly once, numbered in publish order.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from tests.rig.agent import agent_status, start_agent
from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer, start_cloud, stored_publisher_records
from tests.rig.platform import wait_for
from tests.rig.postgres import PostgresDatabase

RECORDS = 20_000


def published(target: str) -> int:
    try:
        return agent_status(target).last_enqueued_seq
    except grpc.RpcError:  # the agent is being killed and restarted on purpose
        return -1


@pytest.mark.timeout(300)  # bound by the disk: generous, so a slow machine is not a failure
def test_exactly_once_through_kills_outage_and_a_ghost(
    tmp_path: Path,
    cloud: CloudServer,
    cloud_database_url: str,
    postgres_database: PostgresDatabase,
) -> None:
    device_id, token = cloud.device()
    port = free_port()
    cloud_url = f"http://127.0.0.1:{port}"
    target = f"127.0.0.1:{free_port()}"
    logs = tmp_path / "logs"
    quick_kick = {
        "REVLINK_UPLINK_REPLACED_BACKOFF": "2",  # the test need not wait 30 s
        # SIGKILL is a process crash, which NORMAL survives; FULL (power loss) would only
        # make the run fsync-bound and slow on a busy disk.
        "REVLINK_QUEUE_SYNC": "normal",
    }

    def agent(data: str, at: str = target):  # type: ignore[no-untyped-def]
        return start_agent(tmp_path / data, logs, cloud_url, token, env=quick_kick, target=at)

    publisher = subprocess.Popen(
        [sys.executable, "-m", "tests.support.publisher", target, str(RECORDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        with start_cloud(cloud_database_url, logs, port=port):
            for threshold in (3_000, 6_000):
                with agent("a") as running:
                    wait_for(
                        lambda at_least=threshold: published(target) >= at_least,
                        60,
                        f"{threshold} published",
                    )
                    running.process.process.send_signal(signal.SIGKILL)
                    running.process.process.wait()
            with agent("a"):
                wait_for(lambda: published(target) >= 9_000, 60, "9000 published")
        # The cloud is down for 10 s while publishing goes on into the queue.
        time.sleep(10)
        with start_cloud(cloud_database_url, logs, port=port), agent("a"):
            wait_for(lambda: published(target) >= 14_000, 60, "14000 published")
            # A second agent with the same token takes the connection over for a while.
            with agent("ghost", at=f"127.0.0.1:{free_port()}") as ghost:
                wait_for(lambda: agent_status(ghost.target).cloud_connected, 15, "ghost connected")
                time.sleep(2)
            assert publisher.wait(120) == 0
            wait_for(lambda: agent_status(target).queue_depth == 0, 60, "queue drained")
            status = agent_status(target)
            assert (status.last_acked_seq, status.dropped_records) == (RECORDS, 0)
    finally:
        publisher.kill()
        publisher.wait()
        assert publisher.stdout is not None
        publisher.stdout.close()

    rows = asyncio.run(stored_publisher_records(postgres_database.dsn, device_id))
    assert len(rows) == RECORDS
    assert [seq for seq, _ in rows] == list(range(1, RECORDS + 1))
    assert [i for _, i in rows] == list(range(RECORDS))  # each once, in publish order
