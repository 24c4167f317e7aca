"""API tokens and user management in a real browser against the real cloud: a token made on
the tokens page works on REST and on a WebSocket until it is revoked there, a user demoted on
the users page loses their open sockets, and a password changed on the tokens page ends the
older sessions."""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import connect

from tests.e2e.conftest import PASSWORD, Stack, make_account
from tests.e2e.harness import ScriptRun, check, start_script
from tests.rig.cloud import CloudServer, unique
from tests.rig.stream import CONNECTED, close_frame


async def signalled(run: ScriptRun, name: str) -> dict[str, Any]:
    return await asyncio.to_thread(run.wait_for_signal, name, 90)


def me(cloud: CloudServer, token: str) -> tuple[int, Any]:
    with cloud.http(token) as client:
        reply = client.get("/api/v1/auth/me")
    return reply.status_code, reply.json()


async def _drive(stack: Stack, run: ScriptRun, demoted_email: str) -> None:
    cloud = stack.cloud
    created = await signalled(run, "token-created")
    token = created["token"]
    status, body = me(cloud, token)
    assert (status, body["role"]) == (200, "operator")
    stream = await connect(f"{cloud.ws_url}/ws/datapoints/stream?token={token}")
    try:
        assert await asyncio.wait_for(stream.recv(), 10) == CONNECTED
        run.answer("token-used")
        await signalled(run, "token-revoked")
        assert me(cloud, token) == (401, {"detail": "Token has been revoked"})
        async with asyncio.timeout(15):  # re-checked every 2 s
            assert await close_frame(stream) == (1008, "Token has been revoked")
    finally:
        await stream.close()
    run.answer("token-revoked")

    user_token = cloud.login(demoted_email, PASSWORD)
    push = await connect(f"{cloud.ws_url}/ws/controller/telemetry?token={user_token}")
    watch = await connect(f"{cloud.ws_url}/ws/datapoints/stream?token={user_token}")
    try:
        assert await asyncio.wait_for(watch.recv(), 10) == CONNECTED
        await signalled(run, "user-demoted")
        async with asyncio.timeout(15):
            closed = await asyncio.gather(close_frame(push), close_frame(watch))
        assert list(closed) == [(1008, "Token has been revoked")] * 2
    finally:
        await push.close()
        await watch.close()
    run.answer("user-demoted")

    await signalled(run, "password-changed")


def test_tokens_users_and_my_password_in_the_browser(
    stack: Stack,
) -> None:
    demoted = make_account(stack.cloud, "operator")
    changer = make_account(stack.cloud, "viewer")
    before = stack.cloud.login(changer.email, changer.password)
    env = {
        **stack.env("admin"),
        "E2E_TOKEN_NAME": unique("e2e-token"),
        "E2E_DEMOTE_EMAIL": demoted.email,
        "E2E_PW_EMAIL": changer.email,
        "E2E_PW_OLD": changer.password,
        "E2E_PW_NEW": "changed-in-the-browser-1",
    }
    run = start_script("tokens.e2e.ts", "tokens", env)
    try:
        asyncio.run(_drive(stack, run, demoted.email))
    finally:
        check(run, 120)
    with stack.cloud.http(stack.cloud.admin_token()) as client:
        users = {u["email"]: u for u in client.get("/api/v1/users").json()}
        kinds = client.get("/api/v1/logging", params={"source": "token", "page_size": 100})
    assert (users[demoted.email]["role"], users[demoted.email]["is_active"]) == ("viewer", False)
    contents = [e["content"] for e in kinds.json()["data"]]
    assert any(env["E2E_TOKEN_NAME"] in c and "revoked by" in c for c in contents)
    # The password changed in the browser: the old one and the session from before are refused.
    assert me(stack.cloud, before) == (401, {"detail": "Token has been revoked"})
    with stack.cloud.http() as client:
        old = client.post(
            "/api/v1/auth/login", json={"email": changer.email, "password": changer.password}
        )
    assert old.status_code == 401
    assert stack.cloud.login(changer.email, env["E2E_PW_NEW"])
