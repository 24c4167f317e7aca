"""The device agent as a real process: channels offline, uplink to a real cloud, status."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import asyncpg
import grpc
import httpx
import pytest

from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from tests.rig.agent import agent_status, start_agent
from tests.rig.cloud import CloudServer
from tests.rig.platform import wait_for
from tests.rig.postgres import PostgresDatabase


async def cloud_seqs(db: PostgresDatabase, device_id: object) -> list[int]:
    connection = await asyncpg.connect(db.dsn)
    try:
        rows = await connection.fetch(
            "SELECT seq FROM channel_messages WHERE device_id=$1 ORDER BY seq", device_id
        )
    finally:
        await connection.close()
    return [r["seq"] for r in rows]


async def test_offline_channels_publish_aggregate_subscribe(tmp_path: Path) -> None:
    with start_agent(tmp_path / "data", tmp_path / "logs") as agent:
        async with grpc.aio.insecure_channel(agent.target) as channel:
            stub = pb_grpc.DeviceAgentServiceStub(channel)
            stream = stub.Subscribe(pb.SubscribeRequest(channel="tank", send_aggregate=True))
            snapshot = await asyncio.wait_for(stream.read(), 5)
            assert snapshot.aggregate.aggregate_json == "{}"
            first = await stub.Publish(
                pb.PublishRequest(
                    channel="tank",
                    message_json='{"level": 9007199254740993}',
                    aggregate_json='{"mode": "auto", "sp": {"high": 80}}',
                    idempotency_key="k-1",
                )
            )
            assert (first.seq, first.duplicate) == (1, False)
            message = await asyncio.wait_for(stream.read(), 5)
            assert message.message.message_json == '{"level": 9007199254740993}'
            aggregate = await asyncio.wait_for(stream.read(), 5)
            assert json.loads(aggregate.aggregate.aggregate_json) == {
                "mode": "auto",
                "sp": {"high": 80},
            }
            retry = await stub.Publish(
                pb.PublishRequest(
                    channel="tank", message_json='{"level": 1}', idempotency_key="k-1"
                )
            )
            assert (retry.seq, retry.duplicate) == (1, True)
            await stub.Publish(pb.PublishRequest(channel="tank", aggregate_json='{"mode": null}'))
            got = await stub.GetAggregate(pb.GetAggregateRequest(channel="tank"))
            assert json.loads(got.aggregate_json) == {"sp": {"high": 80}}
            listed = await stub.ListChannels(pb.ListChannelsRequest(include_aggregates=True))
            assert [(c.name, c.message_count) for c in listed.channels] == [("tank", 1)]
            # Resume: a reconnecting subscriber gets what it missed, once.
            last_id = aggregate.event_id
            stream.cancel()
            await stub.Publish(pb.PublishRequest(channel="tank", message_json='{"n": 2}'))
            resumed = stub.Subscribe(pb.SubscribeRequest(channel="tank", after_event_id=last_id))
            replay = [await asyncio.wait_for(resumed.read(), 5) for _ in range(2)]
            assert [r.WhichOneof("event") for r in replay] == ["aggregate", "message"]
            assert replay[1].message.message_json == '{"n": 2}'
            resumed.cancel()
            status = await stub.GetStatus(pb.GetStatusRequest())
            assert (status.cloud_connected, status.queue_depth, status.last_enqueued_seq) == (
                False,
                3,
                3,
            )


@pytest.mark.parametrize(
    ("request_kwargs", "words"),
    [
        ({"channel": "bad channel", "message_json": "{}"}, "channel"),
        ({"channel": "t", "message_json": '{"x": NaN}'}, "NaN"),
        ({"channel": "t", "message_json": "[1]"}, "JSON object"),
        ({"channel": "t"}, "message_json"),
        ({"channel": "t", "message_json": '{"x": "' + "y" * 300_000 + '"}'}, "exceeds"),
        ({"channel": "t", "aggregate_json": '{"$fields": {"x": {"unit": 1}}}'}, "$fields.x"),
    ],
)
async def test_publish_refuses_bad_records(
    tmp_path: Path, request_kwargs: dict[str, str], words: str
) -> None:
    with start_agent(tmp_path / "data", tmp_path / "logs") as agent:
        async with grpc.aio.insecure_channel(agent.target) as channel:
            stub = pb_grpc.DeviceAgentServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Publish(pb.PublishRequest(**request_kwargs))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert words in (err.value.details() or "")
            status = await stub.GetStatus(pb.GetStatusRequest())
            assert status.last_enqueued_seq == 0


async def test_uplink_delivers_and_frees_the_queue(
    tmp_path: Path, cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        async with grpc.aio.insecure_channel(agent.target) as channel:
            stub = pb_grpc.DeviceAgentServiceStub(channel)
            for i in range(250):
                await stub.Publish(
                    pb.PublishRequest(channel="tank", message_json=json.dumps({"i": i}))
                )
        await asyncio.to_thread(
            wait_for, lambda: agent_status(agent.target).queue_depth == 0, 15, "queue drained"
        )
        status = agent_status(agent.target)
        assert status.cloud_connected
        assert (status.last_acked_seq, status.last_enqueued_seq) == (250, 250)
        metrics = (await asyncio.to_thread(httpx.get, agent.metrics_url)).text
        assert "revlink_agent_cloud_connected 1.0" in metrics
        assert "revlink_agent_last_acked_seq 250.0" in metrics
    assert await cloud_seqs(postgres_database, device_id) == list(range(1, 251))


async def test_the_no_datapoints_flag_travels_to_the_cloud(
    tmp_path: Path, cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        async with grpc.aio.insecure_channel(agent.target) as channel:
            stub = pb_grpc.DeviceAgentServiceStub(channel)
            await stub.Publish(
                pb.PublishRequest(
                    channel="pump",
                    message_json='{"runs": 3}',
                    aggregate_json='{"writes": {"speed": {"written": 40}}}',
                    no_datapoints=True,
                )
            )
            await stub.Publish(pb.PublishRequest(channel="pump", message_json='{"speed": 40}'))
        await asyncio.to_thread(
            wait_for, lambda: agent_status(agent.target).last_acked_seq == 2, 15, "both acked"
        )
    assert await cloud_seqs(postgres_database, device_id) == [1, 2]
    connection = await asyncpg.connect(postgres_database.dsn)
    try:
        keys = await connection.fetch("SELECT key FROM sensors WHERE device_id=$1", device_id)
    finally:
        await connection.close()
    assert [k["key"] for k in keys] == ["pump.speed"]


async def test_cloud_commands_reach_subscribers(tmp_path: Path, cloud: CloudServer) -> None:
    device_id, token = cloud.device()
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        await asyncio.to_thread(
            wait_for, lambda: agent_status(agent.target).cloud_connected, 10, "connected"
        )
        async with grpc.aio.insecure_channel(agent.target) as channel:
            stub = pb_grpc.DeviceAgentServiceStub(channel)
            stream = stub.Subscribe(pb.SubscribeRequest(channel="setpoints"))
            await asyncio.sleep(0.2)  # the subscription is registered
            sent = await asyncio.to_thread(cloud.send_command, device_id, "setpoints", {"high": 75})
            event = await asyncio.wait_for(stream.read(), 5)
            stream.cancel()
    assert event.command.command_id == sent["command_id"]
    assert json.loads(event.command.payload_json) == {"high": 75}


async def test_wiped_queue_continues_after_the_clouds_seq(
    tmp_path: Path, cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    for data_dir, count in ((tmp_path / "card-1", 5), (tmp_path / "card-2", 3)):
        # The second agent is offline at first, as after a reflash: it numbers from 1.
        with start_agent(data_dir, tmp_path / "logs") as offline:
            async with grpc.aio.insecure_channel(offline.target) as channel:
                stub = pb_grpc.DeviceAgentServiceStub(channel)
                for i in range(count):
                    await stub.Publish(pb.PublishRequest(channel="c", message_json=f'{{"i": {i}}}'))
        with start_agent(data_dir, tmp_path / "logs", cloud.base_url, token) as agent:
            await asyncio.to_thread(
                wait_for, lambda: agent_status(agent.target).queue_depth == 0, 15, "drained"
            )
    assert await cloud_seqs(postgres_database, device_id) == list(range(1, 9))


def test_a_kicked_agent_backs_off(tmp_path: Path, cloud: CloudServer) -> None:
    _, token = cloud.device()
    with start_agent(tmp_path / "a", tmp_path / "logs", cloud.base_url, token) as first:
        wait_for(lambda: agent_status(first.target).cloud_connected, 10, "first connected")
        with start_agent(tmp_path / "b", tmp_path / "logs", cloud.base_url, token) as second:
            wait_for(lambda: agent_status(second.target).cloud_connected, 10, "second")
            wait_for(lambda: not agent_status(first.target).cloud_connected, 10, "kicked")
            assert "replaced" in agent_status(first.target).last_error
            time.sleep(3)  # the kicked agent waits (30 s+) instead of fighting back
            assert agent_status(second.target).cloud_connected
            assert not agent_status(first.target).cloud_connected
        assert "uplink.retry" in first.process.output()


@pytest.mark.parametrize("policy", ["drop-oldest", "refuse-new"])
async def test_a_full_queue_follows_its_policy_and_says_so(tmp_path: Path, policy: str) -> None:
    env = {"REVLINK_QUEUE_MAX_RECORDS": "10", "REVLINK_QUEUE_FULL_POLICY": policy}
    with start_agent(tmp_path / "data", tmp_path / "logs", env=env) as agent:
        async with grpc.aio.insecure_channel(agent.target) as channel:
            stub = pb_grpc.DeviceAgentServiceStub(channel)
            failures: list[grpc.aio.AioRpcError] = []
            for i in range(15):
                try:
                    await stub.Publish(pb.PublishRequest(channel="c", message_json=f'{{"i": {i}}}'))
                except grpc.aio.AioRpcError as exc:
                    failures.append(exc)
            status = await stub.GetStatus(pb.GetStatusRequest())
        metrics = (await asyncio.to_thread(httpx.get, agent.metrics_url)).text
    refused = len(failures)
    assert all(f.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for f in failures)
    assert all("full" in (f.details() or "") for f in failures)
    assert status.queue_depth == 10
    if policy == "drop-oldest":
        assert (refused, status.dropped_records, status.last_enqueued_seq) == (0, 5, 15)
        assert "revlink_agent_dropped_records_total 5.0" in metrics
    else:
        assert (refused, status.refused_records, status.last_enqueued_seq) == (5, 5, 10)
        assert "revlink_agent_refused_records_total 5.0" in metrics


def test_open_subscriptions_end_when_the_agent_stops(tmp_path: Path) -> None:
    # A long grace period: without ending the streams, the stop would wait all of it.
    env = {"REVLINK_GRACE_PERIOD": "60"}
    with (
        start_agent(tmp_path / "data", tmp_path / "logs", env=env) as agent,
        grpc.insecure_channel(agent.target) as channel,
    ):
        stub = pb_grpc.DeviceAgentServiceStub(channel)
        stream = stub.Subscribe(pb.SubscribeRequest(channel="c", send_aggregate=True), timeout=60)
        next(stream)  # the aggregate snapshot: the subscription is in place
        assert agent.process.stop(signal.SIGTERM, timeout=20) == 0
        list(stream)  # a normal end, no error
        assert stream.code() == grpc.StatusCode.OK
