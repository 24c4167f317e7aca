"""Custom dashboards in a real browser against the real cloud: an operator builds one (a stat
card, a gauge, a line chart and an actuator toggle) while a device, played through the real
uplink door, streams values that the page shows live; the toggle's channel write reaches the
device, which applies it and reports back, so the page shows it applied. A viewer sees the same
(global) dashboard with the toggle disabled and says why; a sensor removed afterwards leaves
its widget in place, marked "sensor removed"."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, text

from revlink.uplink.v1 import uplink_pb2 as pb
from tests.e2e.conftest import Stack
from tests.e2e.harness import check, sensor_ids, start_script
from tests.rig.cloud import unique
from tests.rig.uplink import UplinkClient, record, uplink_client

CHANNEL = "hall"


@dataclass
class PlayedDevice:
    """A device on the uplink door: it sends ``hall`` readings every ``period`` s and applies
    the channel writes it is sent (ack, then a record naming the write with its new value)."""

    ws_url: str
    token: str
    period: float = 0.3
    writes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    pump: float = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.writes)

    async def _read(self, link: UplinkClient, acked: asyncio.Queue[None], todo: list[Any]) -> None:
        while True:
            frame = await link.receive()
            kind = frame.WhichOneof("frame")
            if kind == "ack":
                acked.put_nowait(None)
            elif kind == "channel_write":
                todo.append(frame.channel_write)
            elif kind == "error":
                self.errors.append(frame.error.message)
                if frame.error.seq == 0:
                    acked.put_nowait(None)

    async def run(self) -> None:
        async with uplink_client(self.ws_url, self.token) as link:
            welcome = await link.hello()
            seq = welcome.last_committed_seq
            acked: asyncio.Queue[None] = asyncio.Queue()
            todo: list[Any] = []
            reader = asyncio.create_task(self._read(link, acked, todo))
            tick = 0
            try:
                while not self.stop.is_set():
                    applying = todo.pop(0) if todo else None
                    patch: dict[str, Any] = {}
                    if applying is not None:
                        patch = json.loads(applying.patch_json)
                        with self._lock:
                            self.writes.append({"channel": applying.channel, "patch": patch})
                        ack = pb.ChannelWriteAck(seq=applying.seq)
                        await link.send(pb.DeviceFrame(channel_write_ack=ack))
                        self.pump = float(patch.get("pump", {}).get("on", self.pump))
                    tick += 1
                    seq += 1
                    reading = {"temp": round(20 + (tick % 40) * 0.5, 1), "pump": {"on": self.pump}}
                    rec = record(seq, CHANNEL, message=reading, aggregate=patch or reading)
                    if applying is not None:
                        rec.channel_write_seq = applying.seq
                    await link.send(pb.DeviceFrame(batch=pb.Batch(records=[rec])))
                    await asyncio.wait_for(acked.get(), 10)
                    await asyncio.sleep(self.period)
            finally:
                reader.cancel()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=lambda: asyncio.run(self.run()), daemon=True)
        thread.start()
        return thread


def delete_sensor(database_url: str, public_id: str) -> None:
    """Remove a sensor behind the cloud's back (as deleting its device would)."""
    engine = create_engine(database_url.replace("+asyncpg", "+psycopg"))
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM sensors WHERE public_id = :id"), {"id": public_id})
    finally:
        engine.dispose()


def test_an_operator_builds_a_live_dashboard_and_switches_an_actuator(stack: Stack) -> None:
    cloud = stack.cloud
    device_id, token = cloud.device(unique("e2e-dash"))
    device = PlayedDevice(cloud.ws_url, token)
    thread = device.start()
    try:
        sensors = sensor_ids(
            cloud.base_url,
            cloud.admin_token(),
            device_id,
            [f"{CHANNEL}.temp", f"{CHANNEL}.pump.on"],
        )
        env = {
            **stack.env("operator"),
            "E2E_DASH_NAME": unique("Tank hall"),
            "E2E_DASH_TEMP_SENSOR": sensors[f"{CHANNEL}.temp"],
            "E2E_DASH_PUMP_SENSOR": sensors[f"{CHANNEL}.pump.on"],
            "E2E_VIEWER_EMAIL": stack.viewer.email,
            "E2E_VIEWER_PASSWORD": stack.viewer.password,
        }
        run = start_script("dashboards.e2e.ts", "dashboards", env)
        try:
            toggled = run.wait_for_signal("toggled", 120)
            # The press was a channel write on the sensor's channel, setting its field.
            assert device.received() == [{"channel": CHANNEL, "patch": {"pump": {"on": 1}}}]
            run.answer("toggled")
            run.wait_for_signal("remove-sensor", 120)
            # Offline first: the uplink door keeps the sensors it has seen while connected.
            device.stop.set()
            thread.join(15)
            delete_sensor(cloud.database_url, sensors[f"{CHANNEL}.pump.on"])
            run.answer("remove-sensor")
        finally:
            check(run, 180)
    finally:
        device.stop.set()
        thread.join(15)
    assert device.errors == []
    with cloud.http(cloud.admin_token()) as client:
        writes = client.get(f"/api/v1/devices/{device_id}/channel-writes").json()
        dashboard = client.get(f"/api/v1/dashboards/{toggled['dashboard_id']}").json()
    assert [(w["channel"], w["patch"], w["state"]) for w in writes] == [
        (CHANNEL, {"pump": {"on": 1}}, "applied")
    ]
    assert sorted(w["widget_type"] for w in dashboard["widgets"]) == [
        "actuator_toggle",
        "gauge",
        "line_chart",
        "stat_card",
    ]
    assert dashboard["name"].endswith("(renamed)")
    assert dashboard["is_global"] is True
    assert uuid.UUID(dashboard["public_id"])
