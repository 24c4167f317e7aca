"""WebMACS's own clients, re-implemented on the wire (tests/rig/webmacs_client.py), against a
real cloud process on PostgreSQL.

Set up as a WebMACS operator would (``POST /events``, ``POST /plugins``,
``POST /plugins/{id}/channels``), then:

* a soak: one controller sending over HTTP and one over the telemetry socket, side by side,
  while an operator changes their actuators through ``POST /datapoints`` and a mapping is
  added and one removed mid-run. Every value sent is stored exactly once, every actuator
  value reaches its controller in order within two poll intervals, plugin sync follows the
  mapping changes, the socket stays the one connection it opened, and no request fails;
* the browser's live map: seeded from ``/latest``, fed by ``datapoints_batch``, polling once
  three connections in a row failed (a proxy that blocks WebSockets), and back on the
  socket once it opens again.

``REVLINK_WEBMACS_SOAK_SECONDS`` (default 150) sets the soak's length.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg
import httpx
import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter

from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer, unique
from tests.rig.postgres import PostgresDatabase
from tests.rig.webmacs.api import EventSchema, EventType
from tests.rig.webmacs.browser import RealtimeDatapoints, TcpRelay
from tests.rig.webmacs.controller import WebmacsController, multiset_diff

SOAK_SECONDS = float(os.environ.get("REVLINK_WEBMACS_SOAK_SECONDS", "150"))
POLL = 1.0  # WEBMACS_POLL_INTERVAL's default
SYNC = 10.0  # WEBMACS_PLUGIN_SYNC_INTERVAL's default
ACTUATOR_EVERY = 3.0
MID_RUN_AT = 15.0
PASSWORD = "webmacs-controller-password"


# ── WebMACS's backend response shapes (backend/src/webmacs_backend/schemas.py), which its
# frontend renders; checked strictly, revlink's extra fields allowed ──────────────────────


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class StatusCreated(Strict):
    """WebMACS's ``StatusResponse`` and the ``public_id`` revlink adds to it."""

    status: Literal["success"]
    message: str
    public_id: str


class ChannelMappingWire(Strict):
    public_id: str
    channel_id: str
    channel_name: str
    direction: Literal["input", "output", "bidirectional"]
    unit: str
    event_public_id: str | None
    created_on: datetime | None


class PluginInstanceWire(Strict):
    public_id: str
    plugin_id: str
    instance_name: str
    demo_mode: bool
    enabled: bool
    status: Literal["inactive", "connected", "error", "demo"]
    config_json: str | None
    error_message: str | None
    created_on: datetime | None
    updated_on: datetime | None
    user_public_id: str
    channel_mappings: list[ChannelMappingWire]


class PluginPageWire(Strict):
    page: int
    page_size: int
    total: int
    data: list[PluginInstanceWire]


MAPPINGS = TypeAdapter(list[ChannelMappingWire])


# ── setting up as an operator would ──────────────────────────────────────────────────


def api(cloud: CloudServer, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{cloud.base_url}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


async def created(reply: httpx.Response, message: str) -> str:
    assert reply.status_code == 201, (reply.request.url, reply.text)
    body = StatusCreated.model_validate_json(reply.text)
    assert body.message == message
    return body.public_id


async def create_event(client: httpx.AsyncClient, kind: EventType, unit: str = "V") -> str:
    body = {"name": unique(f"wm-{kind}"), "min_value": -5.0, "max_value": 1e6, "unit": unit}
    reply = await client.post("/events", json={**body, "type": kind.value})
    public_id = await created(reply, "Event successfully created.")
    read = await client.get(f"/events/{public_id}")
    assert read.status_code == 200, read.text
    event = EventSchema.model_validate(read.json())
    assert event.model_dump(exclude={"user_public_id"}) == {
        "public_id": public_id,
        "type": kind,
        **body,
    }
    return public_id


async def map_channel(
    client: httpx.AsyncClient, instance: str, channel: str, direction: str, event: str
) -> str:
    body = {
        "channel_id": channel,
        "channel_name": f"Channel {channel}",
        "direction": direction,
        "unit": "V",
        "event_public_id": event,
    }
    reply = await client.post(f"/plugins/{instance}/channels", json=body)
    return await created(reply, "Channel mapping created.")


@dataclass
class Rig:
    """One plugin instance: input channels ``ai0``.. and output ``ao0``, each on its own
    event; ``late`` is the mapping added mid-run and ``dropped`` the one removed."""

    instance: str
    inputs: dict[str, str]  # channel_id → event public_id
    output: str
    mapping_ids: dict[str, str] = field(default_factory=dict)
    late: tuple[str, float] | None = None  # (event, monotonic time it was mapped)
    dropped: tuple[str, float] | None = None  # (event, monotonic time it was unmapped)


async def make_rig(client: httpx.AsyncClient, inputs: int) -> Rig:
    body = {
        "plugin_id": "simulated",
        "instance_name": unique("wm-instance"),
        "demo_mode": True,
        "enabled": True,
    }
    instance = await created(await client.post("/plugins", json=body), "Plugin instance created.")
    rig = Rig(instance, {}, await create_event(client, EventType.actuator))
    for i in range(inputs):
        rig.inputs[f"ai{i}"] = await create_event(client, EventType.sensor)
        rig.mapping_ids[f"ai{i}"] = await map_channel(
            client, instance, f"ai{i}", "input", rig.inputs[f"ai{i}"]
        )
    rig.mapping_ids["ao0"] = await map_channel(client, instance, "ao0", "output", rig.output)
    # What a WebMACS frontend and controller read back.
    reply = await client.get(f"/plugins/{instance}/channels")
    assert reply.status_code == 200, reply.text
    listed = MAPPINGS.validate_json(reply.text)
    assert [(m.public_id, m.channel_id, m.direction, m.event_public_id) for m in listed] == [
        (rig.mapping_ids[c], c, "input", e) for c, e in rig.inputs.items()
    ] + [(rig.mapping_ids["ao0"], "ao0", "output", rig.output)]
    return rig


async def all_instances(client: httpx.AsyncClient) -> list[PluginInstanceWire]:
    found: list[PluginInstanceWire] = []
    page = 1
    while True:
        reply = await client.get("/plugins", params={"page": page, "page_size": 100})
        assert reply.status_code == 200, reply.text
        body = PluginPageWire.model_validate_json(reply.text)
        assert (body.page, body.page_size) == (page, 100)
        found += body.data
        if len(found) >= body.total or not body.data:
            assert len(found) == body.total
            return found
        page += 1


async def controller_user(client: httpx.AsyncClient) -> str:
    """WebMACS's controller logs in with the admin's email and password."""
    email = f"{unique('controller')}@example.com"
    reply = await client.post(
        "/users", json={"email": email, "password": PASSWORD, "role": "admin"}
    )
    assert reply.status_code == 201, reply.text
    return email


async def stored(dsn: str, event: str) -> list[float]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT d.value FROM datapoints d JOIN sensors s ON s.id = d.sensor_id"
            " WHERE s.public_id = $1 ORDER BY d.ts, d.ctid",
            uuid.UUID(event),
        )
    finally:
        await conn.close()
    return [row["value"] for row in rows]


async def settled(dsn: str, sent: dict[str, list[float]], timeout: float = 15) -> None:
    """Until each event has as many rows as values were sent to it (the telemetry socket
    stores after the send returns)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = {e: len(await stored(dsn, e)) for e in sent}
        if all(counts[e] >= len(v) for e, v in sent.items()):
            return
        await asyncio.sleep(0.2)


# ── the soak ─────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Posted:
    event: str
    value: float
    done: float  # monotonic time the 201 came


async def operate_actuators(
    client: httpx.AsyncClient, events: list[str], until: float
) -> list[Posted]:
    """A dashboard switching actuators: a new value for each every few seconds."""
    posted: list[Posted] = []
    step = 0
    while time.monotonic() < until:
        step += 1
        for i, event in enumerate(events):
            value = 100.0 * (i + 1) + step + 0.5
            reply = await client.post(
                "/datapoints", json={"event_public_id": event, "value": value}
            )
            assert reply.status_code == 201, reply.text
            assert reply.json()["message"] == "Datapoint successfully created."
            posted.append(Posted(event, value, time.monotonic()))
        await asyncio.sleep(ACTUATOR_EVERY)
    return posted


async def change_mappings(client: httpx.AsyncClient, rigs: list[Rig], at: float) -> None:
    """At ``at``: map a new input ``ai_late`` on each rig, and unmap ``ai1``."""
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    for rig in rigs:
        event = await create_event(client, EventType.sensor)
        await map_channel(client, rig.instance, "ai_late", "input", event)
        rig.late = (event, time.monotonic())
        reply = await client.delete(f"/plugins/{rig.instance}/channels/{rig.mapping_ids['ai1']}")
        assert reply.status_code == 200, reply.text
        assert reply.json() == {
            "status": "success",
            "message": "Channel mapping successfully deleted.",
        }
        rig.dropped = (rig.inputs["ai1"], time.monotonic())


def value_changes(writes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(time, value) of each write whose value differs from the one before."""
    changes: list[tuple[float, float]] = []
    for at, value in writes:
        if not changes or changes[-1][1] != value:
            changes.append((at, value))
    return changes


@contextlib.asynccontextmanager
async def running(*controllers: WebmacsController) -> AsyncIterator[None]:
    started: list[WebmacsController] = []
    try:
        for controller in controllers:
            await controller.start()
            started.append(controller)
        yield
    finally:
        for controller in reversed(started):
            await controller.stop()


@pytest.mark.timeout(SOAK_SECONDS + 120)
async def test_two_controllers_soak(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    dsn = postgres_database.dsn
    async with (
        api(cloud, cloud.admin_token()) as admin,
        api(cloud, cloud.user("operator")[1]) as operator,
    ):
        # A revlink sensor without bounds is an event too; the controller must parse it.
        bare = await admin.post("/sensors", json={"name": unique("bare"), "unit": ""})
        assert bare.status_code == 201, bare.text
        http_rig, ws_rig = await make_rig(admin, 3), await make_rig(admin, 3)
        listed = {i.public_id: i for i in await all_instances(admin)}
        for rig in (http_rig, ws_rig):
            instance = listed[rig.instance]
            assert (instance.plugin_id, instance.demo_mode, instance.enabled) == (
                "simulated",
                True,
                True,
            )
            assert [m.channel_id for m in instance.channel_mappings] == [*rig.inputs, "ao0"]
        email = await controller_user(admin)
        http = WebmacsController(
            cloud.base_url,
            email,
            PASSWORD,
            telemetry_mode="http",
            instances={http_rig.instance},
            value_base=1_000_000,
        )
        ws = WebmacsController(
            cloud.base_url,
            email,
            PASSWORD,
            telemetry_mode="websocket",
            instances={ws_rig.instance},
            value_base=2_000_000,
        )
        begun = time.monotonic()
        async with running(http, ws):
            for controller, rig in ((http, http_rig), (ws, ws_rig)):
                # Every page of /events parsed, each event once.
                assert len(controller.events) == controller.event_pages[0].total
                assert str(uuid.UUID(bare.json()["public_id"])) in controller.events
                assert controller.events[rig.output].type is EventType.actuator
                assert {k: m.event_public_id for k, m in controller.channel_map.items()} == {
                    **{(rig.instance, c): e for c, e in rig.inputs.items()},
                    (rig.instance, "ao0"): rig.output,
                }
            posted, *_ = await asyncio.gather(
                operate_actuators(
                    operator, [http_rig.output, ws_rig.output], begun + SOAK_SECONDS - 4
                ),
                change_mappings(admin, [http_rig, ws_rig], begun + MID_RUN_AT),
                asyncio.sleep(max(0.0, begun + SOAK_SECONDS - time.monotonic())),
            )
        ran = time.monotonic() - begun

        latest_reply = await operator.get("/datapoints/latest")
        assert latest_reply.status_code == 200, latest_reply.text
    latest = {item["event_public_id"]: item["value"] for item in latest_reply.json()}

    for name, controller, rig in (("http", http, http_rig), ("websocket", ws, ws_rig)):
        assert rig.late is not None
        assert rig.dropped is not None
        # Nothing went wrong on the wire or in a loop.
        assert controller.errors == [], name
        assert controller.unsent == [], name
        # A request on a keep-alive connection the server was closing is retried (as the
        # original does); nothing else failed.
        assert [c for c in controller.http_errors if not c.stale_connection] == [], name
        assert controller.api.logins == 1, name
        logs = [c.status for c in controller.api.calls if c.path == "/logging"]
        assert logs == [201, 201], name

        # Every value sent is stored exactly once, and nothing else is stored for it.
        events = [*rig.inputs.values(), rig.late[0]]
        sent = {e: controller.sent_values(e) for e in events}
        await settled(dsn, sent)
        for event, values in sent.items():
            missing, extra = multiset_diff(values, await stored(dsn, event))
            assert (missing, extra) == ([], []), (name, event)
            assert latest[event] == values[-1], (name, event)
        # Each input mapped all along was read about once a poll; the late one from
        # the first sync after it was mapped, the dropped one until the sync after that.
        least = 0.8 * ran / POLL
        for channel in ("ai0", "ai2"):
            assert len(sent[rig.inputs[channel]]) >= least, (name, channel)
        late_event, mapped_at = rig.late
        late = [s.at for s in controller.sent if s.event_public_id == late_event]
        assert late, f"{name}: no value for the mapping added mid-run"
        assert late[0] - mapped_at <= SYNC + 2 * POLL, name
        assert len(late) >= 0.8 * (ran - (late[0] - begun)) / POLL, name
        dropped_event, unmapped_at = rig.dropped
        dropped = [s.at for s in controller.sent if s.event_public_id == dropped_event]
        assert len(dropped) >= 0.8 * (unmapped_at - begun) / POLL, name
        assert dropped[-1] - unmapped_at <= SYNC + 2 * POLL, name

        # Each actuator value reached the output channel, in order, within two polls.
        mine = [p for p in posted if p.event == rig.output]
        assert len(mine) >= (SOAK_SECONDS - 5) / (ACTUATOR_EVERY + 1), name
        assert await stored(dsn, rig.output) == [p.value for p in mine], name
        changes = value_changes(controller.written_values("ao0"))
        assert [v for _, v in changes] == [p.value for p in mine], name
        lags = [at - p.done for (at, _), p in zip(changes, mine, strict=True)]
        assert max(lags) <= 2 * POLL, (name, lags)
        # /latest also carries the inputs' values: the plugin refuses writes to them.
        assert controller.refused_writes > 0, name

    # The telemetry socket: opened once, never closed by the server, never answered.
    assert ws.ws is not None
    assert [(e.kind, e.detail) for e in ws.ws.events] == [
        ("connected", ""),
        ("closed", "client: (1000, '')"),
    ]
    assert ws.ws.unread == []
    assert not any(c.path == "/datapoints/batch" for c in ws.api.calls)
    batches = [c for c in http.api.calls if c.path == "/datapoints/batch"]
    assert len(batches) >= 0.8 * ran / POLL
    assert {c.status for c in batches} == {201}


# ── the browser ──────────────────────────────────────────────────────────────────────


def by_event(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["event_public_id"]: item for item in items}


@contextlib.contextmanager
def timed(limit: float, what: str) -> Iterator[None]:
    began = time.monotonic()
    yield
    took = time.monotonic() - began
    assert took <= limit, f"{what} took {took:.1f} s (limit {limit} s)"


@pytest.mark.timeout(90)
async def test_browser_client_falls_back_to_polling_and_back(cloud: CloudServer) -> None:
    async with (
        api(cloud, cloud.user("operator")[1]) as operator,
        api(cloud, cloud.admin_token()) as admin,
    ):
        first, second = (
            await create_event(admin, EventType.sensor),
            await create_event(admin, EventType.sensor),
        )

        async def push(*points: tuple[str, float]) -> None:
            body = {"datapoints": [{"event_public_id": e, "value": v} for e, v in points]}
            reply = await operator.post("/datapoints/batch", json=body)
            assert reply.status_code == 201, reply.text
            assert reply.json()["message"] == f"{len(points)} datapoints successfully created."

        await push((first, 1.0))
        relay = TcpRelay(cloud.base_url.removeprefix("http://"), free_port())
        await relay.open()
        # Pings every 2 s rather than 25 s, so that some are sent (and answered) here.
        browser = RealtimeDatapoints(
            cloud.base_url, cloud.user("viewer")[1], ws_base=relay.base_url, ping_interval=2.0
        )
        try:
            async with browser:
                await browser.wait_for(
                    lambda: browser.seed is not None and browser.mode == "websocket", 10
                )
                reply = await operator.get("/datapoints/latest")
                assert reply.status_code == 200, reply.text
                assert browser.seed is not None
                assert by_event(browser.seed) == by_event(reply.json())
                assert browser.latest[first]["value"] == 1.0
                await browser.wait_for(lambda: bool(browser.messages), 5)
                assert browser.messages[0]["type"] == "connected"

                # Live over the socket.
                await push((first, 2.5), (second, -7.25))
                await browser.wait_for(
                    lambda: (
                        [browser.latest.get(e, {}).get("value") for e in (first, second)]
                        == [2.5, -7.25]
                    ),
                    5,
                )
                assert (browser.source[first], browser.source[second]) == ("ws", "ws")
                reply = await operator.get("/datapoints/latest", params={"sensor": [first]})
                (newest,) = reply.json()
                assert datetime.fromisoformat(browser.latest[first]["timestamp"]) == (
                    datetime.fromisoformat(newest["timestamp"])
                )
                await browser.wait_for(lambda: browser.pings_sent >= 1, 5)
                await browser.wait_for(lambda: browser.pongs == browser.pings_sent, 5)
                assert browser.polls == 1  # the seed only

                # WebSockets blocked: a cut, then two refused attempts (1 s, 2 s apart).
                await relay.close()
                with timed(6, "falling back to polling"):
                    await browser.wait_for(lambda: browser.mode == "polling", 10)
                assert (browser.ws_opens, browser.ws_failures, browser.fail_count) == (1, 3, 3)
                messages = len(browser.messages)
                await push((second, 3.75))
                with timed(2 * browser.poll_interval + 0.5, "a poll bringing the new value"):
                    await browser.wait_for(
                        lambda: browser.latest.get(second, {}).get("value") == 3.75, 5
                    )
                assert browser.source[second] == "http"
                assert len(browser.messages) == messages

                # Unblocked: the next attempt (4 s after the third failure) opens the socket.
                await relay.open()
                await browser.wait_for(lambda: browser.mode == "websocket", 20)
                assert browser.modes() == ["connecting", "websocket", "polling", "websocket"]
                assert (browser.ws_opens, browser.fail_count) == (2, 0)
                polls = browser.polls
                await push((first, 9.5))
                await browser.wait_for(lambda: browser.latest[first]["value"] == 9.5, 5)
                assert browser.source[first] == "ws"
                await asyncio.sleep(2 * browser.poll_interval)
                assert browser.polls == polls  # polling stopped
                assert browser.poll_errors == []
        finally:
            await relay.close()
