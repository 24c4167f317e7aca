"""``/api/v1/users`` (get, update, deactivate, delete) and ``PUT /api/v1/auth/me/password``,
against a real cloud process on PostgreSQL: who may, what ends a user's sessions and
sockets, and that the last active admin stays."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from cloud.services.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from tests.rig.cloud import CloudServer, start_cloud, unique
from tests.rig.postgres import PostgresServer, own_database
from tests.rig.stream import CONNECTED, close_frame

PASSWORD = "correct horse battery"


def public_id(cloud: CloudServer, token: str) -> str:
    with cloud.http(token) as client:
        me = client.get("/api/v1/auth/me")
    assert me.status_code == 200, me.text
    found: str = me.json()["public_id"]
    return found


def put(cloud: CloudServer, token: str, user: str, **body: Any) -> Any:
    with cloud.http(token) as client:
        return client.put(f"/api/v1/users/{user}", json=body)


def detail(cloud: CloudServer, token: str) -> str | None:
    """The 401 detail for ``token`` on /auth/me, or None when it is accepted."""
    with cloud.http(token) as client:
        reply = client.get("/api/v1/auth/me")
    if reply.status_code == 200:
        return None
    assert reply.status_code == 401
    reason: str = reply.json()["detail"]
    return reason


def entries(cloud: CloudServer, kind: str) -> list[str]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get("/api/v1/logging", params={"kind": kind, "page_size": 100})
    return [e["content"] for e in reply.json()["data"]]


def test_only_admins_read_and_change_users(cloud: CloudServer) -> None:
    email, viewer = cloud.user("viewer")
    _, operator = cloud.user("operator")
    target = public_id(cloud, viewer)
    for token in (viewer, operator):
        with cloud.http(token) as client:
            assert client.get(f"/api/v1/users/{target}").status_code == 403
            assert client.put(f"/api/v1/users/{target}", json={"username": "x"}).status_code == 403
            assert client.delete(f"/api/v1/users/{target}").status_code == 403
    with cloud.http(cloud.admin_token()) as client:
        got = client.get(f"/api/v1/users/{target}")
        assert got.status_code == 200
        assert (got.json()["email"], got.json()["role"], got.json()["is_active"]) == (
            email,
            "viewer",
            True,
        )
        missing = "00000000-0000-4000-8000-000000000000"
        assert client.get(f"/api/v1/users/{missing}").status_code == 404
        assert client.put(f"/api/v1/users/{missing}", json={"username": "x"}).status_code == 404
        assert client.delete(f"/api/v1/users/{missing}").status_code == 404
        assert client.get("/api/v1/users/not-a-uuid").status_code == 422


def test_update_email_username_and_role(cloud: CloudServer) -> None:
    _, token = cloud.user("viewer")
    target = public_id(cloud, token)
    new_email = f"{unique('renamed')}@Example.com"
    admin = cloud.admin_token()
    reply = put(cloud, admin, target, email=new_email, username="Renamed", role="operator")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["status"], body["message"]) == ("success", "User successfully updated.")
    assert (body["user"]["email"], body["user"]["username"], body["user"]["role"]) == (
        new_email.lower(),
        "Renamed",
        "operator",
    )
    # A higher role does not end the session; the new role applies at once.
    assert detail(cloud, token) is None
    with cloud.http(token) as client:
        assert client.get("/api/v1/auth/me").json()["role"] == "operator"
    assert cloud.login(new_email.lower(), PASSWORD)
    assert any(
        f"User {new_email.lower()} updated by" in c and "email, username, role operator" in c
        for c in entries(cloud, "user.updated")
    )


def test_bad_updates_are_refused_and_change_nothing(cloud: CloudServer) -> None:
    taken, _ = cloud.user("viewer")
    email, token = cloud.user("viewer")
    target = public_id(cloud, token)
    admin = cloud.admin_token()
    clash = put(cloud, admin, target, email=taken, username="changed")
    assert clash.status_code == 409
    assert clash.json()["detail"] == f"a user with email {taken} exists already"
    short = put(cloud, admin, target, password="x" * (MIN_PASSWORD_LENGTH - 1))
    assert short.status_code == 422
    assert short.json()["detail"][0]["loc"] == ["body", "password"]
    long = put(cloud, admin, target, password="x" * (MAX_PASSWORD_LENGTH + 1))
    assert long.status_code == 422
    assert put(cloud, admin, target, username="").status_code == 422
    assert put(cloud, admin, target, username="   ").status_code == 422
    assert put(cloud, admin, target, role="root").status_code == 422
    assert put(cloud, admin, target, email="no-at-sign").status_code == 422
    with cloud.http(admin) as client:
        now = client.get(f"/api/v1/users/{target}").json()
    assert (now["email"], now["username"]) == (email, email.split("@")[0])
    assert detail(cloud, token) is None


def test_lower_role_reset_password_and_deactivation_end_sessions(cloud: CloudServer) -> None:
    email, token = cloud.user("operator")
    target = public_id(cloud, token)
    admin = cloud.admin_token()
    assert put(cloud, admin, target, role="viewer").status_code == 200
    assert detail(cloud, token) == "Token has been revoked"

    token = cloud.login(email, PASSWORD)
    assert put(cloud, admin, target, password="a brand new secret").status_code == 200
    assert detail(cloud, token) == "Token has been revoked"
    with cloud.http() as client:
        old = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    token = cloud.login(email, "a brand new secret")

    off = put(cloud, admin, target, is_active=False)
    assert off.json()["user"]["is_active"] is False
    assert detail(cloud, token) == "User not found"
    with cloud.http() as client:
        refused = client.post(
            "/api/v1/auth/login", json={"email": email, "password": "a brand new secret"}
        )
    assert refused.status_code == 401
    assert put(cloud, admin, target, is_active=True).json()["user"]["is_active"] is True
    # Reactivated: signing in works again, the session from before does not come back.
    assert detail(cloud, token) == "Token has been revoked"
    assert detail(cloud, cloud.login(email, "a brand new secret")) is None
    assert any(f"User {email} deactivated by" in c for c in entries(cloud, "user.deactivated"))
    assert any(f"User {email} reactivated by" in c for c in entries(cloud, "user.reactivated"))
    assert any(
        f"User {email} updated by" in c and c.endswith(": password")
        for c in entries(cloud, "user.updated")
    )


def test_delete_a_user(cloud: CloudServer) -> None:
    email, token = cloud.user("operator")
    target = public_id(cloud, token)
    with cloud.http(cloud.admin_token()) as client:
        gone = client.delete(f"/api/v1/users/{target}")
        assert gone.json() == {"status": "success", "message": "User successfully deleted."}
        assert client.get(f"/api/v1/users/{target}").status_code == 404
        assert client.delete(f"/api/v1/users/{target}").status_code == 404
    assert detail(cloud, token) == "User not found"
    assert any(f"User {email} deleted by" in c for c in entries(cloud, "user.deleted"))
    # The address is free again.
    with cloud.http(cloud.admin_token()) as client:
        again = client.post("/api/v1/users", json={"email": email, "password": PASSWORD})
    assert again.status_code == 201


def test_change_my_password_needs_the_current_one(cloud: CloudServer) -> None:
    email, token = cloud.user("viewer")
    other_session = cloud.login(email, PASSWORD)
    with cloud.http(token) as client:
        wrong = client.put(
            "/api/v1/auth/me/password",
            json={"current_password": "not it at all", "new_password": "fresh-password-1"},
        )
        assert wrong.status_code == 422
        assert wrong.json()["detail"] == "the current password is wrong"
        short = client.put(
            "/api/v1/auth/me/password",
            json={"current_password": PASSWORD, "new_password": "x" * (MIN_PASSWORD_LENGTH - 1)},
        )
        assert short.status_code == 422
        changed = client.put(
            "/api/v1/auth/me/password",
            json={"current_password": PASSWORD, "new_password": "fresh-password-1"},
        )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert set(body) == {"status", "message", "access_token", "public_id", "username"}
    # Every older session ends, the one it answers works, and so does the new password.
    assert detail(cloud, token) == "Token has been revoked"
    assert detail(cloud, other_session) == "Token has been revoked"
    assert detail(cloud, body["access_token"]) is None
    assert cloud.login(email, "fresh-password-1")


def test_wrong_current_passwords_count_as_failed_logins(cloud: CloudServer) -> None:
    _, token = cloud.user("viewer")
    wrong = {"current_password": "guess-guess", "new_password": "fresh-password-1"}
    with cloud.http(token) as client:
        codes = [client.put("/api/v1/auth/me/password", json=wrong).status_code for _ in range(6)]
    assert codes == [422] * 5 + [429]


def test_an_admin_resets_others_passwords_not_their_own(cloud: CloudServer) -> None:
    _, admin = cloud.user("admin")
    refused = put(cloud, admin, public_id(cloud, admin), password="some-new-password")
    assert refused.status_code == 422
    assert "PUT /api/v1/auth/me/password" in refused.json()["detail"]
    assert detail(cloud, admin) is None


async def test_a_demoted_or_deactivated_users_socket_closes(cloud: CloudServer) -> None:
    admin = cloud.admin_token()
    sockets = []
    for change in ({"role": "viewer"}, {"is_active": False}):
        _, token = cloud.user("operator")
        target = public_id(cloud, token)
        stream = await connect(f"{cloud.ws_url}/ws/datapoints/stream?token={token}")
        push = await connect(f"{cloud.ws_url}/ws/controller/telemetry?token={token}")
        assert await asyncio.wait_for(stream.recv(), 10) == CONNECTED
        sockets.append((change, target, stream, push))
    try:
        for change, target, _, _ in sockets:
            assert put(cloud, admin, target, **change).status_code == 200
        # Re-checked every REVLINK_REVOCATION_CHECK_SECONDS (2 s here).
        async with asyncio.timeout(20):
            for change, _, stream, push in sockets:
                reason = "Token has been revoked" if "role" in change else "User not found"
                assert await close_frame(stream) == (1008, reason)
                assert await close_frame(push) == (1008, reason)
    finally:
        for _, _, stream, push in sockets:
            await stream.close()
            await push.close()


# The last active admin, on a cloud of its own: the shared one has many admins.


@pytest.fixture(scope="module")
def lone_cloud(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CloudServer, str]]:
    """A cloud on a fresh database with exactly one admin: (server, that admin's token)."""
    with (
        own_database(postgres_server, "revlink_users") as url,
        start_cloud(url, tmp_path_factory.mktemp("lone")) as server,
    ):
        yield server, server.admin_token()


def test_the_last_active_admin_cannot_demote_deactivate_or_delete_themselves(
    lone_cloud: tuple[CloudServer, str],
) -> None:
    cloud, admin = lone_cloud
    me = public_id(cloud, admin)
    for change in ({"role": "operator"}, {"is_active": False}):
        refused = put(cloud, admin, me, **change)
        assert refused.status_code == 409
        assert "they are the last active admin" in refused.json()["detail"]
    with cloud.http(admin) as client:
        assert client.delete(f"/api/v1/users/{me}").status_code == 409
        # An inactive admin does not count: it cannot sign in to fix anything.
        second = client.post(
            "/api/v1/users",
            json={"email": f"{unique('a2')}@example.com", "password": PASSWORD, "role": "admin"},
        )
        other = second.json()["public_id"]
        assert put(cloud, admin, other, is_active=False).status_code == 200
        assert client.delete(f"/api/v1/users/{me}").status_code == 409
        assert put(cloud, admin, other, is_active=True).status_code == 200
        # Two active admins: now either may step down.
        assert put(cloud, admin, me, role="viewer").status_code == 200
    assert detail(cloud, admin) == "Token has been revoked"
    # The other one is now the last: the same holds for them.
    other_token = cloud.login(second.json()["email"], PASSWORD)
    assert put(cloud, other_token, other, is_active=False).status_code == 409
    assert put(cloud, other_token, other, role="viewer").status_code == 409
    with cloud.http(other_token) as client:
        assert client.delete(f"/api/v1/users/{other}").status_code == 409
        assert put(cloud, other_token, me, role="admin").status_code == 200
        # Deleting an admin while another remains is fine.
        assert client.delete(f"/api/v1/users/{me}").status_code == 200
        assert client.delete(f"/api/v1/users/{other}").status_code == 409
