"""The read side on SQLite (the embedded default): sensors, downsampling, latest, CSV.

A second cloud process runs on a migrated SQLite file; datapoints are written with sqlite3 in
SQLAlchemy's storage format ("YYYY-MM-DD HH:MM:SS.ffffff", UTC; UUIDs as 32 hex digits).
"""

from __future__ import annotations

import csv
import io
import random
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.db.migrate import upgrade
from tests.rig.cloud import CloudServer, start_cloud

T0 = datetime(2025, 9, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


@pytest.fixture(scope="module")
def sqlite_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CloudServer, Path]]:
    folder = tmp_path_factory.mktemp("sqlite-cloud")
    path = folder / "revlink.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    with start_cloud(url, folder / "logs") as server:
        yield server, path


def insert(path: Path, public_id: str, points: Sequence[tuple[datetime, float]]) -> None:
    with sqlite3.connect(path) as conn:
        (sensor_id,) = conn.execute(
            "SELECT id FROM sensors WHERE public_id = ?", (uuid.UUID(public_id).hex,)
        ).fetchone()
        conn.executemany(
            "INSERT INTO datapoints (sensor_id, ts, value) VALUES (?, ?, ?)",
            [
                (
                    sensor_id,
                    ts.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    v,
                )
                for ts, v in points
            ],
        )
    conn.close()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_sqlite_read_side(sqlite_cloud: tuple[CloudServer, Path]) -> None:
    server, path = sqlite_cloud
    with server.http() as anonymous:
        assert anonymous.get("/healthz").json()["database"] == "sqlite"
    with server.http(server.admin_token()) as client:
        made = [
            client.post("/api/v1/sensors", json={"name": name, "unit": "V", "max_value": 1e3})
            for name in ("supply, main", "backup")
        ]
        assert [m.status_code for m in made] == [201, 201]
        main, backup = (m.json()["public_id"] for m in made)
        assert client.get(f"/api/v1/sensors/{main}").json()["name"] == "supply, main"

    start, end, max_points = T0, T0 + timedelta(minutes=10), 50
    width = -(-((end - start) // US) // max_points)
    rng = random.Random(3)
    inside = [
        (start + rng.randrange((end - start) // US) * US, rng.uniform(0, 24)) for _ in range(2000)
    ]
    inside += [(start, 100.0), (start + width * US, 200.0), (end - US, 300.0)]
    insert(path, main, [*inside, (end, -1.0), (start - US, -1.0)])
    insert(path, backup, [(start + timedelta(seconds=1), 7.5), (start, 6.0)])

    with server.http(server.admin_token()) as client:
        window: dict[str, Any] = {"sensor": main, "start": iso(start), "end": iso(end)}
        body = client.get("/api/v1/datapoints", params={**window, "max_points": max_points}).json()
        buckets: dict[int, list[float]] = {}
        for ts, value in inside:
            buckets.setdefault(((ts - start) // US) // width, []).append(value)
        assert body["downsampled"] is True
        assert body["count"] == len(inside)
        assert len(body["points"]) == len(buckets) <= max_points
        for point, index in zip(body["points"], sorted(buckets), strict=True):
            values = buckets[index]
            assert datetime.fromisoformat(point["t"]) == start + index * width * US
            assert (point["min"], point["max"], point["count"]) == (
                min(values),
                max(values),
                len(values),
            )
            assert point["avg"] == pytest.approx(sum(values) / len(values), rel=1e-9)

        raw = client.get(
            "/api/v1/datapoints", params={**window, "end": iso(start + US), "max_points": 5}
        ).json()
        assert raw["downsampled"] is False
        assert raw["points"] == [
            {"t": iso(start), "value": 100.0, "min": 100.0, "max": 100.0, "avg": 100.0, "count": 1}
        ]

        latest = client.get("/api/v1/datapoints/latest", params={"sensor": [main, backup]}).json()
        assert {(r["sensor_public_id"], r["value"], r["timestamp"]) for r in latest} == {
            (main, -1.0, iso(end)),  # latest ignores ranges: the point at `end` is newest
            (backup, 7.5, iso(start + timedelta(seconds=1))),
        }

        with client.stream(
            "GET", "/api/v1/datapoints/export.csv", params={**window, "sensor": [main, backup]}
        ) as reply:
            assert reply.headers["content-type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO("".join(reply.iter_text()))))
    assert rows[0] == ["timestamp", "value", "sensor_public_id", "sensor_name", "unit"]
    assert len(rows) - 1 == len(inside) + 2
    stamps = [datetime.fromisoformat(r[0]) for r in rows[1:]]
    assert stamps == sorted(stamps)
    assert (stamps[0], stamps[-1]) == (start, end - US)
    assert rows[-1][1:] == ["300.0", main, "supply, main", "V"]
    assert {tuple(r[2:]) for r in rows[1:]} == {
        (main, "supply, main", "V"),
        (backup, "backup", "V"),
    }
