"""``/api/v1/users``: accounts, managed by admins.

WebMACS's paths: ``GET``/``POST /users``, ``GET``/``PUT``/``DELETE /users/{public_id}``
with WebMACS's ``UserUpdate{email, username, password, role}``; revlink adds ``is_active``
to the same body to deactivate (false) or reactivate (true) an account. Everything here is
admin-only (WebMACS lets anyone read a user and edit themselves). A change that would leave
no active admin is refused with 409; an admin's own password is changed through
``PUT /api/v1/auth/me/password``, which asks for the current one. Writes answer WebMACS's
``{status, message}``, here with the ``user`` as it is afterwards.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from cloud.api.deps import AdminUser, DbSession, State
from cloud.api.schemas import StatusResponse
from cloud.models import Role, User
from cloud.services import event_log, users

__all__ = ["UserOut", "router"]

router = APIRouter(prefix="/users", tags=["users"])

Password = Annotated[
    str, Field(min_length=users.MIN_PASSWORD_LENGTH, max_length=users.MAX_PASSWORD_LENGTH)
]
Username = Annotated[str, Field(min_length=1, max_length=users.USERNAME_MAX)]
Email = Annotated[str, Field(min_length=3, max_length=320)]


class UserCreate(BaseModel):
    email: str
    password: str
    role: Role = Role.VIEWER
    username: str | None = None


class UserUpdate(BaseModel):
    """WebMACS's fields, each optional, and revlink's ``is_active``."""

    email: Email | None = None
    username: Username | None = None
    password: Password | None = Field(
        default=None, description="a new password for someone else (a reset); ends their sessions"
    )
    role: Role | None = Field(default=None, description="a lower role ends their sessions")
    is_active: bool | None = Field(
        default=None, description="false deactivates (ends sessions, refuses API tokens)"
    )


class UserOut(BaseModel):
    public_id: uuid.UUID
    email: str
    username: str
    role: Role
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            public_id=user.public_id,
            email=user.email,
            username=user.username,
            role=Role(user.role),
            is_active=user.is_active,
            created_at=user.created_at,
        )


class UserStatus(BaseModel):
    status: Literal["success"] = "success"
    message: str
    user: UserOut


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserCreate, admin: AdminUser, state: State, session: DbSession
) -> UserOut:
    user = await users.create_user(session, body.email, body.password, body.role, body.username)
    await session.commit()
    await state.event_log.write(event_log.user_created(user, admin))
    return UserOut.of(user)


@router.get("")
async def list_users(admin: AdminUser, session: DbSession) -> list[UserOut]:
    return [UserOut.of(u) for u in await session.scalars(select(User).order_by(User.email))]


@router.get("/{public_id}", responses={404: {"description": "No such user"}})
async def get_user(public_id: uuid.UUID, admin: AdminUser, session: DbSession) -> UserOut:
    return UserOut.of(await users.require_user(session, public_id))


@router.put(
    "/{public_id}",
    responses={
        404: {"description": "No such user"},
        409: {"description": "Email taken, or it would leave no active admin"},
    },
)
async def update_user(
    public_id: uuid.UUID, body: UserUpdate, admin: AdminUser, state: State, session: DbSession
) -> UserStatus:
    changes = users.UserChanges(**body.model_dump(exclude_none=True))
    result = await users.update_user(session, admin, public_id, changes)
    await session.commit()
    user = result.user
    if result.deactivated:
        await state.event_log.write(event_log.user_deactivated(user, admin))
    if result.reactivated:
        await state.event_log.write(event_log.user_reactivated(user, admin))
    others = [name for name in result.changed if name != "is_active"]
    if others:
        await state.event_log.write(event_log.user_updated(user, admin, others))
    return UserStatus(message="User successfully updated.", user=UserOut.of(user))


@router.delete(
    "/{public_id}",
    responses={
        404: {"description": "No such user"},
        409: {"description": "It would leave no active admin"},
    },
)
async def delete_user(
    public_id: uuid.UUID, admin: AdminUser, state: State, session: DbSession
) -> StatusResponse:
    deleted = await users.delete_user(session, admin, public_id)
    entry = event_log.user_deleted(deleted.email, admin)
    if deleted.id == admin.id:
        # An admin deleting themselves: the entry cannot point at a user row that is gone.
        entry = dataclasses.replace(entry, user_public_id=None)
    await session.commit()
    await state.event_log.write(entry)
    return StatusResponse(status="success", message="User successfully deleted.")
