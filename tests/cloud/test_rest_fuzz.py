"""The REST API under generated input: schemathesis against our own OpenAPI, on a running cloud.

Every operation gets schema-valid and schema-breaking requests (its coverage phase: each
boundary, wrong type, missing field; then fuzzing), in two passes: one with the path
identifiers of resources made beforehand, so requests reach the code behind the lookup
(DELETEs keep generated identifiers, so the resources live through the pass), and one with
generated identifiers throughout. ``REVLINK_FUZZ_EXAMPLES`` sets the examples per operation
and pass: the default keeps ``make test`` quick, ``make fuzz`` runs over 100,000 requests.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.rig.cloud import CloudServer, start_cloud, unique
from tests.rig.postgres import PostgresServer, own_database
from tests.rig.uplink import record, uplink_client

EXAMPLES = int(os.environ.get("REVLINK_FUZZ_EXAMPLES", "8"))
SEED = int(os.environ.get("REVLINK_FUZZ_SEED", "20261204"))
# Operations whose success ends the run's own login: fuzzed last, with a token of their own.
SESSION_ENDING = ["/api/v1/auth/logout"]


@pytest.mark.timeout(300 + 4 * EXAMPLES)  # ~150 requests/s on a 2-core machine
def test_generated_requests_never_get_a_server_error(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    with (
        own_database(postgres_server, "revlink_fuzz") as url,
        start_cloud(url, tmp_path / "cloud") as cloud,
    ):
        admin = cloud.admin_token()
        config = tmp_path / "schemathesis.toml"
        config.write_text(_operations_config(_seed_resources(cloud, admin)))
        seeded = _schemathesis(
            cloud, admin, tmp_path / "seeded.json", config, exclude=SESSION_ENDING
        )
        generated_ids = _schemathesis(
            cloud, admin, tmp_path / "generated.json", exclude=SESSION_ENDING
        )
        ending = _schemathesis(
            cloud, cloud.user("admin")[1], tmp_path / "ending.json", config, only=SESSION_ENDING
        )
        with cloud.http(admin) as client:  # the run's login survived, and the cloud answers
            assert client.get("/api/v1/auth/me").status_code == 200
        log = cloud.output()
    reports = (seeded, generated_ids, ending)
    for report in reports:
        assert report["exit_code"] == 0, json.dumps(report["failures"] or report["errors"])[:4000]
        assert report["test_cases"]["with_failures"] == 0
        assert report["test_cases"]["errored"] == 0
    for report in (seeded, generated_ids):
        assert report["operations"]["tested"] == report["operations"]["selected"] >= 90
    generated = sum(report["test_cases"]["generated"] for report in reports)
    assert generated >= 90 * EXAMPLES
    reached = [op for op, phases in seeded["valid_rates"].items() if _accepted(phases)]
    assert len(reached) >= 60, f"only {len(reached)} operations ever answered 2xx"
    assert "Traceback" not in log
    print(f"\nschemathesis: {generated:,} requests, {len(reached)} operations reached with 2xx")


def _schemathesis(
    cloud: CloudServer,
    token: str,
    report: Path,
    config: Path | None = None,
    exclude: list[str] | None = None,
    only: list[str] | None = None,
) -> dict[str, Any]:
    argv = [sys.executable, "-m", "schemathesis.cli"]
    argv += ["--config-file", str(config), "run"] if config else ["run"]
    argv += [f"{cloud.base_url}/openapi.json", "--checks", "not_a_server_error"]
    argv += ["--max-examples", str(EXAMPLES), "--seed", str(SEED), "--no-shrink"]
    argv += ["--phases", "examples,coverage,fuzzing", "--workers", "2"]
    # Without Hypothesis's example database generation runs about 3.5x faster.
    argv += ["--generation-database", "none"]
    argv += ["--header", f"Authorization: Bearer {token}", "--request-timeout", "30"]
    argv += ["--report", "json", "--report-json-path", str(report)]
    for path in exclude or []:
        argv += ["--exclude-path", path]
    for path in only or []:
        argv += ["--include-path", path]
    # Its cache and Hypothesis's example database go to the run's directory, not the checkout.
    run = subprocess.run(argv, capture_output=True, text=True, timeout=3600, cwd=report.parent)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    result: dict[str, Any] = json.loads(report.read_text())
    if result["exit_code"] != 0:
        print(run.stdout[-8000:], run.stderr[-3000:])
    return result


def _accepted(phases: dict[str, dict[str, int]]) -> bool:
    return any(counts.get("accepted", 0) > 0 for counts in phases.values())


def _seed_resources(cloud: CloudServer, admin: str) -> dict[str, dict[str, str]]:
    """One of each resource, by the path prefix of the operations that address it."""
    device_id, device_token = cloud.device()
    asyncio.run(_send_one_record(cloud, device_token))
    with cloud.http(admin) as client:

        def made(path: str, body: dict[str, Any], wrapped_in: str | None = None) -> str:
            reply = client.post(path, json=body)
            assert reply.status_code in (200, 201), f"{path}: {reply.text}"
            created = reply.json()[wrapped_in] if wrapped_in else reply.json()
            return str(created["public_id"])

        sensor = made("/api/v1/sensors", {"name": unique("sensor")})
        dashboard = made("/api/v1/dashboards", {"name": unique("board")})
        widget = made(
            f"/api/v1/dashboards/{dashboard}/widgets",
            {"widget_type": "gauge", "title": "level", "event_public_id": sensor},
        )
        plugin = made(
            "/api/v1/plugins",
            {"plugin_id": "simulated", "instance_name": unique("plugin")},
        )
        mapping = made(
            f"/api/v1/plugins/{plugin}/channels",
            {"channel_id": "ch1", "channel_name": "level", "direction": "input"},
        )
        user_email = f"{unique('fuzzed')}@example.com"
        sensors = client.get(f"/api/v1/devices/{device_id}/sensors").json()
        prefix = "/api/v1"
        return {
            f"{prefix}/devices/": {
                "device_id": str(device_id),
                "channel": "tank",
                "key": sensors[0]["key"],
            },
            f"{prefix}/sensors/": {"public_id": sensor},
            f"{prefix}/events/": {"public_id": made("/api/v1/events", {"name": unique("ev")})},
            f"{prefix}/dashboards/": {"public_id": dashboard, "widget_id": widget},
            f"{prefix}/plugins/": {"public_id": plugin, "mapping_id": mapping},
            f"{prefix}/experiments/": {
                "public_id": made(
                    "/api/v1/experiments", {"name": unique("run")}, wrapped_in="experiment"
                )
            },
            f"{prefix}/logging/": {
                "public_id": made(
                    "/api/v1/logging", {"content": "fuzz run started"}, wrapped_in="log_entry"
                )
            },
            f"{prefix}/rules/": {
                "public_id": made(
                    "/api/v1/rules",
                    {
                        "name": unique("rule"),
                        "operator": "gt",
                        "threshold": 10,
                        "action_type": "log",
                        "event_public_id": sensor,
                    },
                    wrapped_in="rule",
                )
            },
            f"{prefix}/tokens/": {"public_id": made("/api/v1/tokens", {"name": unique("tok")})},
            f"{prefix}/users/": {
                "public_id": made(
                    "/api/v1/users",
                    {"email": user_email, "password": "correct horse battery", "role": "viewer"},
                )
            },
            f"{prefix}/webhooks/": {
                "public_id": made(
                    "/api/v1/webhooks",
                    {"url": "https://93.184.215.14/hook", "events": ["sensor.threshold_exceeded"]},
                    wrapped_in="webhook",
                )
            },
        }


async def _send_one_record(cloud: CloudServer, device_token: str) -> None:
    async with uplink_client(cloud.ws_url, device_token) as link:
        await link.hello()
        ack, errors = await link.batch(record(1, "tank", message={"level": 1.5, "pump": True}))
        assert ack is not None
        assert not errors


def _operations_config(resources: dict[str, dict[str, str]]) -> str:
    blocks = []
    for prefix, parameters in resources.items():
        values = ", ".join(f"{name} = {json.dumps(value)}" for name, value in parameters.items())
        blocks.append(
            "[[operations]]\n"
            f'include-path-regex = "^{prefix}"\n'
            'exclude-method = "DELETE"\n'
            f"parameters = {{ {values} }}\n"
        )
    return "\n".join(blocks)
