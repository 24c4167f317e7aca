"""The uplink door on the embedded SQLite default: store, ack, drop duplicates, resume."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from cloud.db.migrate import upgrade
from tests.rig.cloud import run_cli, start_cloud
from tests.rig.uplink import record, uplink_client


async def test_uplink_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "cloud.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)  # alembic runs its own event loop
    device = json.loads(run_cli(url, "create-device", "sqlite-dev", "--json").stdout)
    with start_cloud(url, tmp_path / "logs") as cloud:
        async with uplink_client(cloud.ws_url, device["token"]) as link:
            assert (await link.hello()).last_committed_seq == 0
            batch = [
                record(1, message={"level": 1.5}, aggregate={"mode": "auto"}),
                record(2, message={"level": 2.5, "big": 2**62}),
            ]
            ack, errors = await link.batch(*batch)
            assert ack is not None
            assert (ack.up_to_seq, errors) == (2, [])
            ack, _ = await link.batch(*batch)
            assert ack is not None
            assert (ack.up_to_seq, ack.duplicates) == (2, 2)
        async with uplink_client(cloud.ws_url, device["token"]) as link:
            assert (await link.hello()).last_committed_seq == 2
    with sqlite3.connect(path) as db:
        values = [v for (v,) in db.execute("SELECT value FROM datapoints ORDER BY ts, rowid")]
        payloads = [json.loads(p) for (p,) in db.execute("SELECT payload FROM channel_messages")]
        (aggregate,) = db.execute("SELECT payload FROM channel_aggregates").fetchone()
    assert sorted(values) == [1.5, 2.5, float(2**62)]
    assert payloads[1]["big"] == 2**62
    assert json.loads(aggregate) == {"mode": "auto"}


async def test_channel_writes_on_sqlite(tmp_path: Path) -> None:
    """Numbering, delivery and the applied mark on the embedded database as well."""
    path = tmp_path / "cloud.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    device = json.loads(run_cli(url, "create-device", "sqlite-dev", "--json").stdout)
    with start_cloud(url, tmp_path / "logs") as cloud:
        with cloud.http(cloud.admin_token()) as client:
            made = [
                client.patch(
                    f"/api/v1/devices/{device['id']}/channels/ui_cmds/aggregate",
                    json={"cmds": {"go": n}},
                ).json()
                for n in (1, 2)
            ]
        assert [m["seq"] for m in made] == [1, 2]
        async with uplink_client(cloud.ws_url, device["token"]) as link:
            await link.hello()
            writes = [(await link.receive()).channel_write for _ in made]
            assert [w.seq for w in writes] == [1, 2]
            applying = record(1, "ui_cmds", aggregate={"cmds": {"go": 2}})
            applying.channel_write_seq, applying.no_datapoints = 2, True
            ack, _ = await link.batch(applying)
            assert ack is not None
        with cloud.http(cloud.admin_token()) as client:
            states = client.get(f"/api/v1/devices/{device['id']}/channel-writes").json()
    # The record marked write 2 applied; write 1 was never answered, so it is still pending.
    assert [(w["seq"], w["state"]) for w in states] == [(2, "applied"), (1, "pending")]
