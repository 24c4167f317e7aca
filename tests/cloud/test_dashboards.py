"""``/api/v1/dashboards`` (WebMACS's paths and shapes) through a real cloud on PostgreSQL:
dashboards and widgets CRUD, who sees and changes which, the grid's and config's limits at
their edges, a removed sensor, and a smoke run on SQLite."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from cloud.db.migrate import upgrade
from cloud.services.dashboards import CONFIG_MAX_BYTES, MAX_WIDGETS
from tests.rig.cloud import CloudServer, start_cloud, unique

Json = dict[str, Any]
BASE = "/api/v1/dashboards"
WIDGET_FIELDS = {
    "public_id",
    "widget_type",
    "title",
    "event_public_id",
    "sensor_public_id",
    "sensor",
    "x",
    "y",
    "w",
    "h",
    "config_json",
    "created_on",
}


@pytest.fixture
def operator(cloud: CloudServer) -> Iterator[httpx.Client]:
    with cloud.http(cloud.user("operator")[1]) as client:
        yield client


@pytest.fixture
def sensor(cloud: CloudServer) -> Json:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.post(
            "/api/v1/sensors",
            json={"name": unique("temp"), "unit": "degC", "min_value": 0, "max_value": 80},
        )
    assert reply.status_code == 201, reply.text
    made: Json = reply.json()
    return made


def create(client: httpx.Client, name: str | None = None, is_global: bool = False) -> Json:
    reply = client.post(BASE, json={"name": name or unique("dash"), "is_global": is_global})
    assert reply.status_code == 201, reply.text
    body: Json = reply.json()
    return body


def widget_body(sensor_id: str | None, **fields: Any) -> Json:
    return {
        "widget_type": "stat_card",
        "title": "Temperature",
        "event_public_id": sensor_id,
        "x": 0,
        "y": 0,
        "w": 4,
        "h": 3,
        **fields,
    }


def add(client: httpx.Client, dashboard: Json, body: Json) -> httpx.Response:
    return client.post(f"{BASE}/{dashboard['public_id']}/widgets", json=body)


def problems(reply: httpx.Response) -> list[tuple[list[Any], str]]:
    """FastAPI's 422 shape: each item's ``loc`` and ``msg``."""
    assert reply.status_code == 422, reply.text
    return [(item["loc"], item["msg"]) for item in reply.json()["detail"]]


def where(reply: httpx.Response) -> str:
    """The field the first problem of a 422 names, e.g. ``config_json.min``."""
    return ".".join(str(part) for part in problems(reply)[0][0][1:])


def test_dashboard_crud_in_webmacs_shapes(cloud: CloudServer, operator: httpx.Client) -> None:
    name = unique("plant")
    made = create(operator, f"  {name}  ")
    assert set(made) == {
        "public_id",
        "name",
        "is_global",
        "created_on",
        "user_public_id",
        "can_edit",
        "widgets",
    }
    assert (made["name"], made["is_global"], made["widgets"], made["can_edit"]) == (
        name,
        False,
        [],
        True,
    )
    me = operator.get("/api/v1/auth/me").json()
    assert made["user_public_id"] == me["public_id"]
    at = f"{BASE}/{made['public_id']}"
    assert operator.get(at).json() == made

    newer = create(operator)
    page = operator.get(BASE, params={"page": 1, "page_size": 2}).json()
    assert list(page) == ["page", "page_size", "total", "data"]
    assert [d["public_id"] for d in page["data"]] == [newer["public_id"], made["public_id"]]
    assert page["total"] >= 2

    renamed = operator.put(at, json={"name": f"{name}-b", "is_global": True})
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["status"], body["message"]) == ("success", "Dashboard successfully updated.")
    assert (body["dashboard"]["name"], body["dashboard"]["is_global"]) == (f"{name}-b", True)
    kept = operator.put(at, json={}).json()["dashboard"]
    assert (kept["name"], kept["is_global"]) == (f"{name}-b", True)

    deleted = operator.delete(at)
    assert deleted.json() == {"status": "success", "message": "Dashboard successfully deleted."}
    assert operator.get(at).status_code == 404
    assert operator.delete(at).status_code == 404


def test_widgets_crud_with_their_sensor(operator: httpx.Client, sensor: Json) -> None:
    dashboard = create(operator)
    made = []
    for kind, (x, y) in zip(
        ("line_chart", "gauge", "stat_card", "actuator_toggle"),
        [(4, 3), (0, 3), (8, 0), (0, 0)],
        strict=True,
    ):
        reply = add(
            operator, dashboard, widget_body(sensor["public_id"], widget_type=kind, x=x, y=y)
        )
        assert reply.status_code == 201, reply.text
        made.append(reply.json())
    gauge = made[1]
    assert set(gauge) == WIDGET_FIELDS
    assert gauge["event_public_id"] == gauge["sensor_public_id"] == sensor["public_id"]
    assert gauge["sensor"] == {
        "public_id": sensor["public_id"],
        "name": sensor["name"],
        "unit": "degC",
        "min_value": 0.0,
        "max_value": 80.0,
        "device_id": None,
        "key": None,
    }
    shown = operator.get(f"{BASE}/{dashboard['public_id']}").json()["widgets"]
    # By row, then column: the order a phone stacks them in.
    assert [(w["widget_type"], w["y"], w["x"]) for w in shown] == [
        ("actuator_toggle", 0, 0),
        ("stat_card", 0, 8),
        ("gauge", 3, 0),
        ("line_chart", 3, 4),
    ]

    at = f"{BASE}/{dashboard['public_id']}/widgets/{gauge['public_id']}"
    config = json.dumps({"min": -10, "max": 50})
    moved = operator.put(at, json={"x": 8, "y": 6, "w": 4, "h": 2, "config_json": config})
    assert moved.status_code == 200, moved.text
    assert moved.json()["message"] == "Widget successfully updated."
    after = moved.json()["widget"]
    assert (after["x"], after["y"], after["w"], after["h"]) == (8, 6, 4, 2)
    assert after["config_json"] == config
    assert after["title"] == "Temperature"  # untouched
    cleared = operator.put(at, json={"event_public_id": None, "config_json": None}).json()
    assert cleared["widget"]["event_public_id"] is cleared["widget"]["sensor"] is None
    assert cleared["widget"]["config_json"] is None
    same_type = operator.put(at, json={"widget_type": "gauge", "title": "Again"})
    assert same_type.status_code == 200, same_type.text
    assert problems(operator.put(at, json={"widget_type": "stat_card"})) == [
        (["body", "widget_type"], "a widget's type cannot change (it is gauge)")
    ]

    deleted = operator.delete(at)
    assert deleted.json() == {"status": "success", "message": "Widget successfully deleted."}
    assert operator.delete(at).status_code == 404
    remaining = operator.get(f"{BASE}/{dashboard['public_id']}").json()["widgets"]
    assert gauge["public_id"] not in {w["public_id"] for w in remaining}
    # A widget is reached only through its own dashboard.
    other = create(operator)
    elsewhere = f"{BASE}/{other['public_id']}/widgets/{made[0]['public_id']}"
    assert operator.put(elsewhere, json={"title": "x"}).status_code == 404
    assert operator.delete(elsewhere).status_code == 404
    # Deleting a dashboard deletes its widgets.
    operator.delete(f"{BASE}/{dashboard['public_id']}")
    gone = f"{BASE}/{dashboard['public_id']}/widgets/{made[0]['public_id']}"
    assert operator.put(gone, json={"title": "x"}).status_code == 404


def test_who_sees_and_changes_which(cloud: CloudServer, operator: httpx.Client) -> None:
    private = create(operator)
    shared = create(operator, is_global=True)
    with (
        cloud.http(cloud.user("operator")[1]) as other,
        cloud.http(cloud.user("viewer")[1]) as viewer,
        cloud.http(cloud.admin_token()) as admin,
    ):
        for client in (other, viewer):
            seen = {
                d["public_id"] for d in client.get(BASE, params={"page_size": 100}).json()["data"]
            }
            assert shared["public_id"] in seen
            assert private["public_id"] not in seen
            assert client.get(f"{BASE}/{private['public_id']}").status_code == 404
            got = client.get(f"{BASE}/{shared['public_id']}")
            assert got.status_code == 200
            assert got.json()["can_edit"] is False
        # Seen, but not theirs: 403; private ones stay unknown: 404.
        shared_at = f"{BASE}/{shared['public_id']}"
        for refused in (
            other.put(shared_at, json={"name": "mine"}),
            other.post(f"{shared_at}/widgets", json=widget_body(None)),
        ):
            assert refused.status_code == 403, refused.text
            assert "only its owner or an admin" in refused.json()["detail"]
        assert other.delete(f"{BASE}/{shared['public_id']}").status_code == 403
        assert other.put(f"{BASE}/{private['public_id']}", json={"name": "x"}).status_code == 404
        # Viewers read only.
        assert viewer.post(BASE, json={"name": "v"}).status_code == 403
        assert viewer.put(f"{BASE}/{shared['public_id']}", json={"name": "v"}).status_code == 403
        # Admins see and change every dashboard.
        listed = admin.get(BASE, params={"page_size": 100}).json()["data"]
        assert private["public_id"] in {d["public_id"] for d in listed}
        assert admin.get(f"{BASE}/{private['public_id']}").json()["can_edit"] is True
        assert add(admin, private, widget_body(None)).status_code == 201
        assert (
            admin.put(f"{BASE}/{private['public_id']}", json={"name": "by admin"}).status_code
            == 200
        )
        assert admin.delete(f"{BASE}/{private['public_id']}").status_code == 200
    assert operator.get(BASE, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_grid_at_its_edges(operator: httpx.Client) -> None:
    dashboard = create(operator)
    ok = [dict(x=0, w=12), dict(x=11, w=1), dict(y=988, h=12), dict(h=12), dict(w=1, h=1)]
    for place in ok:
        reply = add(operator, dashboard, widget_body(None, **place))
        assert reply.status_code == 201, (place, reply.text)
    assert problems(add(operator, dashboard, widget_body(None, x=11, w=2))) == [
        (
            ["body", "w"],
            "x + w is 13: the grid has 12 columns, so a widget at x=11 spans at most 1",
        )
    ]
    assert where(add(operator, dashboard, widget_body(None, x=4, w=9))) == "w"
    assert problems(add(operator, dashboard, widget_body(None, y=989, h=12))) == [
        (["body", "y"], "y + h is 1001; the grid has 1000 rows")
    ]
    for bad, field in [
        (dict(x=-1), "x"),
        (dict(y=-1), "y"),
        (dict(w=0), "w"),
        (dict(w=13), "w"),
        (dict(h=0), "h"),
        (dict(h=13), "h"),
        (dict(x=12, w=1), "x"),
    ]:
        found = problems(add(operator, dashboard, widget_body(None, **bad)))
        assert [loc for loc, _ in found] == [["body", field]], (bad, found)
    # A move is checked as the widget ends up, and a refused one changes nothing.
    widget = add(operator, dashboard, widget_body(None, x=0, w=4)).json()
    at = f"{BASE}/{dashboard['public_id']}/widgets/{widget['public_id']}"
    assert where(operator.put(at, json={"x": 9})) == "w"
    assert operator.put(at, json={"x": 8}).status_code == 200
    assert where(operator.put(at, json={"w": 5})) == "w"
    shown = {
        w["public_id"]: w
        for w in operator.get(f"{BASE}/{dashboard['public_id']}").json()["widgets"]
    }
    assert (shown[widget["public_id"]]["x"], shown[widget["public_id"]]["w"]) == (8, 4)


def test_names_titles_configs_and_sensors_at_their_edges(
    operator: httpx.Client, sensor: Json
) -> None:
    assert operator.post(BASE, json={"name": "n" * 255}).status_code == 201
    assert where(operator.post(BASE, json={"name": "n" * 256})) == "name"
    assert problems(operator.post(BASE, json={"name": "   "})) == [
        (["body", "name"], "must not be blank")
    ]
    assert where(operator.post(BASE, json={"name": "x", "owner": "me"})) == "owner"
    dashboard = create(operator)
    assert add(operator, dashboard, widget_body(None, title="t" * 255)).status_code == 201
    assert where(add(operator, dashboard, widget_body(None, title="t" * 256))) == "title"
    assert where(add(operator, dashboard, widget_body(None, widget_type="pie"))) == "widget_type"

    missing = str(uuid.uuid4())
    assert problems(add(operator, dashboard, widget_body(missing))) == [
        (["body", "event_public_id"], f"no sensor {missing}")
    ]

    def config(kind: str, value: object) -> httpx.Response:
        text = value if isinstance(value, str) else json.dumps(value)
        return add(
            operator,
            dashboard,
            widget_body(sensor["public_id"], widget_type=kind, config_json=text),
        )

    # Exactly CONFIG_MAX_BYTES of JSON object is taken (a multi-byte character counts as its
    # bytes); one byte more is not.
    filler = CONFIG_MAX_BYTES - len('{"note":""}') - 2
    edge = '{"note":"é' + "a" * filler + '"}'
    assert len(edge.encode()) == CONFIG_MAX_BYTES
    assert config("stat_card", edge).status_code == 201
    over = '{"note":"é' + "a" * (filler + 1) + '"}'
    assert problems(config("stat_card", over)) == [
        (
            ["body", "config_json"],
            f"is {CONFIG_MAX_BYTES + 1} bytes; the limit is {CONFIG_MAX_BYTES}",
        )
    ]
    assert where(config("stat_card", "{not json")) == "config_json"
    assert problems(config("stat_card", "[1, 2]")) == [
        (["body", "config_json"], "config_json must be a JSON object, not list")
    ]
    assert where(config("gauge", '{"min": NaN}')) == "config_json"
    assert problems(config("gauge", {"min": 10, "max": 10})) == [
        (["body", "config_json", "max"], "min and max: min must be less than max")
    ]
    assert where(config("gauge", {"min": "low"})) == "config_json.min"
    assert config("gauge", {"min": -5.5, "max": 5}).status_code == 201
    assert (
        where(config("actuator_toggle", {"on_value": 1, "off_value": 1})) == "config_json.on_value"
    )
    assert where(config("actuator_toggle", {"on_value": True})) == "config_json.on_value"
    assert config("line_chart", {"minutes": 1440}).status_code == 201
    assert config("line_chart", {"minutes": 1}).status_code == 201
    for minutes in (0, 1441, 2.5):
        assert where(config("line_chart", {"minutes": minutes})) == "config_json.minutes"


def test_a_dashboard_holds_at_most_so_many_widgets(operator: httpx.Client) -> None:
    dashboard = create(operator)
    made = [add(operator, dashboard, widget_body(None, y=n)) for n in range(MAX_WIDGETS)]
    assert {r.status_code for r in made} == {201}
    full = add(operator, dashboard, widget_body(None))
    assert full.status_code == 409
    assert f"the most one may hold ({MAX_WIDGETS})" in full.json()["detail"]
    first = made[0].json()["public_id"]
    operator.delete(f"{BASE}/{dashboard['public_id']}/widgets/{first}")
    assert add(operator, dashboard, widget_body(None)).status_code == 201


def test_concurrent_additions_stop_at_the_limit(cloud: CloudServer, operator: httpx.Client) -> None:
    """The dashboard's row is locked while its widgets are counted: racing additions to the
    last free place leave exactly MAX_WIDGETS, never more."""
    dashboard = create(operator)
    for n in range(MAX_WIDGETS - 2):
        assert add(operator, dashboard, widget_body(None, y=n)).status_code == 201
    token = operator.headers["Authorization"].removeprefix("Bearer ")

    def racer(_: int) -> int:
        with cloud.http(token) as client:
            return add(client, dashboard, widget_body(None)).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = sorted(pool.map(racer, range(6)))
    assert codes == [201, 201, 409, 409, 409, 409]
    shown = operator.get(f"{BASE}/{dashboard['public_id']}").json()["widgets"]
    assert len(shown) == MAX_WIDGETS


def test_a_removed_sensor_leaves_its_widget(
    cloud: CloudServer, operator: httpx.Client, sensor: Json
) -> None:
    dashboard = create(operator)
    widget = add(operator, dashboard, widget_body(sensor["public_id"], widget_type="gauge")).json()
    engine = create_engine(cloud.database_url.replace("+asyncpg", "+psycopg"))
    try:
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM sensors WHERE public_id = :id"), {"id": sensor["public_id"]}
            )
    finally:
        engine.dispose()
    shown = operator.get(f"{BASE}/{dashboard['public_id']}")
    assert shown.status_code == 200
    (after,) = shown.json()["widgets"]
    assert after["public_id"] == widget["public_id"]
    assert after["event_public_id"] == sensor["public_id"]  # kept: the page says "removed"
    assert after["sensor"] is None
    # Its other fields still change.
    at = f"{BASE}/{dashboard['public_id']}/widgets/{widget['public_id']}"
    assert operator.put(at, json={"title": "Old gauge"}).status_code == 200


def test_dashboards_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    upgrade(url)
    with (
        start_cloud(url, tmp_path / "logs") as sqlite_cloud,
        sqlite_cloud.http(sqlite_cloud.admin_token()) as admin,
    ):
        dashboard = create(admin, is_global=True)
        widget = add(admin, dashboard, widget_body(None, x=6, w=6)).json()
        assert where(add(admin, dashboard, widget_body(None, x=7, w=6))) == "w"
        at = f"{BASE}/{dashboard['public_id']}"
        assert admin.get(at).json()["widgets"] == [widget]
        assert admin.delete(at).status_code == 200
        assert admin.get(at).status_code == 404
