"""The dashboard in a real browser against the real cloud, fed by a real device agent.

Each test runs one script from ``frontend/e2e`` (see tests/e2e/harness.py) and leaves its
screenshots in ``frontend/e2e-output/<scenario>/``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from cloud.core.security import issue_access_token
from tests.e2e.conftest import Stack
from tests.e2e.harness import poll, run_script, start_script
from tests.rig.agent import agent_status, start_agent
from tests.rig.cloud import JWT_SECRET, unique


def expired_token(stack: Stack) -> str:
    """A correctly signed access token of the admin that expired a minute ago."""
    token = stack.cloud.login(stack.admin.email, stack.admin.password)
    with stack.cloud.http(token) as client:
        me = client.get("/api/v1/auth/me").json()
    user_id = uuid.UUID(me.get("public_id") or me["id"])
    expired, _ = issue_access_token(user_id, "admin", JWT_SECRET, timedelta(minutes=-1))
    return expired


def test_login_fleet_online_logout_and_ended_sessions(stack: Stack, tmp_path: Path) -> None:
    """Log in through the form, watch a device come online and go offline, log out, and an
    expired or garbage token in localStorage leads back to the login page."""
    late_id, late_token = stack.cloud.device(unique("e2e-late"))
    env = {
        **stack.env("admin"),
        "E2E_LATE_DEVICE_ID": str(late_id),
        "E2E_EXPIRED_TOKEN": expired_token(stack),
    }
    run = start_script("session.e2e.ts", "session", env)
    try:
        run.wait_for_signal("late-offline", 60)
        with start_agent(
            tmp_path / "agent", tmp_path / "logs", cloud_url=stack.cloud.base_url, token=late_token
        ) as agent:
            poll(lambda: agent_status(agent.target).cloud_connected, 20, "the late agent online")
            run.answer("late-offline")
            run.wait_for_signal("late-online", 30)
        run.answer("late-online")
    finally:
        out = run.finish(90)
    assert run.process.returncode == 0, f"browser script failed:\n{out}"


def test_device_page_shows_channels_and_live_sensor_values(stack: Stack) -> None:
    run_script("device.e2e.ts", "device", stack.env("admin"))


def test_live_page_streams_the_tank_level(stack: Stack) -> None:
    run_script("live.e2e.ts", "live", stack.env("operator"))


def test_history_chart_and_csv_export(stack: Stack) -> None:
    run_script("history.e2e.ts", "history", stack.env("viewer"))


def test_operator_command_reaches_the_device_and_one_for_an_offline_device_is_kept(
    stack: Stack,
) -> None:
    before = stack.device.received()
    run_script("command.e2e.ts", "command", stack.env("operator"))
    # The browser saw the device's echo; the device-side subscriber got exactly the payload,
    # once (the one kept for the offline device reached nobody yet).
    poll(lambda: len(stack.device.received()) > len(before), 10, "the command at the device")
    assert stack.device.received()[len(before) :] == [{"speed": 42}]


def test_viewer_sees_no_write_controls(stack: Stack) -> None:
    run_script("viewer.e2e.ts", "viewer", stack.env("viewer"))


def test_live_page_falls_back_to_polling_when_the_socket_is_blocked(stack: Stack) -> None:
    run_script("fallback.e2e.ts", "fallback", stack.env("operator"), timeout=120)


def test_phone_width_and_dark_mode_do_not_overflow(stack: Stack) -> None:
    run_script("phone.e2e.ts", "phone", stack.env("viewer"))


def test_api_docs_render_with_no_network(stack: Stack) -> None:
    run_script("docs.e2e.ts", "docs", stack.env("viewer"))


def test_admin_creates_and_revokes_a_device_edits_a_sensor_and_adds_an_account(
    stack: Stack, tmp_path: Path
) -> None:
    """The token the page shows once really connects a device, revoking cuts it off, a unit
    edited on the sensors page is stored, and the account created can sign in."""
    email, password = f"{unique('new')}@example.com", "new-account-pass-1"
    env = {
        **stack.env("admin"),
        "E2E_NEW_DEVICE_NAME": unique("e2e-new"),
        "E2E_NEW_USER_EMAIL": email,
        "E2E_NEW_USER_PASSWORD": password,
    }
    run = start_script("admin.e2e.ts", "admin", env)
    try:
        created = run.wait_for_signal("device-created", 60)
        with start_agent(
            tmp_path / "agent", tmp_path / "logs", stack.cloud.base_url, created["token"]
        ) as agent:
            poll(lambda: agent_status(agent.target).cloud_connected, 20, "the new device online")
            run.answer("device-created")
            run.wait_for_signal("device-revoked", 60)
            poll(lambda: not agent_status(agent.target).cloud_connected, 10, "the device cut off")
            run.answer("device-revoked")
    finally:
        out = run.finish(90)
    assert run.process.returncode == 0, f"browser script failed:\n{out}"
    with stack.cloud.http(stack.cloud.admin_token()) as client:
        sensor = client.get(f"/api/v1/sensors/{stack.temperature_sensor}").json()
        device = client.get(f"/api/v1/devices/{created['deviceId']}").json()
    assert (sensor["unit"], sensor["min_value"], sensor["max_value"]) == ("degC", 0, 60)
    assert device["revoked_at"] is not None
    new_token = stack.cloud.login(email, password)
    with stack.cloud.http(new_token) as client:
        assert client.get("/api/v1/auth/me").json()["role"] == "operator"


def test_keyboard_only_a_laptop_screen_and_error_states(stack: Stack) -> None:
    run_script("people.e2e.ts", "people", stack.env("admin"))
