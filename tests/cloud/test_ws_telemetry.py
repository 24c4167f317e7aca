"""``/ws/controller/telemetry`` against a real cloud process on PostgreSQL, over real sockets.

The door sends nothing for a fully stored batch (as WebMACS), so stored rows are awaited in
the database; a batch that earns an error message is committed before that message is sent.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError

from cloud.core.security import issue_access_token
from tests.rig.cloud import JWT_SECRET, CloudServer, unique
from tests.rig.postgres import PostgresDatabase, stored_values

PATH = "/ws/controller/telemetry"


async def insert_sensor(dsn: str, device_id: uuid.UUID | None = None) -> uuid.UUID:
    """A sensor row; with ``device_id`` it is fed by that device's uplink only."""
    public_id = uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO sensors (public_id, device_id, key, name, unit, created_at)"
            " VALUES ($1, $2, $3, $4, '', now())",
            public_id,
            device_id,
            unique("key") if device_id else None,
            unique("sensor"),
        )
    finally:
        await conn.close()
    return public_id


async def wait_stored(dsn: str, sensor: uuid.UUID, count: int, timeout: float = 10) -> list[float]:
    """The sensor's values once ``count`` are stored (a deadline only guards against a hang)."""
    for _ in range(int(timeout / 0.05)):
        values = await stored_values(dsn, sensor)
        if len(values) >= count:
            return values
        await asyncio.sleep(0.05)
    pytest.fail(f"{count} datapoints for {sensor} never appeared (have {len(values)})")


async def error_of(ws: ClientConnection) -> str:
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert set(reply) == {"type", "message"}
    assert reply["type"] == "error"
    message: str = reply["message"]
    return message


async def no_reply_before_the_next(ws: ClientConnection) -> None:
    """The batches sent so far earned no reply: the next reply is the one an oversize batch
    sent now gets (the door answers in order)."""
    await ws.send(batch(*([{"value": 1}] * 501)))
    assert await error_of(ws) == "Batch too large (501), max 500"


def batch(*items: object) -> str:
    return json.dumps({"datapoints": list(items)})  # NaN/Infinity written as JS literals


def url(cloud: CloudServer, token: str | None) -> str:
    return f"{cloud.ws_url}{PATH}" + (f"?token={token}" if token is not None else "")


@pytest.fixture
def operator(cloud: CloudServer) -> str:
    return cloud.user("operator")[1]


async def test_batch_is_stored_with_server_time(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    dsn = postgres_database.dsn
    sensor = await insert_sensor(dsn)
    sent = datetime.now(UTC)
    async with connect(url(cloud, operator)) as ws:
        await ws.send(batch(*({"value": v, "event_public_id": str(sensor)} for v in (1, 2.5, -3))))
        assert await wait_stored(dsn, sensor, 3) == [1.0, 2.5, -3.0]
    async with connect(url(cloud, cloud.admin_token())) as ws:  # admin outranks operator
        await ws.send(batch({"value": 4, "event_public_id": str(sensor)}).encode())  # binary
        assert (await wait_stored(dsn, sensor, 4))[-1] == 4.0
    conn = await asyncpg.connect(dsn)
    try:
        stamped = await conn.fetchrow(
            "SELECT min(d.ts) AS first, max(d.ts) AS last FROM datapoints d"
            " JOIN sensors s ON s.id = d.sensor_id WHERE s.public_id = $1",
            sensor,
        )
    finally:
        await conn.close()
    # The door stamps each batch with the time it arrived (WebMACS sends no times).
    assert sent <= stamped["first"] <= stamped["last"] <= datetime.now(UTC)


async def test_a_connection_s_batches_are_stored_in_the_order_sent(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    """Batches sent back to back are stored while later ones arrive, and in several groups
    at once, yet each connection's come out in the order it sent them (their times too)."""
    dsn = postgres_database.dsn
    sensor = await insert_sensor(dsn)
    others = [await insert_sensor(dsn) for _ in range(2)]
    sent = [float(n) for n in range(200)]

    async def other_connection(other: uuid.UUID) -> None:
        async with connect(url(cloud, operator)) as ws:
            for n in range(100):
                await ws.send(
                    batch(*({"value": n, "event_public_id": str(other)} for _ in range(50)))
                )
            await wait_stored(dsn, other, 5000)

    async with connect(url(cloud, operator)) as ws:
        busy = [asyncio.create_task(other_connection(other)) for other in others]
        for value in sent:
            await ws.send(batch({"value": value, "event_public_id": str(sensor)}))
        assert await wait_stored(dsn, sensor, len(sent)) == sent
        await asyncio.gather(*busy)


async def test_500_accepted_501_refused(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    dsn = postgres_database.dsn
    full, over = await insert_sensor(dsn), await insert_sensor(dsn)
    async with connect(url(cloud, operator)) as ws:
        await ws.send(batch(*({"value": i, "event_public_id": str(over)} for i in range(501))))
        assert await error_of(ws) == "Batch too large (501), max 500"
        await ws.send(batch(*({"value": i, "event_public_id": str(full)} for i in range(500))))
        assert len(await wait_stored(dsn, full, 500)) == 500
    assert await stored_values(dsn, over) == []


async def test_bad_items_dropped_without_a_reply_and_counted_good_ones_stored(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    dsn = postgres_database.dsn
    good, unknown = await insert_sensor(dsn), uuid.uuid4()
    device_id, _ = cloud.device()
    foreign = await insert_sensor(dsn, device_id)
    ok = str(good)
    items = [
        {"value": 1.5, "event_public_id": ok},
        {"value": float("nan"), "event_public_id": ok},
        {"value": float("inf"), "event_public_id": ok},
        {"value": float("-inf"), "event_public_id": ok},
        {"value": "12", "event_public_id": ok},  # a number as text: WebMACS takes it too
        {"value": True, "event_public_id": ok},
        {"value": None, "event_public_id": ok},
        {"event_public_id": ok},
        {"value": 3},
        {"value": 3, "event_public_id": "not-a-uuid"},
        {"value": 3, "event_public_id": str(unknown)},
        {"value": 3, "event_public_id": str(foreign)},
        "oops",
        {},
        {"value": 2.5, "event_public_id": ok},
    ]
    text = batch(*items).replace('"value": 3}', '"value": 1e999}', 1)  # #8: out of range too
    refused_before = counter(cloud, "revlink_rejected_records_total")
    async with connect(url(cloud, operator)) as ws:
        await ws.send(text)
        await no_reply_before_the_next(ws)
    assert counter(cloud, "revlink_rejected_records_total") - refused_before == 12
    assert await stored_values(dsn, good) == [1.5, 12.0, 2.5]
    # The same items over HTTP: the answer names each refused one.
    with cloud.http(operator) as client:
        reply = client.post(
            "/api/v1/datapoints/batch", content=text, headers={"content-type": "application/json"}
        )
    assert reply.status_code == 201, reply.text
    message = "; ".join(f"#{r['index']} {r['reason']}" for r in reply.json()["refused"])
    assert message == (
        "#1 value must be a finite number, got NaN; "
        # The HTTP body is parsed before it is checked: Infinity and 1e999 look the same.
        "#2 value must be a finite number, got a number out of range; "
        "#3 value must be a finite number, got a number out of range; "
        "#5 value must be a finite number, got true; "
        "#6 value must be a finite number, got null; "
        "#7 value is missing; "
        "#8 value must be a finite number, got a number out of range, "
        "event_public_id is missing; "
        '#9 event_public_id must be a UUID, got "not-a-uuid"; '
        f"#10 unknown event_public_id {unknown}; "
        f"#11 foreign event_public_id {foreign}: it belongs to device {device_id}"
        " and is fed by its uplink; "
        '#12 must be an object, got "oops"; '
        "#13 value is missing, event_public_id is missing"
    )
    assert await stored_values(dsn, good) == [1.5, 12.0, 2.5, 1.5, 12.0, 2.5]
    assert await stored_values(dsn, foreign) == []


async def test_batch_without_valid_items_gets_webmacs_text(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    device_id, _ = cloud.device()
    foreign = await insert_sensor(postgres_database.dsn, device_id)
    async with connect(url(cloud, operator)) as ws:
        for text in (
            batch({"value": "x", "event_public_id": str(uuid.uuid4())}),
            batch({"value": None}, "oops"),
        ):
            await ws.send(text)
            assert await error_of(ws) == "No valid datapoints in batch"
        # Well-formed items of unknown or device-owned sensors, and an empty batch: WebMACS
        # drops them without a reply, and so does revlink.
        for text in (
            batch({"value": 1, "event_public_id": str(uuid.uuid4())}),
            batch({"value": 1, "event_public_id": str(foreign)}),
            batch(),
        ):
            await ws.send(text)
            await no_reply_before_the_next(ws)
    assert await stored_values(postgres_database.dsn, foreign) == []


async def test_broken_messages_keep_the_socket(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    sensor = await insert_sensor(postgres_database.dsn)
    async with connect(url(cloud, operator)) as ws:
        await ws.send('{"datapoints": [')
        assert (await error_of(ws)).startswith("Malformed JSON: ")
        for shape in ("[]", '{"points": []}', '{"datapoints": 5}', "42"):
            await ws.send(shape)
            assert (await error_of(ws)).startswith("Expected a JSON object")
        await ws.send(batch({"value": 1, "event_public_id": str(sensor), "pad": "x" * 1_100_000}))
        assert re.fullmatch(r"Frame too large \(\d+ bytes\), max 1048576 bytes", await error_of(ws))
        await ws.send(batch({"value": 9, "event_public_id": str(sensor)}))
        assert await wait_stored(postgres_database.dsn, sensor, 1) == [9.0]


def counter(cloud: CloudServer, name: str) -> float:
    text = httpx.get(f"{cloud.base_url}/metrics").text
    found = re.search(rf'^{name}{{door="telemetry"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_records_batches_and_refusals(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    names = ("ingested_records", "ingested_batches", "rejected_records")
    before = {n: counter(cloud, f"revlink_{n}_total") for n in names}
    sensor = str(await insert_sensor(postgres_database.dsn))
    async with connect(url(cloud, operator)) as ws:
        await ws.send(batch({"value": 1, "event_public_id": sensor}, {"value": None}))
        await no_reply_before_the_next(ws)
    after = {n: counter(cloud, f"revlink_{n}_total") for n in names}
    assert {n: after[n] - before[n] for n in names} == {
        "ingested_records": 1,
        "ingested_batches": 1,
        "rejected_records": 1,
    }


async def closed_with(address: str) -> tuple[int, str] | None:
    """Connect (the server accepts first) and return the close frame that follows."""
    async with connect(address) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosedError as closed:
            return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else None
    pytest.fail("the server sent a message instead of closing")


async def test_viewer_may_not_push(cloud: CloudServer) -> None:
    _, viewer = cloud.user("viewer")
    assert await closed_with(url(cloud, viewer)) == (1008, "Insufficient role: operator required")


async def test_refused_tokens_close_with_webmacs_reasons(cloud: CloudServer) -> None:
    _, revoked = cloud.user("operator")
    with cloud.http(revoked) as client:
        assert client.post("/api/v1/auth/logout").status_code == 200
    ghost, _ = issue_access_token(uuid.uuid4(), "admin", JWT_SECRET, timedelta(minutes=5))
    for token, reason in [
        (None, "Authentication required"),
        ("", "Authentication required"),
        ("not-a-jwt", "Invalid or expired token"),
        (revoked, "Token has been revoked"),
        (ghost, "User not found"),
    ]:
        assert await closed_with(url(cloud, token)) == (1008, reason)


async def test_an_open_socket_closes_when_its_user_loses_the_role(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    _, login = cloud.user("operator")
    with cloud.http(login) as client:
        public_id = client.get("/api/v1/auth/me").json()["public_id"]
        # An API token outlives its owner's role change; its power follows the owner's.
        token = client.post("/api/v1/tokens", json={"name": "controller"}).json()["token"]
    sensor = await insert_sensor(postgres_database.dsn)
    async with connect(url(cloud, token)) as ws:
        await ws.send(batch({"value": 1.0, "event_public_id": str(sensor)}))
        assert await wait_stored(postgres_database.dsn, sensor, 1) == [1.0]
        with cloud.http(cloud.admin_token()) as client:
            reply = client.put(f"/api/v1/users/{public_id}", json={"role": "viewer"})
            assert reply.status_code == 200, reply.text
        # The change is announced to the socket (no polling), so it closes at once.
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        1008,
        "Insufficient role: operator required",
    )


async def test_a_client_that_never_reads_is_never_stalled(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    """WebMACS's controller never reads its socket. Every batch here holds one unknown item;
    a reply to each would pile up unread in front of the client (and, given time, fill the
    buffers until the server's keepalive gives up on the socket). None is sent: the first
    reply the client finds is the one to its last, oversize batch; every good value lands."""
    dsn = postgres_database.dsn
    sensor = await insert_sensor(dsn)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(cloud.base_url.rsplit(":", 1)[1])))
    rounds = 500
    refused_before = counter(cloud, "revlink_rejected_records_total")
    async with connect(url(cloud, operator), sock=sock, compression=None, max_queue=1) as ws:
        for value in range(rounds):
            items = [{"value": value, "event_public_id": str(sensor)}]
            items.append({"value": 1, "event_public_id": str(uuid.uuid4())})
            await asyncio.wait_for(ws.send(batch(*items)), 10)
        values = await wait_stored(dsn, sensor, rounds, timeout=120)
        assert sorted(values) == [float(v) for v in range(rounds)]
        await no_reply_before_the_next(ws)  # still open, and nothing was queued for it
    assert counter(cloud, "revlink_rejected_records_total") - refused_before == rounds


async def test_dropped_items_reach_the_event_log_at_once_then_summed_until_close(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    email, token = cloud.user("operator")
    good, unknown = str(await insert_sensor(postgres_database.dsn)), str(uuid.uuid4())

    def entries() -> list[dict[str, object]]:
        with cloud.http(token) as client:
            reply = client.get(
                "/api/v1/logging", params={"kind": "telemetry.items_dropped", "search": email}
            )
        assert reply.status_code == 200, reply.text
        found: list[dict[str, object]] = reply.json()["data"]
        return found[::-1]  # oldest first

    async def logged(count: int) -> list[dict[str, object]]:
        for _ in range(100):
            if len(found := entries()) >= count:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"event log: {entries()}")

    async with connect(url(cloud, token)) as ws:
        await ws.send(batch({"value": 1, "event_public_id": good}))
        await no_reply_before_the_next(ws)
        assert entries() == []  # nothing dropped, nothing logged
        await ws.send(
            batch({"value": 1, "event_public_id": unknown}, {"value": 2, "event_public_id": good})
        )
        (first,) = await logged(1)
        # Within the interval (60 s) the next drops are only summed...
        await ws.send(batch({"value": 3, "event_public_id": unknown}))
        await ws.send(
            batch({"value": "x", "event_public_id": good}, {"value": 4, "event_public_id": good})
        )
        await no_reply_before_the_next(ws)
        assert len(entries()) == 1
    # ...and written once the socket closes.
    first, last = await logged(2)
    assert first["logging_type"] == "warning"
    assert (first["source"], first["kind"]) == ("telemetry", "telemetry.items_dropped")
    assert f"Telemetry from {email}: 1 of 3 datapoints dropped" in str(first["content"])
    assert "(1 for unknown events)" in str(first["content"])
    assert f"unknown event_public_id {unknown}" in str(first["content"])
    assert f"Telemetry from {email}: 2 of 3 datapoints dropped" in str(last["content"])
    assert "(1 for unknown events, 1 invalid)" in str(last["content"])
    await asyncio.sleep(0.5)
    assert len(entries()) == 2
