"""``/api/v1/auth`` and roles, against a real cloud process on PostgreSQL."""

from __future__ import annotations

import httpx

from tests.rig.cloud import CloudServer, unique


def test_login_answers_webmacs_shape(cloud: CloudServer) -> None:
    email, _ = cloud.user("operator")
    with cloud.http() as client:
        reply = client.post(
            "/api/v1/auth/login", json={"email": email, "password": "correct horse battery"}
        )
    body = reply.json()
    assert reply.status_code == 200
    assert set(body) == {"status", "message", "access_token", "public_id", "username"}
    assert (body["status"], body["message"]) == ("success", "Successfully logged in.")
    assert body["username"] == email.split("@")[0]


def test_me_and_logout_revokes(cloud: CloudServer) -> None:
    email, token = cloud.user("viewer")
    with cloud.http(token) as client:
        me = client.get("/api/v1/auth/me").json()
        assert (me["email"], me["role"]) == (email, "viewer")
        out = client.post("/api/v1/auth/logout")
        assert out.json() == {"status": "success", "message": "Successfully logged out."}
        again = client.get("/api/v1/auth/me")
    assert again.status_code == 401
    assert again.json()["detail"] == "Token has been revoked"


def test_bad_credentials_and_tokens(cloud: CloudServer) -> None:
    email, _ = cloud.user("viewer")
    with cloud.http() as client:
        wrong = client.post("/api/v1/auth/login", json={"email": email, "password": "nope-nope"})
        assert wrong.status_code == 401
        assert wrong.json() == {"detail": "Invalid email or password"}
        assert client.get("/api/v1/auth/me").json()["detail"] == "Authentication required"
    with cloud.http("not-a-jwt") as client:
        assert client.get("/api/v1/auth/me").json()["detail"] == "Invalid or expired token"


def test_login_is_rate_limited_per_email(cloud: CloudServer) -> None:
    email = f"{unique('nobody')}@example.com"
    with cloud.http() as client:
        codes = [
            client.post("/api/v1/auth/login", json={"email": email, "password": "x"}).status_code
            for _ in range(6)
        ]
        assert codes == [401] * 5 + [429]
        limited = client.post("/api/v1/auth/login", json={"email": email, "password": "x"})
        assert int(limited.headers["Retry-After"]) > 0
        assert "Too many login attempts" in limited.json()["detail"]
        other = client.post(
            "/api/v1/auth/login", json={"email": f"{unique('x')}@example.com", "password": "x"}
        )
        assert other.status_code == 401


def test_roles_are_enforced(cloud: CloudServer) -> None:
    _, viewer = cloud.user("viewer")
    _, operator = cloud.user("operator")
    body = {"email": f"{unique('u')}@example.com", "password": "long-enough", "role": "viewer"}
    for token in (viewer, operator):
        with cloud.http(token) as client:
            refused = client.post("/api/v1/users", json=body)
            assert refused.status_code == 403
            assert "admin role" in refused.json()["detail"]
            assert client.post("/api/v1/devices", json={"name": unique("d")}).status_code == 403
            assert client.get("/api/v1/devices").status_code == 200
    with cloud.http(cloud.admin_token()) as client:
        assert client.post("/api/v1/users", json=body).status_code == 201
        assert client.post("/api/v1/users", json=body).status_code == 409


def test_openapi_and_health(cloud: CloudServer) -> None:
    assert httpx.get(f"{cloud.base_url}/healthz").json() == {
        "status": "ok",
        "database": "postgresql",
    }
    paths = httpx.get(f"{cloud.base_url}/openapi.json").json()["paths"]
    assert "/api/v1/auth/login" in paths
    assert httpx.get(f"{cloud.base_url}/docs").status_code == 200


def test_expired_token_is_refused(cloud: CloudServer) -> None:
    import uuid
    from datetime import timedelta

    from cloud.core.security import issue_access_token
    from tests.rig.cloud import JWT_SECRET

    expired, _ = issue_access_token(uuid.uuid4(), "admin", JWT_SECRET, timedelta(seconds=-5))
    with cloud.http(expired) as client:
        reply = client.get("/api/v1/auth/me")
    assert reply.status_code == 401
    assert reply.json()["detail"] == "Invalid or expired token"


def test_a_token_from_before_session_versions_still_works(cloud: CloudServer) -> None:
    """Tokens issued before ``token_version`` existed carry no ``ver``: they count as 0."""
    import jwt

    from tests.rig.cloud import JWT_SECRET

    email, token = cloud.user("viewer")
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert claims["ver"] == 0
    del claims["ver"]
    legacy = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    with cloud.http(legacy) as client:
        assert client.get("/api/v1/auth/me").json()["email"] == email
