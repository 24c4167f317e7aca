"""Users and their access tokens: create, authenticate, revoke."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.core.security import (
    AccessClaims,
    InvalidTokenError,
    decode_access_token,
    hash_password,
    issue_access_token,
    verify_password,
)
from cloud.models import RevokedToken, Role, User
from cloud.services.errors import ConflictError, InvalidInputError

__all__ = [
    "TokenRejectedError",
    "authenticate",
    "create_user",
    "issue_token",
    "resolve_token",
    "revoke_token",
]

MIN_PASSWORD_LENGTH = 8


class TokenRejectedError(Exception):
    """An access token that must not be honoured; ``reason`` is WebMACS's wording."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def create_user(
    session: AsyncSession, email: str, password: str, role: Role, username: str | None = None
) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInputError(f"{email!r} is not an email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(
        email=email,
        username=username or email.split("@", 1)[0],
        password_hash=hash_password(password),
        role=role.value,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise ConflictError(f"a user with email {email} exists already") from None
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active or not verify_password(password, user.password_hash):
        return None
    return user


def issue_token(user: User, secret: str, ttl_minutes: int) -> tuple[str, AccessClaims]:
    return issue_access_token(user.public_id, user.role, secret, timedelta(minutes=ttl_minutes))


async def resolve_token(session: AsyncSession, token: str | None, secret: str) -> User:
    """The user an access token speaks for, or TokenRejectedError with WebMACS's reason."""
    if not token:
        raise TokenRejectedError("Authentication required")
    try:
        claims = decode_access_token(token, secret)
    except InvalidTokenError:
        raise TokenRejectedError("Invalid or expired token") from None
    if await session.get(RevokedToken, claims.jti) is not None:
        raise TokenRejectedError("Token has been revoked")
    user = await session.scalar(select(User).where(User.public_id == claims.user_public_id))
    if user is None or not user.is_active:
        raise TokenRejectedError("User not found")
    return user


async def revoke_token(session: AsyncSession, token: str, secret: str) -> None:
    claims = decode_access_token(token, secret)
    now = datetime.now(UTC)
    # Expired revocations are useless (the token fails its exp check): prune them here.
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if await session.get(RevokedToken, claims.jti) is None:
        session.add(RevokedToken(jti=claims.jti, expires_at=claims.expires_at, revoked_at=now))


async def get_user(session: AsyncSession, public_id: uuid.UUID) -> User | None:
    return await session.scalar(select(User).where(User.public_id == public_id))
