"""``/ws/devices/uplink`` against a real cloud process on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from websockets.exceptions import ConnectionClosed

from revlink.uplink.v1 import uplink_pb2 as pb
from tests.rig.cloud import CloudServer
from tests.rig.postgres import PostgresDatabase
from tests.rig.uplink import record, uplink_client


async def fetch(db: PostgresDatabase, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(db.dsn)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def test_hello_then_batches_are_stored_and_acked(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    big = 2**63 - 1
    async with uplink_client(cloud.ws_url, token) as link:
        welcome = await link.hello()
        assert (welcome.device_id, welcome.last_committed_seq) == (str(device_id), 0)
        assert (welcome.max_batch_size, welcome.max_frame_bytes) == (500, 1024 * 1024)
        ts = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
        ack, errors = await link.batch(
            record(1, message={"level": 41.5, "pump": True, "meta": {"rpm": 1200}}, ts=ts),
            record(
                2, message={"level": 42, "note": "ok", "count": big}, ts=ts + timedelta(seconds=1)
            ),
            record(3, channel="temp", aggregate={"celsius": 21.5}, ts=ts),
        )
    assert errors == []
    assert ack is not None
    assert (ack.up_to_seq, ack.duplicates, ack.rejected) == (3, 0, 0)
    sensors = {
        r["key"]: r["id"]
        for r in await fetch(
            postgres_database, "SELECT key, id FROM sensors WHERE device_id=$1", device_id
        )
    }
    assert set(sensors) == {"tank.level", "tank.meta.rpm", "tank.count", "temp.celsius"}
    points = await fetch(
        postgres_database,
        "SELECT value, ts FROM datapoints WHERE sensor_id=$1 ORDER BY ts",
        sensors["tank.level"],
    )
    assert [(p["value"], p["ts"]) for p in points] == [
        (41.5, ts),
        (42.0, ts + timedelta(seconds=1)),
    ]
    messages = await fetch(
        postgres_database,
        "SELECT seq, payload::text AS payload FROM channel_messages"
        " WHERE device_id=$1 ORDER BY seq",
        device_id,
    )
    assert [m["seq"] for m in messages] == [1, 2]
    assert json.loads(messages[1]["payload"])["count"] == big  # exact, not a double
    (device,) = await fetch(
        postgres_database,
        "SELECT last_committed_seq, last_seen FROM devices WHERE id=$1",
        device_id,
    )
    assert device["last_committed_seq"] == 3
    assert device["last_seen"] is not None


async def test_aggregates_follow_json_merge_patch(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        await link.batch(
            record(1, "state", aggregate={"mode": "auto", "setpoint": {"low": 20, "high": 80}}),
            record(2, "state", aggregate={"setpoint": {"high": 90}, "mode": None, "alarm": False}),
        )
        await link.batch(record(3, "other", aggregate={"a": 1}))
        rows = await fetch(
            postgres_database,
            "SELECT payload::text AS p, seq FROM channel_aggregates"
            " WHERE device_id=$1 AND channel='state'",
            device_id,
        )
        assert json.loads(rows[0]["p"]) == {"setpoint": {"low": 20, "high": 90}, "alarm": False}
        assert rows[0]["seq"] == 2
        await link.batch(record(4, "state", aggregate={"fresh": 1}, replace=True))
    rows = await fetch(
        postgres_database,
        "SELECT payload::text AS p FROM channel_aggregates WHERE device_id=$1 AND channel='state'",
        device_id,
    )
    assert json.loads(rows[0]["p"]) == {"fresh": 1}


async def test_duplicates_are_dropped_and_resume_point_survives_reconnect(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    batch = [record(seq, message={"v": seq}) for seq in (1, 2, 3)]
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        await link.batch(*batch)
    async with uplink_client(cloud.ws_url, token) as link:
        assert (await link.hello()).last_committed_seq == 3
        ack, errors = await link.batch(*batch, record(4, message={"v": 4}))
    assert errors == []
    assert ack is not None
    assert (ack.up_to_seq, ack.duplicates) == (4, 3)
    rows = await fetch(
        postgres_database,
        "SELECT seq FROM channel_messages WHERE device_id=$1 ORDER BY seq",
        device_id,
    )
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]


async def test_bad_records_get_errors_and_the_rest_is_stored(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    no_time = pb.Record(seq=6, channel="tank", message_json='{"v": 6}')
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        ack, errors = await link.batch(
            record(1, message={"v": 1}),
            record(2, message='{"v": NaN}'),
            record(3, message='{"v": Infinity}'),
            record(4, message="[1, 2]"),
            record(5, message="{not json"),
            no_time,
            record(7, channel="bad channel!", message={"v": 7}),
            record(8, message={"v": 8}, ts=datetime.now(UTC) + timedelta(days=30)),
            record(9),
            record(9, message={"v": 9}),  # same seq again: out of order
            record(10, message={"v": "12", "w": 10}),
        )
        reasons = {e.seq: e.message for e in errors}
        assert all(e.code == pb.ERROR_CODE_INVALID_RECORD for e in errors)
        assert [e.seq for e in errors] == [2, 3, 4, 5, 6, 7, 8, 9, 9]
        assert "neither message_json nor aggregate_json" in errors[7].message
        assert "not above the previous" in errors[8].message
        assert "NaN" in reasons[2]
        assert "Infinity" in reasons[3]
        assert "JSON object" in reasons[4]
        assert "not valid JSON" in reasons[5]
        assert "source_time" in reasons[6]
        assert "channel" in reasons[7]
        assert "implausible" in reasons[8]
        assert ack is not None
        assert (ack.up_to_seq, ack.rejected) == (10, 9)
        # The same socket carries on.
        ack, errors = await link.batch(record(11, message={"v": 11}))
        assert ack is not None
        assert (ack.up_to_seq, errors) == (11, [])
    rows = await fetch(
        postgres_database,
        "SELECT seq FROM channel_messages WHERE device_id=$1 ORDER BY seq",
        device_id,
    )
    assert [r["seq"] for r in rows] == [1, 10, 11]
    keys = await fetch(postgres_database, "SELECT key FROM sensors WHERE device_id=$1", device_id)
    assert {k["key"] for k in keys} == {"tank.v", "tank.w"}  # the string "12" is no datapoint
    assert not any(
        math.isnan(r["value"])
        for r in await fetch(postgres_database, "SELECT value FROM datapoints")
    )


async def test_frame_level_errors_keep_the_socket(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    async with uplink_client(cloud.ws_url, token) as link:
        await link.send(pb.DeviceFrame(batch=pb.Batch(records=[record(1, message={"v": 1})])))
        early = (await link.receive()).error
        assert early.code == pb.ERROR_CODE_PROTOCOL
        await link.hello()
        await link.send(b"\xff\x00garbage")
        assert (await link.receive()).error.code == pb.ERROR_CODE_MALFORMED_FRAME
        await link.socket.send("text frame")
        assert (await link.receive()).error.code == pb.ERROR_CODE_MALFORMED_FRAME
        huge = record(1, message={"blob": "x" * (1024 * 1024)})
        ack, errors = await link.batch(huge)
        assert ack is None
        assert errors[0].code == pb.ERROR_CODE_FRAME_TOO_LARGE
        ack, errors = await link.batch(*[record(s, message={"v": s}) for s in range(1, 502)])
        assert ack is None
        assert errors[0].code == pb.ERROR_CODE_BATCH_TOO_LARGE
        assert "501" in errors[0].message
        ack, errors = await link.batch(*[record(s, message={"v": s}) for s in range(1, 501)])
        assert ack is not None
        assert (ack.up_to_seq, errors) == (500, [])
    (count,) = await fetch(
        postgres_database,
        "SELECT count(*) AS n FROM channel_messages WHERE device_id=$1",
        device_id,
    )
    assert count["n"] == 500


@pytest.mark.parametrize(
    ("token", "reason"),
    [(None, "missing device token"), ("rld_wrong", "invalid or revoked device token")],
)
async def test_bad_tokens_are_closed_1008(
    cloud: CloudServer, token: str | None, reason: str
) -> None:
    async with uplink_client(cloud.ws_url, token) as link:
        with pytest.raises(ConnectionClosed) as closed:
            await link.hello()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert reason in closed.value.rcvd.reason


async def test_a_new_connection_replaces_the_old_one(cloud: CloudServer) -> None:
    device_id, token = cloud.device()
    async with uplink_client(cloud.ws_url, token) as old:
        await old.hello()
        async with uplink_client(cloud.ws_url, token) as new:
            await new.hello()
            with pytest.raises(ConnectionClosed) as closed:
                await old.receive()
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, "replaced" in closed.value.rcvd.reason) == (1008, True)
            await asyncio.sleep(0.2)  # the old socket's cleanup has run by now
            with cloud.http(cloud.admin_token()) as client:
                assert client.get(f"/api/v1/devices/{device_id}").json()["online"] is True
            ack, _ = await new.batch(record(1, message={"v": 1}))
            assert ack is not None
    await asyncio.sleep(0.2)
    with cloud.http(cloud.admin_token()) as client:
        listed = client.get(f"/api/v1/devices/{device_id}").json()
    assert (listed["online"], listed["last_committed_seq"]) == (False, 1)


async def test_revoking_a_device_closes_its_socket(cloud: CloudServer) -> None:
    device_id, token = cloud.device()
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        with cloud.http(cloud.admin_token()) as client:
            revoked = client.post(f"/api/v1/devices/{device_id}/revoke")
            assert revoked.status_code == 200
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(link.receive(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    async with uplink_client(cloud.ws_url, token) as link:
        with pytest.raises(ConnectionClosed):
            await link.hello()


async def test_metrics_count_ingest(cloud: CloudServer) -> None:
    _, token = cloud.device()

    def value(name: str) -> float:
        with cloud.http() as client:
            for line in client.get("/metrics").text.splitlines():
                if line.startswith(name):
                    return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = value('revlink_ingested_records_total{door="uplink"}')
    dup_before = value("revlink_duplicate_records_total")
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        await link.batch(record(1, message={"v": 1}), record(2, message={"v": 2}))
        await link.batch(record(2, message={"v": 2}))
    assert value('revlink_ingested_records_total{door="uplink"}') == before + 2
    assert value("revlink_duplicate_records_total") == dup_before + 1


async def test_uplink_datapoints_reach_the_live_stream(cloud: CloudServer) -> None:
    from websockets.asyncio.client import connect

    device_id, token = cloud.device()
    _, viewer = cloud.user("viewer")
    url = f"{cloud.ws_url}/ws/datapoints/stream?token={viewer}&device_id={device_id}"
    async with connect(url) as stream:
        assert json.loads(await stream.recv())["type"] == "connected"
        ts = datetime(2026, 11, 2, tzinfo=UTC)
        async with uplink_client(cloud.ws_url, token) as link:
            await link.hello()
            await link.batch(record(1, message={"level": 7.25}, ts=ts))
        update = json.loads(await asyncio.wait_for(stream.recv(), 5))
    assert update["type"] == "datapoints_batch"
    (point,) = update["datapoints"]
    assert (point["value"], point["timestamp"]) == (7.25, ts.isoformat())
    assert set(point) == {"value", "event_public_id", "timestamp", "experiment_public_id"}


async def test_commands_go_down_the_uplink(cloud: CloudServer) -> None:
    device_id, token = cloud.device()
    _, viewer = cloud.user("viewer")
    _, operator = cloud.user("operator")
    body = {"channel": "setpoints", "payload": {"high": 80, "big": 2**60}, "expires_in_seconds": 60}
    path = f"/api/v1/devices/{device_id}/commands"
    with cloud.http(operator) as client:
        kept = client.post(path, json=body)  # the device is offline: kept, not refused
        assert kept.status_code == 202, kept.text
        assert (kept.json()["state"], kept.json()["seq"]) == ("pending", 1)
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        first = await asyncio.wait_for(link.receive(), 5)
        with cloud.http(viewer) as client:
            assert client.post(path, json=body).status_code == 403
        with cloud.http(operator) as client:
            bad = client.post(path, json={**body, "channel": "no spaces"})
            assert bad.status_code == 422
            sent = client.post(path, json=body)
            assert sent.status_code == 202
        second = await asyncio.wait_for(link.receive(), 5)
    assert (first.command.seq, second.command.seq) == (1, 2)
    command = second.command
    assert command.command_id == sent.json()["command_id"]
    assert command.channel == "setpoints"
    assert json.loads(command.payload_json) == {"high": 80, "big": 2**60}
    assert command.HasField("expire_time")


async def test_last_seen_covers_a_device_that_sends_nothing(cloud: CloudServer) -> None:
    device_id, token = cloud.device()
    with cloud.http(cloud.admin_token()) as client:
        assert client.get(f"/api/v1/devices/{device_id}").json()["last_seen"] is None
        async with uplink_client(cloud.ws_url, token) as link:
            await link.hello()
            connected = client.get(f"/api/v1/devices/{device_id}").json()
            assert connected["online"] is True
            assert connected["last_seen"] is not None
            await asyncio.sleep(0.05)
        for _ in range(100):
            left = client.get(f"/api/v1/devices/{device_id}").json()
            if not left["online"] and left["last_seen"] != connected["last_seen"]:
                break
            await asyncio.sleep(0.05)
    assert left["online"] is False
    # Leaving counts as being seen too: the time moves on to the disconnect.
    assert datetime.fromisoformat(left["last_seen"]) > datetime.fromisoformat(
        connected["last_seen"]
    )
    assert left["last_committed_seq"] == 0
