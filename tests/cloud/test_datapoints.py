"""``/api/v1/datapoints``: range queries with SQL downsampling, latest values, CSV export.

Datapoints are written straight into PostgreSQL (the storage contract the ingest doors
fulfil), then read back through a real cloud process.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.rig.cloud import CloudServer, unique
from tests.rig.postgres import PostgresDatabase

T0 = datetime(2025, 3, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


@pytest.fixture(scope="module")
def token(cloud: CloudServer) -> str:
    return cloud.user("operator")[1]


def insert(dsn: str, sensor_id: int, points: Sequence[tuple[datetime, float]]) -> None:
    async def copy() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            records = [(sensor_id, ts, value, None) for ts, value in points]
            await conn.copy_records_to_table(
                "datapoints",
                records=records,
                columns=["sensor_id", "ts", "value", "experiment_id"],
            )
        finally:
            await conn.close()

    asyncio.run(copy())


def make_sensor(
    cloud: CloudServer, db: PostgresDatabase, token: str, name: str | None = None
) -> tuple[str, int]:
    """A new sensor: (public_id, internal id for direct inserts)."""
    with cloud.http(token) as client:
        reply = client.post("/api/v1/sensors", json={"name": name or unique("s"), "unit": "°C"})
        assert reply.status_code == 201, reply.text
        public_id: str = reply.json()["public_id"]

    async def lookup() -> int:
        conn = await asyncpg.connect(db.dsn)
        try:
            query = "SELECT id FROM sensors WHERE public_id = $1"
            return int(await conn.fetchval(query, uuid.UUID(public_id)))
        finally:
            await conn.close()

    return public_id, asyncio.run(lookup())


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def get(cloud: CloudServer, token: str, path: str, **params: Any) -> Any:
    with cloud.http(token) as client:
        reply = client.get(path, params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def micros(delta: timedelta) -> int:
    return delta // US


def test_downsampling_matches_buckets_computed_here(
    cloud: CloudServer, postgres_database: PostgresDatabase, token: str
) -> None:
    public_id, sensor_id = make_sensor(cloud, postgres_database, token)
    start, end, max_points = T0, T0 + timedelta(hours=1), 97
    width = -(-micros(end - start) // max_points)  # 37,113,403 µs: not a round number
    rng = random.Random(7)
    inside = [
        (start + timedelta(microseconds=rng.randrange(micros(end - start))), rng.uniform(-50, 50))
        for _ in range(10_000)
    ]
    # On a boundary a point starts the later bucket; start is in, end and before start are out.
    inside += [(start + k * width * US, float(k)) for k in (0, 1, 50, 96)]
    inside += [(start + k * width * US - US, -float(k)) for k in (1, 50, 96)]
    outside = [(end, 1e6), (start - US, -1e6), (end + timedelta(seconds=5), 1e6)]
    insert(postgres_database.dsn, sensor_id, inside + outside)

    window = {"sensor": public_id, "start": iso(start), "end": iso(end)}
    body = get(cloud, token, "/api/v1/datapoints", max_points=max_points, **window)

    buckets: dict[int, list[float]] = {}
    for ts, value in inside:
        buckets.setdefault(micros(ts - start) // width, []).append(value)
    assert body["downsampled"] is True
    assert body["bucket_seconds"] == pytest.approx(width / 1e6)
    assert body["count"] == len(inside) == 10_007
    assert len(body["points"]) == len(buckets) <= max_points
    for point, index in zip(body["points"], sorted(buckets), strict=True):
        values = buckets[index]
        assert datetime.fromisoformat(point["t"]) == start + index * width * US
        assert (point["min"], point["max"], point["count"]) == (
            min(values),
            max(values),
            len(values),
        )
        assert point["avg"] == pytest.approx(sum(values) / len(values), rel=1e-9, abs=1e-9)
        assert point["value"] == point["avg"]

    hundred = get(cloud, token, "/api/v1/datapoints", max_points=100, **window)
    assert hundred["downsampled"]
    assert len(hundred["points"]) <= 100
    assert sum(p["count"] for p in hundred["points"]) == 10_007
    assert hundred["points"][0]["t"] == iso(start)
    assert hundred["bucket_seconds"] == 36.0


def test_few_points_come_back_raw(
    cloud: CloudServer, postgres_database: PostgresDatabase, token: str
) -> None:
    public_id, sensor_id = make_sensor(cloud, postgres_database, token)
    points = [(T0 + timedelta(seconds=s), v) for s, v in ((30, 3.5), (10, 1.25), (20, -2.0))]
    insert(postgres_database.dsn, sensor_id, points)
    window = {"sensor": public_id, "start": iso(T0), "end": iso(T0 + timedelta(minutes=1))}

    raw = get(cloud, token, "/api/v1/datapoints", max_points=3, **window)
    assert (raw["downsampled"], raw["bucket_seconds"], raw["count"]) == (False, None, 3)
    assert raw["points"] == [
        {"t": iso(ts), "value": v, "min": v, "max": v, "avg": v, "count": 1}
        for ts, v in sorted(points)
    ]
    assert raw["unit"] == "°C"

    squeezed = get(cloud, token, "/api/v1/datapoints", max_points=2, **window)
    assert squeezed["downsampled"] is True
    assert [(p["min"], p["max"], p["count"]) for p in squeezed["points"]] == [
        (-2.0, 1.25, 2),
        (3.5, 3.5, 1),
    ]
    assert [p["t"] for p in squeezed["points"]] == [iso(T0), iso(T0 + timedelta(seconds=30))]


def test_start_is_inclusive_and_end_exclusive(
    cloud: CloudServer, postgres_database: PostgresDatabase, token: str
) -> None:
    public_id, sensor_id = make_sensor(cloud, postgres_database, token)
    start, end = T0 + timedelta(hours=5), T0 + timedelta(hours=6)
    insert(
        postgres_database.dsn,
        sensor_id,
        [(start - US, 0.0), (start, 1.0), (end - US, 2.0), (end, 3.0)],
    )
    body = get(cloud, token, "/api/v1/datapoints", sensor=public_id, start=iso(start), end=iso(end))
    assert [p["value"] for p in body["points"]] == [1.0, 2.0]
    offset = get(
        cloud,
        token,
        "/api/v1/datapoints",
        sensor=public_id,
        start=(start + timedelta(hours=2)).isoformat().replace("+00:00", "+02:00"),
        end=(end + timedelta(hours=2)).isoformat().replace("+00:00", "+02:00"),
    )
    assert [p["value"] for p in offset["points"]] == [1.0, 2.0]
    assert offset["start"] == iso(start)


def test_default_range_is_the_last_day(
    cloud: CloudServer, postgres_database: PostgresDatabase, token: str
) -> None:
    public_id, sensor_id = make_sensor(cloud, postgres_database, token)
    now = datetime.now(UTC)
    insert(
        postgres_database.dsn,
        sensor_id,
        [(now - timedelta(hours=1), 1.0), (now - timedelta(hours=25), 2.0)],
    )
    body = get(cloud, token, "/api/v1/datapoints", sensor=public_id)
    assert [p["value"] for p in body["points"]] == [1.0]
    span = datetime.fromisoformat(body["end"]) - datetime.fromisoformat(body["start"])
    assert span == timedelta(hours=24)


def test_bad_requests_are_explained(
    cloud: CloudServer, postgres_database: PostgresDatabase, token: str
) -> None:
    public_id, _ = make_sensor(cloud, postgres_database, token)
    unknown = str(uuid.uuid4())
    with cloud.http(token) as client:

        def fails(path: str, **params: Any) -> tuple[int, Any]:
            reply = client.get(path, params=params)
            return reply.status_code, reply.json()["detail"]

        code, detail = fails("/api/v1/datapoints", sensor=public_id, start=iso(T0), end=iso(T0))
        assert (code, "must be before end" in detail) == (422, True)
        code, detail = fails("/api/v1/datapoints", sensor=public_id, start="2025-03-01T00:00:00")
        assert (code, "start needs a timezone" in detail) == (422, True)
        for bad in (0, 10_001):
            assert fails("/api/v1/datapoints", sensor=public_id, max_points=bad)[0] == 422
        assert fails("/api/v1/datapoints")[0] == 422
        assert fails("/api/v1/datapoints", sensor="not-a-uuid")[0] == 422
        for path in ("/api/v1/datapoints", "/api/v1/datapoints/export.csv"):
            assert fails(path, sensor=unknown) == (404, f"no sensor {unknown}")
        assert fails("/api/v1/datapoints/latest", sensor=[public_id, unknown]) == (
            404,
            f"no sensor {unknown}",
        )
    with cloud.http() as anonymous:
        assert anonymous.get("/api/v1/datapoints", params={"sensor": public_id}).status_code == 401
        assert anonymous.get("/api/v1/datapoints/latest").status_code == 401


def test_latest_per_sensor(
    cloud: CloudServer, postgres_database: PostgresDatabase, token: str
) -> None:
    (a, a_id), (b, b_id), (empty, _) = (
        make_sensor(cloud, postgres_database, token) for _ in range(3)
    )
    # Inserted out of time order: latest means newest source time, not newest row.
    insert(postgres_database.dsn, a_id, [(T0 + timedelta(minutes=m), float(m)) for m in (5, 9, 1)])
    insert(postgres_database.dsn, b_id, [(T0 + timedelta(days=1), -4.5), (T0, 8.0)])

    _, viewer = cloud.user("viewer")
    body = get(cloud, viewer, "/api/v1/datapoints/latest", sensor=[a, b, empty])
    by_sensor = {row["sensor_public_id"]: row for row in body}
    assert set(by_sensor) == {a, b}
    # WebMACS's controller matches actuators on event_public_id: the same id.
    assert all(row["event_public_id"] == row["sensor_public_id"] for row in body)
    assert (by_sensor[a]["value"], by_sensor[a]["timestamp"]) == (
        9.0,
        iso(T0 + timedelta(minutes=9)),
    )
    assert (by_sensor[b]["value"], by_sensor[b]["unit"]) == (-4.5, "°C")

    everything = {
        row["sensor_public_id"]: row["value"]
        for row in get(cloud, viewer, "/api/v1/datapoints/latest")
    }
    assert (everything[a], everything[b]) == (9.0, -4.5)
    assert empty not in everything


def read_csv(cloud: CloudServer, token: str, **params: Any) -> tuple[list[list[str]], Any]:
    with (
        cloud.http(token) as client,
        client.stream("GET", "/api/v1/datapoints/export.csv", params=params) as reply,
    ):
        assert reply.status_code == 200, reply.read()
        text = "".join(reply.iter_text())
        return list(csv.reader(io.StringIO(text))), reply.headers


def test_csv_export_is_ordered_and_complete(
    cloud: CloudServer, postgres_database: PostgresDatabase, token: str
) -> None:
    name = unique('tank "north", top')
    a, a_id = make_sensor(cloud, postgres_database, token, name)
    b, b_id = make_sensor(cloud, postgres_database, token)
    start, end = T0, T0 + timedelta(hours=2)
    a_points = [(start + timedelta(seconds=2 * i), i * 0.1) for i in range(3000)]
    b_points = [(start + timedelta(seconds=2 * i + 1), -i / 3) for i in range(3000)]
    insert(postgres_database.dsn, a_id, [*a_points, (end, 99.0), (start - US, 99.0)])
    insert(postgres_database.dsn, b_id, list(reversed(b_points)))
    _, viewer = cloud.user("viewer")

    rows, headers = read_csv(cloud, viewer, sensor=[a, b], start=iso(start), end=iso(end))

    assert headers["content-type"].startswith("text/csv")
    assert headers["content-disposition"] == (
        'attachment; filename="datapoints_20250301T000000Z_20250301T020000Z.csv"'
    )
    assert rows[0] == ["timestamp", "value", "sensor_public_id", "sensor_name", "unit"]
    expected = sorted(
        [(ts, v, a, name) for ts, v in a_points] + [(ts, v, b, None) for ts, v in b_points]
    )
    assert len(rows) - 1 == len(expected) == 6000
    for row, (ts, value, sensor, sensor_name) in zip(rows[1:], expected, strict=True):
        assert datetime.fromisoformat(row[0]) == ts
        assert (float(row[1]), row[2], row[4]) == (value, sensor, "°C")
        if sensor_name is not None:
            assert row[3] == sensor_name
    assert rows[1][0] == "2025-03-01T00:00:00.000000Z"

    empty_rows, _ = read_csv(cloud, token, sensor=a, start=iso(end + US), end=iso(end + 2 * US))
    assert empty_rows == [["timestamp", "value", "sensor_public_id", "sensor_name", "unit"]]


def test_webmacs_series_keys_recent_values_by_event_and_keeps_its_limits(
    cloud: CloudServer, postgres_database: PostgresDatabase, token: str
) -> None:
    now = datetime.now(UTC)
    recent, recent_id = make_sensor(cloud, postgres_database, token)
    dense, dense_id = make_sensor(cloud, postgres_database, token)
    insert(postgres_database.dsn, recent_id, [(now - timedelta(minutes=m), m) for m in (90, 5, 1)])
    many = [(now - timedelta(seconds=s), float(s)) for s in range(1, 1201)]
    insert(postgres_database.dsn, dense_id, many)

    def series(**body: Any) -> tuple[int, Any]:
        with cloud.http(token) as client:
            reply = client.post("/api/v1/datapoints/series", json=body)
        return reply.status_code, reply.json()

    code, body = series(event_public_ids=[recent, dense], minutes=60, max_points=10)
    assert code == 200, body
    assert set(body) == {recent, dense}
    # Oldest first; the value from 90 minutes ago is outside the hour.
    assert [(p["event_public_id"], p["value"]) for p in body[recent]] == [(recent, 5), (recent, 1)]
    assert [p["timestamp"] for p in body[recent]] == sorted(p["timestamp"] for p in body[recent])
    # 1,200 values (each its age in seconds) in the hour; at most 10 come back, each the
    # average of its stretch of time, so older stretches average higher ages.
    averages = [p["value"] for p in body[dense]]
    assert 1 < len(averages) <= 10
    assert averages == sorted(averages, reverse=True)
    assert 1 <= averages[-1] < averages[0] <= 1200

    assert series(event_public_ids=[dense], max_points=2000)[0] == 200
    for bad in (
        {"event_public_ids": []},
        {"event_public_ids": [recent] * 21},
        {"event_public_ids": [recent], "max_points": 9},
        {"event_public_ids": [recent], "max_points": 2001},
        {"event_public_ids": [recent], "minutes": 0},
        {"event_public_ids": [recent], "minutes": 14_401},
    ):
        assert series(**bad)[0] == 422, bad
    assert series(event_public_ids=[str(uuid.uuid4())])[0] == 404
