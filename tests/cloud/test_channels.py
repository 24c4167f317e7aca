"""``/api/v1/devices/{id}/channels``: listing, messages (newest first, paged), aggregates.

Channel rows are written straight into PostgreSQL, as the uplink stores them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.rig.cloud import CloudServer
from tests.rig.postgres import PostgresDatabase

T0 = datetime(2025, 6, 1, 12, tzinfo=UTC)
Message = tuple[str, int, datetime, dict[str, Any]]  # channel, seq, ts, payload


@pytest.fixture(scope="module")
def viewer(cloud: CloudServer) -> str:
    return cloud.user("viewer")[1]


def store(
    db: PostgresDatabase,
    device_id: uuid.UUID,
    messages: Sequence[Message] = (),
    aggregates: Sequence[tuple[str, int, datetime, dict[str, Any]]] = (),
) -> None:
    async def write() -> None:
        conn = await asyncpg.connect(db.dsn)
        try:
            await conn.executemany(
                "INSERT INTO channel_messages (device_id, channel, seq, ts, received_at, payload)"
                " VALUES ($1, $2, $3, $4, $4, $5::jsonb)",
                [(device_id, ch, seq, ts, json.dumps(p)) for ch, seq, ts, p in messages],
            )
            await conn.executemany(
                "INSERT INTO channel_aggregates (device_id, channel, seq, updated_at, payload)"
                " VALUES ($1, $2, $3, $4, $5::jsonb)",
                [(device_id, ch, seq, ts, json.dumps(p)) for ch, seq, ts, p in aggregates],
            )
        finally:
            await conn.close()

    asyncio.run(write())


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_list_channels(
    cloud: CloudServer, postgres_database: PostgresDatabase, viewer: str
) -> None:
    device_id, _ = cloud.device()
    other_id, _ = cloud.device()
    store(
        postgres_database,
        device_id,
        [("env", seq, T0 + timedelta(seconds=seq), {"t": seq}) for seq in (1, 2, 4)]
        + [("relay", 3, T0 + timedelta(hours=1), {"on": True})],
        [
            ("status", 5, T0 + timedelta(days=1), {"mode": "auto"}),
            ("relay", 3, T0 + timedelta(minutes=5), {"on": True}),
        ],
    )
    store(postgres_database, other_id, [("env", 1, T0, {"t": 0})])
    with cloud.http(viewer) as client:
        listed = client.get(f"/api/v1/devices/{device_id}/channels").json()
        assert listed == [
            {
                "channel": "env",
                "message_count": 3,
                "last_message_at": iso(T0 + timedelta(seconds=4)),
                "last_seq": 4,
                "aggregate_updated_at": None,
                "updated_at": iso(T0 + timedelta(seconds=4)),
            },
            {
                "channel": "relay",
                "message_count": 1,
                "last_message_at": iso(T0 + timedelta(hours=1)),
                "last_seq": 3,
                "aggregate_updated_at": iso(T0 + timedelta(minutes=5)),
                "updated_at": iso(T0 + timedelta(hours=1)),
            },
            {
                "channel": "status",
                "message_count": 0,
                "last_message_at": None,
                "last_seq": None,
                "aggregate_updated_at": iso(T0 + timedelta(days=1)),
                "updated_at": iso(T0 + timedelta(days=1)),
            },
        ]
        silent, _ = cloud.device()
        assert client.get(f"/api/v1/devices/{silent}/channels").json() == []
        ghost = uuid.uuid4()
        missing = client.get(f"/api/v1/devices/{ghost}/channels")
        assert (missing.status_code, missing.json()["detail"]) == (404, f"no device {ghost}")
    with cloud.http() as anonymous:
        assert anonymous.get(f"/api/v1/devices/{device_id}/channels").status_code == 401


def test_messages_newest_first_and_paged_without_gaps(
    cloud: CloudServer, postgres_database: PostgresDatabase, viewer: str
) -> None:
    device_id, _ = cloud.device()
    # 25 messages, three to a timestamp, so page boundaries fall inside ties.
    messages = [("env", seq, T0 + timedelta(seconds=seq // 3), {"n": seq}) for seq in range(25)]
    store(postgres_database, device_id, [*messages, ("other", 99, T0, {"n": -1})])
    path = f"/api/v1/devices/{device_id}/channels/env/messages"
    expected = [m[1] for m in sorted(messages, key=lambda m: (m[2], m[1]), reverse=True)]

    seen: list[int] = []
    params: dict[str, Any] = {"limit": 10}
    with cloud.http(viewer) as client:
        while True:
            page = client.get(path, params=params).json()
            seen += [m["seq"] for m in page["messages"]]
            if page["next_before"] is None:
                break
            params = {
                "limit": 10,
                "before": page["next_before"],
                "before_seq": page["next_before_seq"],
            }
        assert seen == expected
        assert len(page["messages"]) == 5

        first = client.get(path, params={"limit": 2}).json()
        assert (first["device_id"], first["channel"]) == (str(device_id), "env")
        assert first["messages"][0] == {
            "seq": 24,
            "ts": iso(T0 + timedelta(seconds=8)),
            "received_at": iso(T0 + timedelta(seconds=8)),
            "payload": {"n": 24},
        }
        older = client.get(path, params={"before": iso(T0 + timedelta(seconds=2))}).json()
        assert [m["seq"] for m in older["messages"]] == [5, 4, 3, 2, 1, 0]
        assert older["next_before"] is None
        by_seq = client.get(path, params={"before_seq": 3}).json()
        assert [m["seq"] for m in by_seq["messages"]] == [2, 1, 0]
        window = {"start": iso(T0 + timedelta(seconds=2)), "end": iso(T0 + timedelta(seconds=4))}
        ranged = client.get(path, params=window).json()
        assert [m["seq"] for m in ranged["messages"]] == [11, 10, 9, 8, 7, 6]


def test_message_query_errors(
    cloud: CloudServer, postgres_database: PostgresDatabase, viewer: str
) -> None:
    device_id, _ = cloud.device()
    store(postgres_database, device_id, [("env", 1, T0, {"t": 1})])
    base = f"/api/v1/devices/{device_id}/channels"
    with cloud.http(viewer) as client:
        for limit in (0, 1001):
            assert client.get(f"{base}/env/messages", params={"limit": limit}).status_code == 422
        assert client.get(f"{base}/env/messages", params={"limit": 1000}).status_code == 200
        same = {"start": iso(T0), "end": iso(T0)}
        reply = client.get(f"{base}/env/messages", params=same)
        assert reply.status_code == 422
        assert "must be before end" in reply.json()["detail"]
        naive = client.get(f"{base}/env/messages", params={"before": "2025-06-01T12:00:00"})
        assert (naive.status_code, naive.json()["detail"]) == (
            422,
            "before needs a timezone, e.g. 2026-01-01T00:00:00Z",
        )
        unknown = client.get(f"{base}/nope/messages")
        assert (unknown.status_code, unknown.json()["detail"]) == (
            404,
            f"device {device_id} has no channel 'nope'",
        )
        ghost = uuid.uuid4()
        gone = client.get(f"/api/v1/devices/{ghost}/channels/env/messages")
        assert (gone.status_code, gone.json()["detail"]) == (404, f"no device {ghost}")


def test_aggregate(cloud: CloudServer, postgres_database: PostgresDatabase, viewer: str) -> None:
    device_id, _ = cloud.device()
    state = {"mode": "auto", "setpoint": 21.5, "relays": [True, False], "nested": {"a": None}}
    store(
        postgres_database,
        device_id,
        [("env", 1, T0, {"t": 1})],
        [("status", 7, T0 + timedelta(minutes=1), state)],
    )
    base = f"/api/v1/devices/{device_id}/channels"
    with cloud.http(viewer) as client:
        assert client.get(f"{base}/status/aggregate").json() == {
            "device_id": str(device_id),
            "channel": "status",
            "payload": state,
            "seq": 7,
            "updated_at": iso(T0 + timedelta(minutes=1)),
        }
        assert client.get(f"{base}/status/messages").json()["messages"] == []
        none_yet = client.get(f"{base}/env/aggregate")
        assert (none_yet.status_code, none_yet.json()["detail"]) == (
            404,
            f"channel 'env' of device {device_id} has no aggregate yet",
        )
        unknown = client.get(f"{base}/nope/aggregate")
        assert (unknown.status_code, unknown.json()["detail"]) == (
            404,
            f"device {device_id} has no channel 'nope'",
        )
        ghost = uuid.uuid4()
        gone = client.get(f"/api/v1/devices/{ghost}/channels/status/aggregate")
        assert (gone.status_code, gone.json()["detail"]) == (404, f"no device {ghost}")
    with cloud.http() as anonymous:
        assert anonymous.get(f"{base}/status/aggregate").status_code == 401
