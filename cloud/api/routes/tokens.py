"""``/api/v1/tokens``: API tokens, WebMACS's paths and shapes.

``GET /tokens`` (a ``{page, page_size, total, data}`` page; admins see everyone's, others
their own), ``POST /tokens`` (``{name, expires_at}``, plus revlink's ``role``: at most the
caller's; answers the plaintext ``token`` once) and ``DELETE /tokens/{public_id}`` (revokes;
admins any token, others their own). Any signed-in user may have tokens. A token is used as
``Authorization: Bearer wm_…`` on REST and ``?token=wm_…`` on the WebSocket doors.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from cloud.api.deps import CurrentUser, DbSession, PageNumber, State
from cloud.api.schemas import StatusResponse
from cloud.models import ApiToken, Role
from cloud.services import api_tokens, event_log

__all__ = ["router"]

router = APIRouter(prefix="/tokens", tags=["tokens"])


class ApiTokenCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=api_tokens.NAME_MAX)]
    expires_at: datetime | None = Field(
        default=None, description="when it stops working (UTC if no offset); never if null"
    )
    role: Role | None = Field(
        default=None, description="revlink's: what the token may do; default and most: yours"
    )


class ApiTokenResponse(BaseModel):
    """WebMACS's fields and revlink's ``prefix``, ``role``, ``effective_role`` (the lower of
    the token's role and its owner's current role) and ``user_email``."""

    public_id: uuid.UUID
    name: str
    prefix: str = Field(description="the token's first characters, to recognise it")
    role: Role
    effective_role: Role
    last_used_at: datetime | None = Field(description="to the minute")
    expires_at: datetime | None
    created_at: datetime
    user_public_id: uuid.UUID
    user_email: str

    @classmethod
    def of(cls, token: ApiToken) -> ApiTokenResponse:
        return cls(
            public_id=token.public_id,
            name=token.name,
            prefix=token.prefix,
            role=token.role_enum,
            effective_role=api_tokens.effective_role(token),
            last_used_at=token.last_used_at,
            expires_at=token.expires_at,
            created_at=token.created_at,
            user_public_id=token.user.public_id,
            user_email=token.user.email,
        )


class ApiTokenCreatedResponse(BaseModel):
    """Returned once, when the token is made: the only time ``token`` (plaintext) is shown."""

    public_id: uuid.UUID
    name: str
    token: str
    prefix: str
    role: Role
    expires_at: datetime | None
    created_at: datetime


class ApiTokenPage(BaseModel):
    page: int
    page_size: int
    total: int
    data: list[ApiTokenResponse]


@router.get("")
async def list_tokens(
    user: CurrentUser,
    session: DbSession,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=api_tokens.MAX_PAGE_SIZE)] = 25,
) -> ApiTokenPage:
    """Newest first; revoked tokens are left out."""
    found, total = await api_tokens.list_tokens(session, user, page, page_size)
    return ApiTokenPage(
        page=page,
        page_size=page_size,
        total=total,
        data=[ApiTokenResponse.of(t) for t in found],
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "The caller has the most tokens one user may have"}},
)
async def create_token(
    body: ApiTokenCreate, user: CurrentUser, state: State, session: DbSession
) -> ApiTokenCreatedResponse:
    created = await api_tokens.create_token(
        session, user, body.name, body.role, body.expires_at, datetime.now(UTC)
    )
    token = created.token
    await session.commit()
    await state.event_log.write(event_log.token_created(token.name, token.prefix, token.role, user))
    return ApiTokenCreatedResponse(
        public_id=token.public_id,
        name=token.name,
        token=created.plaintext,
        prefix=token.prefix,
        role=token.role_enum,
        expires_at=token.expires_at,
        created_at=token.created_at,
    )


@router.delete("/{public_id}", responses={404: {"description": "No such token of yours"}})
async def revoke_token(
    public_id: uuid.UUID, user: CurrentUser, state: State, session: DbSession
) -> StatusResponse:
    """Revoked at once on REST; an open WebSocket using it closes within the revocation
    check interval."""
    token = await api_tokens.revoke_token(session, user, public_id, datetime.now(UTC))
    await session.commit()
    await state.event_log.write(
        event_log.token_revoked(token.name, token.prefix, token.user.email, user)
    )
    return StatusResponse(status="success", message="API token revoked.")
