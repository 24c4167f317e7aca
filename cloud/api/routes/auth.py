"""``/api/v1/auth``: login (WebMACS's response shape), logout, me, and changing one's password.

``PUT /auth/me/password`` is revlink's (WebMACS has none): it needs the current password,
counts wrong ones against the same per-email limit as logins, ends every other session of
the user and answers a fresh access token in the login's shape, so the caller stays signed in.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from cloud.api.deps import CurrentUser, DbSession, State, bearer_token
from cloud.api.schemas import StatusResponse
from cloud.models import Role
from cloud.services import event_log, users

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginRequest(BaseModel):
    email: str
    password: str


class LoginResponse(BaseModel):
    status: str
    message: str
    access_token: str
    public_id: uuid.UUID
    username: str


class PasswordChange(BaseModel):
    current_password: Annotated[str, Field(min_length=1, max_length=users.MAX_PASSWORD_LENGTH)]
    new_password: Annotated[
        str, Field(min_length=users.MIN_PASSWORD_LENGTH, max_length=users.MAX_PASSWORD_LENGTH)
    ]


class MeResponse(BaseModel):
    public_id: uuid.UUID
    email: str
    username: str
    role: Role
    created_at: datetime


@router.post(
    "/login",
    responses={401: {"description": "Wrong email or password"}, 429: {"description": "Too many"}},
)
async def login(body: LoginRequest, state: State, session: DbSession) -> LoginResponse:
    key = body.email.strip().lower()
    await _refuse_if_limited(state, key)
    user = await users.authenticate(session, body.email, body.password)
    if user is None:
        await state.login_limiter.failed(key)
        await state.event_log.write(event_log.login_failed(body.email, "wrong email or password"))
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid email or password")
    await state.login_limiter.succeeded(key)
    await state.event_log.write(event_log.login_succeeded(user))
    token, _ = users.issue_token(user, state.jwt_secret, state.settings.jwt_ttl_minutes)
    return LoginResponse(
        status="success",
        message="Successfully logged in.",
        access_token=token,
        public_id=user.public_id,
        username=user.username,
    )


@router.post("/logout")
async def logout(
    user: CurrentUser,
    state: State,
    session: DbSession,
    token: Annotated[str | None, Depends(bearer_token)],
) -> StatusResponse:
    assert token is not None  # CurrentUser already refused a request without one
    await users.revoke_token(session, token, state.jwt_secret)
    return StatusResponse(status="success", message="Successfully logged out.")


@router.get("/me")
async def me(user: CurrentUser) -> MeResponse:
    return MeResponse(
        public_id=user.public_id,
        email=user.email,
        username=user.username,
        role=user.role_enum,  # what this request may do: an API token's role caps it
        created_at=user.created_at,
    )


async def _refuse_if_limited(state: State, key: str) -> None:
    wait = await state.login_limiter.retry_after(key)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Too many login attempts. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )


@router.put(
    "/me/password",
    responses={
        422: {"description": "Current password wrong, or the new one too short"},
        429: {"description": "Too many wrong passwords"},
    },
)
async def change_password(
    body: PasswordChange, user: CurrentUser, state: State, session: DbSession
) -> LoginResponse:
    # A stolen session must not become a way to guess the password: wrong current passwords
    # count as failed logins of this email.
    await _refuse_if_limited(state, user.email)
    try:
        await users.change_own_password(session, user, body.current_password, body.new_password)
    except users.WrongPasswordError:
        await state.login_limiter.failed(user.email)
        raise
    await session.commit()
    await state.event_log.write(event_log.user_updated(user, user, ["password"]))
    token, _ = users.issue_token(user, state.jwt_secret, state.settings.jwt_ttl_minutes)
    return LoginResponse(
        status="success",
        message="Password changed; other sessions were signed out.",
        access_token=token,
        public_id=user.public_id,
        username=user.username,
    )
