"""``/api/v1/users``: accounts, managed by admins."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel
from sqlalchemy import select

from cloud.api.deps import AdminUser, DbSession, State
from cloud.models import Role, User
from cloud.services import event_log, users

router = APIRouter(prefix="/users", tags=["users"])


class UserCreate(BaseModel):
    email: str
    password: str
    role: Role = Role.VIEWER
    username: str | None = None


class UserOut(BaseModel):
    public_id: uuid.UUID
    email: str
    username: str
    role: str
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            public_id=user.public_id,
            email=user.email,
            username=user.username,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
        )


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
