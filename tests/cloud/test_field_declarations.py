"""Field declarations (``$fields``) and ``no_datapoints`` records at the uplink door.

Each test runs on PostgreSQL (the run's cloud) and on the embedded SQLite default: the
declarations are applied with executemany UPDATEs whose SQL differs between the two.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from cloud.db.migrate import upgrade
from revlink.uplink.v1 import uplink_pb2 as pb
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.postgres import PostgresServer
from tests.rig.uplink import record, uplink_client


@pytest.fixture(scope="module")
def sqlite_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudServer]:
    folder = tmp_path_factory.mktemp("declarations-sqlite")
    url = f"sqlite+aiosqlite:///{folder / 'cloud.db'}"
    upgrade(url)
    with start_cloud(url, folder / "logs") as server:
        yield server


@pytest.fixture(params=["postgresql", "sqlite"])
def any_cloud(request: pytest.FixtureRequest) -> CloudServer:
    name = "cloud" if request.param == "postgresql" else "sqlite_cloud"
    server: CloudServer = request.getfixturevalue(name)
    return server


def declaring(seq: int, channel: str, fields: dict[str, Any], **kw: Any) -> pb.Record:
    """A record as ``declare_fields`` sends it: patch-only, no datapoints."""
    rec = record(seq, channel, aggregate={"$fields": fields}, **kw)
    rec.no_datapoints = True
    return rec


async def send(cloud: CloudServer, token: str, *batches: list[pb.Record]) -> None:
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        for batch in batches:
            ack, errors = await link.batch(*batch)
            assert errors == []
            assert ack is not None
            assert ack.rejected == 0


def sensors_of(cloud: CloudServer, device_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get("/api/v1/sensors", params={"device_id": str(device_id)})
        assert reply.status_code == 200, reply.text
        return {s["key"]: s for s in reply.json()}


def shown(sensor: dict[str, Any]) -> tuple[str, str]:
    return sensor["name"], sensor["unit"]


async def test_declarations_reach_sensors_registered_before_and_after(
    any_cloud: CloudServer,
) -> None:
    device_id, token = any_cloud.device()
    declared = {
        "temperature": {"unit": "degC", "name": "Boiler temperature"},
        "flow.rate": {"unit": "l/h"},
        "valve": {"name": "Valve"},  # never a number: never a sensor
    }
    await send(
        any_cloud,
        token,
        [record(1, "boiler", message={"temperature": 61.5, "pressure": 1.2})],
        [declaring(2, "boiler", declared)],
        [record(3, "boiler", message={"temperature": 62, "flow": {"rate": 3}, "valve": True})],
    )
    found = sensors_of(any_cloud, device_id)
    assert set(found) == {"boiler.temperature", "boiler.pressure", "boiler.flow.rate"}
    temperature = found["boiler.temperature"]
    assert shown(temperature) == ("Boiler temperature", "degC")
    assert (temperature["declared_name"], temperature["declared_unit"]) == (
        "Boiler temperature",
        "degC",
    )
    assert (temperature["name_edited"], temperature["unit_edited"]) == (False, False)
    assert shown(found["boiler.pressure"]) == ("boiler.pressure", "")
    assert found["boiler.pressure"]["declared_unit"] is None
    # Registered after the declaration: it takes what it declares and no more.
    assert shown(found["boiler.flow.rate"]) == ("boiler.flow.rate", "l/h")
    with any_cloud.http(any_cloud.admin_token()) as client:
        aggregate = client.get(f"/api/v1/devices/{device_id}/channels/boiler/aggregate").json()
    assert aggregate["payload"] == {"$fields": declared}


async def test_a_declaration_in_the_record_that_first_carries_the_field(
    any_cloud: CloudServer,
) -> None:
    device_id, token = any_cloud.device()
    first = record(
        1,
        "plugin.sim",
        message={"tank_temp": 20.5, "line_pressure": 2.0},
        aggregate={
            "readings": {"tank_temp": 20.5, "line_pressure": 2.0},
            "$fields": {
                "tank_temp": {"unit": "degC", "name": "Tank temperature"},
                "line_pressure": {"unit": "bar", "name": "Line pressure"},
            },
        },
    )
    await send(any_cloud, token, [first, record(2, "other", message={"x": 1})])
    found = sensors_of(any_cloud, device_id)
    assert {k: shown(s) for k, s in found.items()} == {
        "plugin.sim.tank_temp": ("Tank temperature", "degC"),
        "plugin.sim.line_pressure": ("Line pressure", "bar"),
        "other.x": ("other.x", ""),
    }


async def test_a_person_s_edit_wins_over_later_declarations_until_cleared(
    any_cloud: CloudServer,
) -> None:
    device_id, token = any_cloud.device()
    key = "line.pressure"
    await send(
        any_cloud,
        token,
        [declaring(1, "line", {"pressure": {"unit": "bar", "name": "Line pressure"}})],
        [record(2, "line", message={"pressure": 2.5})],
    )
    sensor = sensors_of(any_cloud, device_id)[key]
    path = f"/api/v1/sensors/{sensor['public_id']}"
    _, operator = any_cloud.user("operator")
    with any_cloud.http(operator) as client:
        # As the dashboard's form saves: every field, only the unit changed.
        edited = client.patch(
            path, json={"name": "Line pressure", "unit": "psi", "min_value": 0, "max_value": None}
        ).json()
    assert shown(edited) == ("Line pressure", "psi")
    assert (edited["name_edited"], edited["unit_edited"]) == (False, True)

    await send(
        any_cloud, token, [declaring(3, "line", {"pressure": {"unit": "kPa", "name": "Pressure"}})]
    )
    after = sensors_of(any_cloud, device_id)[key]
    assert shown(after) == ("Pressure", "psi")  # the name follows, the edited unit stays
    assert (after["declared_name"], after["declared_unit"]) == ("Pressure", "kPa")

    with any_cloud.http(operator) as client:
        cleared = client.patch(path, json={"unit": None}).json()
    assert shown(cleared) == ("Pressure", "kPa")
    assert cleared["unit_edited"] is False
    await send(any_cloud, token, [declaring(4, "line", {"pressure": {"unit": "Pa"}})])
    assert shown(sensors_of(any_cloud, device_id)[key]) == ("Pressure", "Pa")

    with any_cloud.http(operator) as client:
        renamed = client.patch(path, json={"name": "  Inlet  "}).json()
        assert (renamed["name"], renamed["name_edited"]) == ("Inlet", True)
        await send(any_cloud, token, [declaring(5, "line", {"pressure": {"name": "P"}})])
        assert client.get(path).json()["name"] == "Inlet"
        back = client.patch(path, json={"name": None}).json()
    assert (back["name"], back["name_edited"]) == ("P", False)


async def test_clearing_an_undeclared_field_returns_it_to_the_defaults(
    any_cloud: CloudServer,
) -> None:
    device_id, token = any_cloud.device()
    await send(any_cloud, token, [record(1, "tank", message={"level": 3})])
    sensor = sensors_of(any_cloud, device_id)["tank.level"]
    _, operator = any_cloud.user("operator")
    path = f"/api/v1/sensors/{sensor['public_id']}"
    with any_cloud.http(operator) as client:
        client.patch(path, json={"name": "Level", "unit": "%"})
        back = client.patch(path, json={"name": None, "unit": None}).json()
    assert shown(back) == ("tank.level", "")
    assert (back["name_edited"], back["unit_edited"]) == (False, False)


async def test_records_flagged_no_datapoints_are_stored_but_make_no_sensors(
    any_cloud: CloudServer,
) -> None:
    device_id, token = any_cloud.device()
    outcome = record(
        1,
        "plugin.valve",
        aggregate={"writes": {"setpoint": {"requested": 42, "written": 40, "clamped": True}}},
    )
    outcome.no_datapoints = True
    noted = record(2, "plugin.valve", message={"count": 7})
    noted.no_datapoints = True
    reading = record(3, "plugin.valve", message={"level": 1.5})
    await send(any_cloud, token, [outcome, noted, reading])
    assert set(sensors_of(any_cloud, device_id)) == {"plugin.valve.level"}
    with any_cloud.http(any_cloud.admin_token()) as client:
        base = f"/api/v1/devices/{device_id}/channels/plugin.valve"
        aggregate = client.get(f"{base}/aggregate").json()["payload"]
        messages = client.get(f"{base}/messages").json()["messages"]
    assert aggregate["writes"]["setpoint"]["written"] == 40
    assert [m["payload"] for m in messages] == [{"level": 1.5}, {"count": 7}]


async def test_malformed_declarations_are_skipped_and_never_become_sensors(
    any_cloud: CloudServer,
) -> None:
    device_id, token = any_cloud.device()
    # As an agent without the Publish check could have queued them: no flag, numbers inside.
    bad = {"a": {"unit": 5}, "b": {"unit": "V", "name": "Volts"}, "c": "nope", "d": {"x": 1}}
    await send(
        any_cloud,
        token,
        [record(1, "meter", message={"a": 1, "b": 2}, aggregate={"$fields": bad})],
        [record(2, "meter", aggregate={"$fields": {"e": {"unit": 7}}})],
        [record(3, "other", aggregate={"$fields": 12, "n": 1})],
    )
    found = sensors_of(any_cloud, device_id)
    assert set(found) == {"meter.a", "meter.b", "other.n"}
    assert shown(found["meter.a"]) == ("meter.a", "")
    assert shown(found["meter.b"]) == ("Volts", "V")


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database with no schema yet: (async URL for alembic, sync URL for the checks)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}", f"sqlite:///{tmp_path / 'cloud.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"revlink_migration_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        url = server.sqlalchemy_url(name)
        yield url, url.replace("+asyncpg", "+psycopg")
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(server: PostgresServer, query: str) -> None:
    connection = await asyncpg.connect(server.dsn("postgres"))
    try:
        await connection.execute(query)
    finally:
        await connection.close()


def test_the_migration_marks_the_sensors_people_already_edited(
    empty_database: tuple[str, str],
) -> None:
    """Before declarations only a person could change a device sensor's name or unit, so a
    device sensor that differs from how the uplink registers it was edited."""
    url, sync_url = empty_database
    upgrade(url, "0001")
    engine = sa.create_engine(sync_url)
    uuids = sa.Uuid()  # the dialect's own storage (32 hex digits on SQLite)
    device = uuid.uuid4()
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO devices (id, name, token_hash, created_at, last_committed_seq)"
                    " VALUES (:id, 'd', 'h', CURRENT_TIMESTAMP, 0)"
                ).bindparams(sa.bindparam("id", type_=uuids)),
                {"id": device},
            )
            insert = sa.text(
                "INSERT INTO sensors (public_id, device_id, key, name, unit, created_at)"
                " VALUES (:p, :d, :k, :n, :u, CURRENT_TIMESTAMP)"
            ).bindparams(sa.bindparam("p", type_=uuids), sa.bindparam("d", type_=uuids))
            for key, name, unit in [
                ("t.a", "t.a", ""),  # as the uplink registered it
                ("t.b", "Renamed", ""),
                ("t.c", "t.c", "bar"),
                (None, "by hand", "V"),  # no device, no declarations
            ]:
                conn.execute(
                    insert,
                    {
                        "p": uuid.uuid4(),
                        "d": device if key else None,
                        "k": key,
                        "n": name,
                        "u": unit,
                    },
                )
        upgrade(url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT name, name_edited, unit_edited, declared_unit FROM sensors")
            ).all()
    finally:
        engine.dispose()
    assert {r.name: (bool(r.name_edited), bool(r.unit_edited), r.declared_unit) for r in rows} == {
        "t.a": (False, False, None),
        "Renamed": (True, False, None),
        "t.c": (False, True, None),
        "by hand": (False, False, None),
    }
