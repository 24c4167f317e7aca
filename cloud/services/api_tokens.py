"""API tokens (WebMACS's ``wm_`` tokens): create, list, revoke, and resolve one to its user.

A token speaks for its owner with the lower of its own role and the owner's current role, so
demoting a user demotes their tokens too, and a token can never do more than its creator
could when it was made. Revoked tokens are kept (marked, not deleted) so that presenting one
is answered "Token has been revoked" rather than "Invalid"; lists leave them out. A token is
refused once revoked, once expired, and while its owner is deactivated.

``last_used_at`` is written at most once per :data:`LAST_USED_RESOLUTION` per token: a
script polling every second must not turn every read into a write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from cloud.core.security import (
    API_TOKEN_SHOWN_CHARS,
    TokenRejectedError,
    hash_api_token,
    new_api_token,
)
from cloud.models import ApiToken, Role, User
from cloud.models.api_token import NAME_MAX
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.services.paging import MAX_PAGE_SIZE, page_of_scalars

__all__ = [
    "LAST_USED_RESOLUTION",
    "MAX_PAGE_SIZE",
    "MAX_TOKENS_PER_USER",
    "NAME_MAX",
    "CreatedToken",
    "create_token",
    "effective_role",
    "list_tokens",
    "resolve",
    "revoke_presented",
    "revoke_token",
]

MAX_TOKENS_PER_USER = 20  # usable (neither revoked nor expired) tokens per user; WebMACS's
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedToken:
    """A new token and its plaintext, which exists only in this answer."""

    token: ApiToken
    plaintext: str


def effective_role(token: ApiToken) -> Role:
    """What the token may do now: its role, lowered to its owner's current one."""
    owner = Role(token.user.role)
    return token.role_enum if token.role_enum.rank < owner.rank else owner


def _usable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
    ]


async def create_token(
    session: AsyncSession,
    owner: User,
    name: str,
    role: Role | None,
    expires_at: datetime | None,
    now: datetime,
) -> CreatedToken:
    """A token for ``owner`` with at most the role they act with now (``owner.role_enum``:
    a request that itself came with a token cannot mint a stronger one)."""
    name = name.strip()
    if not name:
        raise InvalidInputError("the token needs a name")
    if len(name) > NAME_MAX:
        raise InvalidInputError(f"the name must have at most {NAME_MAX} characters")
    mine = owner.role_enum
    role = role or mine
    if role.rank > mine.rank:
        raise InvalidInputError(
            f"a token cannot have a higher role than yours: asked for {role.value}, "
            f"you are {mine.value}"
        )
    if expires_at is not None:
        expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
        if expires_at <= now:
            raise InvalidInputError("expires_at must be in the future")
    # Lock the owner's row: two concurrent creations must not both squeeze under the limit.
    await session.execute(select(User.id).where(User.id == owner.id).with_for_update())
    count = await session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == owner.id, *_usable(now))
    )
    if (count or 0) >= MAX_TOKENS_PER_USER:
        raise ConflictError(
            f"you have {MAX_TOKENS_PER_USER} API tokens already, the most one user may have; "
            "revoke one first"
        )
    plaintext = new_api_token()
    token = ApiToken(
        user_id=owner.id,
        name=name,
        token_hash=hash_api_token(plaintext),
        prefix=plaintext[:API_TOKEN_SHOWN_CHARS],
        role=role.value,
        created_at=now,
        expires_at=expires_at,
    )
    token.user = owner
    session.add(token)
    await session.flush()
    return CreatedToken(token, plaintext)


def _with_owner() -> Select[ApiToken]:
    return select(ApiToken).join(ApiToken.user).options(contains_eager(ApiToken.user))


async def list_tokens(
    session: AsyncSession, viewer: User, page: int, page_size: int
) -> tuple[list[ApiToken], int]:
    """Newest first; admins see everyone's tokens, others only their own (as in WebMACS).
    Revoked tokens are left out; expired ones stay until revoked, to show they expired."""
    query = _with_owner().where(ApiToken.revoked_at.is_(None))
    if not viewer.role_enum.at_least(Role.ADMIN):
        query = query.where(ApiToken.user_id == viewer.id)
    found, total = await page_of_scalars(
        session, query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc()), page, page_size
    )
    return list(found), total


async def revoke_token(
    session: AsyncSession, viewer: User, public_id: uuid.UUID, now: datetime
) -> ApiToken:
    """Revoke a token: admins any, others their own. Someone else's token is "not found", so
    the answer does not tell whether it exists."""
    token = await session.scalar(
        _with_owner().where(ApiToken.public_id == public_id, ApiToken.revoked_at.is_(None))
    )
    if token is None or not (token.user_id == viewer.id or viewer.role_enum.at_least(Role.ADMIN)):
        raise NotFoundError(f"no API token {public_id}")
    token.revoked_at = now
    await session.flush()
    return token


async def revoke_presented(session: AsyncSession, plaintext: str, now: datetime) -> None:
    """Logout with an API token revokes that token."""
    await session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == hash_api_token(plaintext), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def resolve(session: AsyncSession, plaintext: str, now: datetime) -> User:
    """The owner of a presented token, acting with the token's role at most; or
    TokenRejectedError with WebMACS's reasons."""
    token = await session.scalar(
        _with_owner().where(ApiToken.token_hash == hash_api_token(plaintext))
    )
    if token is None:
        raise TokenRejectedError("Invalid or expired token")
    if token.revoked_at is not None:
        raise TokenRejectedError("Token has been revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRejectedError("Invalid or expired token")
    user = token.user
    if not user.is_active:
        raise TokenRejectedError("User not found")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional, so concurrent requests in the same minute write it once.
        await session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token.id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at <= now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    user.limit_role(token.role_enum)
    return user
