"""``/api/v1/tokens`` and API tokens on REST and both WebSocket doors, against a real cloud
process on PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import connect

from cloud.services.api_tokens import MAX_TOKENS_PER_USER, NAME_MAX
from tests.rig.cloud import CloudServer, unique
from tests.rig.postgres import PostgresDatabase
from tests.rig.stream import CONNECTED, close_frame


def make_token(cloud: CloudServer, jwt: str, **body: Any) -> dict[str, Any]:
    with cloud.http(jwt) as client:
        reply = client.post("/api/v1/tokens", json={"name": unique("tok"), **body})
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


def me(cloud: CloudServer, token: str) -> dict[str, Any]:
    with cloud.http(token) as client:
        reply = client.get("/api/v1/auth/me")
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def user_id(cloud: CloudServer, email: str) -> str:
    with cloud.http(cloud.admin_token()) as client:
        found = [u for u in client.get("/api/v1/users").json() if u["email"] == email]
    public_id: str = found[0]["public_id"]
    return public_id


def listed(cloud: CloudServer, jwt: str) -> dict[str, dict[str, Any]]:
    with cloud.http(jwt) as client:
        page = client.get("/api/v1/tokens", params={"page_size": 100}).json()
    return {t["public_id"]: t for t in page["data"]}


async def sql(dsn: str, query: str, *args: object) -> Any:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


def test_created_token_is_shown_once_and_stored_only_as_a_digest(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    email, jwt = cloud.user("operator")
    created = make_token(cloud, jwt, name="ci script")
    plaintext = created["token"]
    assert set(created) == {
        "public_id",
        "name",
        "token",
        "prefix",
        "role",
        "expires_at",
        "created_at",
    }
    assert plaintext.startswith("wm_")
    assert len(plaintext) >= 3 + 43
    assert (created["name"], created["role"], created["expires_at"]) == (
        "ci script",
        "operator",
        None,
    )
    assert created["prefix"] == plaintext[:11]
    rows = asyncio.run(
        sql(
            postgres_database.dsn,
            "SELECT * FROM api_tokens WHERE public_id = $1",
            uuid.UUID(created["public_id"]),
        )
    )
    assert rows[0]["token_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in json.dumps([str(v) for v in rows[0].values()])
    shown = listed(cloud, jwt)[created["public_id"]]
    assert "token" not in shown
    assert (shown["prefix"], shown["user_email"], shown["effective_role"]) == (
        plaintext[:11],
        email,
        "operator",
    )
    assert shown["last_used_at"] is None


def test_token_works_on_rest_with_at_most_its_role(cloud: CloudServer) -> None:
    _, admin_jwt = cloud.user("admin")
    viewer_token = make_token(cloud, admin_jwt, role="viewer")["token"]
    assert me(cloud, viewer_token)["role"] == "viewer"
    with cloud.http(viewer_token) as client:
        assert client.get("/api/v1/devices").status_code == 200
        refused = client.get("/api/v1/users")
        assert refused.status_code == 403
        assert refused.json()["detail"] == "this needs the admin role; you are viewer"
        # A token cannot mint a stronger one.
        stronger = client.post("/api/v1/tokens", json={"name": "x", "role": "operator"})
        assert stronger.status_code == 422
    with cloud.http(admin_jwt) as client:
        assert client.get("/api/v1/users").status_code == 200


def test_role_name_and_expiry_are_checked(cloud: CloudServer) -> None:
    _, jwt = cloud.user("operator")
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    with cloud.http(jwt) as client:
        above = client.post("/api/v1/tokens", json={"name": "a", "role": "admin"})
        assert above.status_code == 422
        assert "asked for admin, you are operator" in above.json()["detail"]
        assert client.post("/api/v1/tokens", json={"name": ""}).status_code == 422
        assert client.post("/api/v1/tokens", json={"name": "   "}).status_code == 422
        long = client.post("/api/v1/tokens", json={"name": "n" * (NAME_MAX + 1)})
        assert long.status_code == 422
        assert long.json()["detail"][0]["loc"] == ["body", "name"]
        edge = client.post("/api/v1/tokens", json={"name": "n" * NAME_MAX, "expires_at": soon})
        assert edge.status_code == 201
        assert edge.json()["expires_at"].startswith(soon[:16])
        past = client.post(
            "/api/v1/tokens", json={"name": "p", "expires_at": "2020-01-01T00:00:00Z"}
        )
        assert past.status_code == 422
        assert past.json()["detail"] == "expires_at must be in the future"
        assert client.post("/api/v1/tokens", json={"name": "r", "role": "boss"}).status_code == 422


def test_tokens_per_user_are_limited(cloud: CloudServer) -> None:
    _, jwt = cloud.user("viewer")
    made = [make_token(cloud, jwt) for _ in range(MAX_TOKENS_PER_USER)]
    with cloud.http(jwt) as client:
        over = client.post("/api/v1/tokens", json={"name": "one too many"})
        assert over.status_code == 409
        assert f"{MAX_TOKENS_PER_USER} API tokens already" in over.json()["detail"]
        assert client.delete(f"/api/v1/tokens/{made[0]['public_id']}").status_code == 200
        assert client.post("/api/v1/tokens", json={"name": "room again"}).status_code == 201
        page = client.get("/api/v1/tokens", params={"page_size": 5, "page": 2}).json()
    assert (page["total"], page["page"], len(page["data"])) == (MAX_TOKENS_PER_USER, 2, 5)


def test_each_user_lists_and_revokes_their_own_and_admins_everyones(cloud: CloudServer) -> None:
    _, alice = cloud.user("operator")
    _, bob = cloud.user("viewer")
    _, admin = cloud.user("admin")
    alices = make_token(cloud, alice)
    bobs = make_token(cloud, bob)
    assert set(listed(cloud, alice)) == {alices["public_id"]}
    assert {alices["public_id"], bobs["public_id"]} <= set(listed(cloud, admin))
    with cloud.http(alice) as client:
        foreign = client.delete(f"/api/v1/tokens/{bobs['public_id']}")
        assert foreign.status_code == 404
        assert client.delete(f"/api/v1/tokens/{uuid.uuid4()}").status_code == 404
    assert me(cloud, bobs["token"])["role"] == "viewer"
    with cloud.http(admin) as client:
        revoked = client.delete(f"/api/v1/tokens/{bobs['public_id']}")
        assert revoked.json() == {"status": "success", "message": "API token revoked."}
        assert client.delete(f"/api/v1/tokens/{bobs['public_id']}").status_code == 404
        kinds = client.get("/api/v1/logging", params={"source": "token", "page_size": 100})
    assert bobs["public_id"] not in listed(cloud, bob)
    with cloud.http(bobs["token"]) as client:
        refused = client.get("/api/v1/auth/me")
    assert (refused.status_code, refused.json()["detail"]) == (401, "Token has been revoked")
    contents = [e["content"] for e in kinds.json()["data"]]
    assert any(f"({bobs['prefix']}…) of " in c and "revoked by" in c for c in contents)
    assert any(f"({alices['prefix']}…, operator) created" in c for c in contents)
    assert not any(bobs["token"] in c for c in contents)


def test_expired_and_deactivated_owners_tokens_are_refused(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    email, jwt = cloud.user("operator")
    created = make_token(cloud, jwt)
    token = created["token"]
    target = user_id(cloud, email)
    with cloud.http(cloud.admin_token()) as admin:
        assert admin.put(f"/api/v1/users/{target}", json={"is_active": False}).status_code == 200
        with cloud.http(token) as client:
            assert client.get("/api/v1/auth/me").json()["detail"] == "User not found"
        # Reactivated: the token works again (it was never revoked); the old session does not.
        assert admin.put(f"/api/v1/users/{target}", json={"is_active": True}).status_code == 200
    assert me(cloud, token)["email"] == email
    asyncio.run(
        sql(
            postgres_database.dsn,
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE public_id = $1",
            uuid.UUID(created["public_id"]),
        )
    )
    with cloud.http(token) as client:
        assert client.get("/api/v1/auth/me").json()["detail"] == "Invalid or expired token"
    with cloud.http("wm_" + "x" * 43) as client:
        assert client.get("/api/v1/auth/me").json()["detail"] == "Invalid or expired token"


def test_a_tokens_role_follows_its_owners_role_down(cloud: CloudServer) -> None:
    email, jwt = cloud.user("operator")
    token = make_token(cloud, jwt)["token"]
    target = user_id(cloud, email)
    with cloud.http(cloud.admin_token()) as admin:
        demoted = admin.put(f"/api/v1/users/{target}", json={"role": "viewer"})
        assert demoted.status_code == 200
        everyone = admin.get("/api/v1/tokens", params={"page_size": 100}).json()["data"]
    assert me(cloud, token)["role"] == "viewer"
    mine = [t for t in everyone if t["user_email"] == email]
    assert [(t["role"], t["effective_role"]) for t in mine] == [("operator", "viewer")]
    with cloud.http(token) as client:
        write = client.post("/api/v1/sensors", json={"name": unique("s"), "unit": "V"})
    assert write.status_code == 403


def test_last_used_is_written_at_most_once_a_minute(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    _, jwt = cloud.user("viewer")
    created = make_token(cloud, jwt)
    public_id = uuid.UUID(created["public_id"])

    def last_used() -> datetime | None:
        rows = asyncio.run(
            sql(
                postgres_database.dsn,
                "SELECT last_used_at FROM api_tokens WHERE public_id = $1",
                public_id,
            )
        )
        value: datetime | None = rows[0]["last_used_at"]
        return value

    def set_age(seconds: int) -> None:
        asyncio.run(
            sql(
                postgres_database.dsn,
                "UPDATE api_tokens SET last_used_at = now() - make_interval(secs => $2)"
                " WHERE public_id = $1",
                public_id,
                seconds,
            )
        )

    me(cloud, created["token"])
    first = last_used()
    assert first is not None
    assert abs((datetime.now(UTC) - first).total_seconds()) < 30
    me(cloud, created["token"])
    assert last_used() == first  # within the minute: not written again
    set_age(59)
    aged = last_used()
    me(cloud, created["token"])
    assert last_used() == aged
    set_age(61)
    stale = last_used()
    me(cloud, created["token"])
    latest = last_used()
    assert latest is not None
    assert stale is not None
    assert latest > stale + timedelta(seconds=60)
    assert listed(cloud, jwt)[created["public_id"]]["last_used_at"] is not None


def test_logout_with_a_token_revokes_it(cloud: CloudServer) -> None:
    _, jwt = cloud.user("viewer")
    token = make_token(cloud, jwt)["token"]
    with cloud.http(token) as client:
        assert client.post("/api/v1/auth/logout").status_code == 200
        assert client.get("/api/v1/auth/me").json()["detail"] == "Token has been revoked"
    assert me(cloud, jwt)["role"] == "viewer"  # the session it was made in lives on


async def test_token_opens_both_doors_and_revoking_it_closes_them(cloud: CloudServer) -> None:
    _, jwt = cloud.user("operator")
    created = make_token(cloud, jwt)
    token = created["token"]
    with cloud.http(token) as client:
        sensor = client.post("/api/v1/sensors", json={"name": unique("tok-s"), "unit": "V"})
    assert sensor.status_code == 201, sensor.text
    sensor_id = sensor.json()["public_id"]
    stream = await connect(f"{cloud.ws_url}/ws/datapoints/stream?token={token}&sensor={sensor_id}")
    push = await connect(f"{cloud.ws_url}/ws/controller/telemetry?token={token}")
    try:
        assert await asyncio.wait_for(stream.recv(), 10) == CONNECTED
        await push.send(json.dumps({"datapoints": [{"value": 4.5, "event_public_id": sensor_id}]}))
        message = json.loads(await asyncio.wait_for(stream.recv(), 10))
        assert message["type"] == "datapoints_batch"
        assert [p["value"] for p in message["datapoints"]] == [4.5]
        with cloud.http(jwt) as client:
            assert client.delete(f"/api/v1/tokens/{created['public_id']}").status_code == 200
        # Re-checked every REVLINK_REVOCATION_CHECK_SECONDS (2 s here).
        async with asyncio.timeout(15):
            closed = await asyncio.gather(close_frame(stream), close_frame(push))
        assert list(closed) == [(1008, "Token has been revoked")] * 2
    finally:
        await stream.close()
        await push.close()
    for door in ("datapoints/stream", "controller/telemetry"):
        async with connect(f"{cloud.ws_url}/ws/{door}?token={token}") as ws:
            assert await close_frame(ws) == (1008, "Token has been revoked")


async def test_a_viewer_token_cannot_push_telemetry(cloud: CloudServer) -> None:
    _, jwt = cloud.user("admin")
    token = make_token(cloud, jwt, role="viewer")["token"]
    async with connect(f"{cloud.ws_url}/ws/controller/telemetry?token={token}") as ws:
        assert await close_frame(ws) == (1008, "Insufficient role: operator required")
    async with connect(f"{cloud.ws_url}/ws/datapoints/stream?token={token}") as ws:
        assert await asyncio.wait_for(ws.recv(), 10) == CONNECTED


@pytest.mark.parametrize("path", ["/api/v1/tokens", f"/api/v1/tokens/{uuid.UUID(int=1)}"])
def test_tokens_need_a_signed_in_caller(cloud: CloudServer, path: str) -> None:
    with cloud.http() as client:
        reply = client.get(path) if path.endswith("tokens") else client.delete(path)
    assert (reply.status_code, reply.json()["detail"]) == (401, "Authentication required")
