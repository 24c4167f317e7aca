"""Users and their sessions: create, edit, deactivate, delete, authenticate, resolve tokens.

Whatever lowers what a user may do ends their sessions at once: a lowered role, a
deactivation or a new password bumps ``token_version``, which every access token carries,
so older tokens are refused on their next use (REST) or the next re-check (WebSockets).
API tokens survive a role change (their effective role follows the owner's) and a password
change (they are separate credentials, revoked one by one), but not a deactivation.

At least one active admin always remains: a change or deletion that would leave none is
refused, with the admin rows locked so two admins demoting each other cannot both succeed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.core.security import (
    AccessClaims,
    InvalidTokenError,
    TokenRejectedError,
    decode_access_token,
    hash_password,
    is_api_token,
    issue_access_token,
    verify_password,
)
from cloud.models import RevokedToken, Role, User
from cloud.services import api_tokens
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "USERNAME_MAX",
    "TokenRejectedError",
    "UserChanges",
    "UserUpdateResult",
    "WrongPasswordError",
    "authenticate",
    "change_own_password",
    "create_user",
    "delete_user",
    "get_user",
    "issue_token",
    "require_user",
    "resolve_token",
    "revoke_token",
    "update_user",
]

MIN_PASSWORD_LENGTH = 8
# argon2 hashes any length, but hashing megabytes per login attempt would be a cheap DoS.
MAX_PASSWORD_LENGTH = 1024
USERNAME_MAX = 128  # the column's width


class WrongPasswordError(InvalidInputError):
    """The current password given to change it is wrong (counted like a failed login)."""


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


def _normal_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInputError(f"{email!r} is not an email address")
    return email


async def create_user(
    session: AsyncSession, email: str, password: str, role: Role, username: str | None = None
) -> User:
    email = _normal_email(email)
    _check_password(password)
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


async def get_user(session: AsyncSession, public_id: uuid.UUID) -> User | None:
    return await session.scalar(select(User).where(User.public_id == public_id))


async def require_user(session: AsyncSession, public_id: uuid.UUID) -> User:
    user = await get_user(session, public_id)
    if user is None:
        raise NotFoundError(f"no user {public_id}")
    return user


@dataclass(frozen=True)
class UserChanges:
    """What an admin asked to change; None leaves a field as it is."""

    email: str | None = None
    username: str | None = None
    password: str | None = None
    role: Role | None = None
    is_active: bool | None = None


@dataclass
class UserUpdateResult:
    """The user after an update, what changed (field names), and whether their sessions
    were ended (their access tokens no longer work)."""

    user: User
    changed: list[str] = field(default_factory=list)
    sessions_ended: bool = False
    deactivated: bool = False
    reactivated: bool = False


async def _keep_an_admin(session: AsyncSession, user: User, what: str) -> None:
    """Refuse (409) when ``user`` is the last active admin and is about to stop being one."""
    if not (user.is_active and user.role == Role.ADMIN.value):
        return
    # Lock every active admin row: a concurrent demotion of another admin waits for this
    # transaction and then no longer counts the one demoted here.
    admins = await session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True))
        .with_for_update()
    )
    if not [admin for admin in admins if admin != user.id]:
        raise ConflictError(
            f"cannot {what} {user.email}: they are the last active admin; "
            "make another user an admin first"
        )


def _end_sessions(user: User) -> None:
    user.token_version += 1


async def update_user(
    session: AsyncSession, actor: User, public_id: uuid.UUID, changes: UserChanges
) -> UserUpdateResult:
    """Apply an admin's changes to a user (PUT /users/{public_id})."""
    user = await require_user(session, public_id)
    result = UserUpdateResult(user)
    if changes.password is not None and user.id == actor.id:
        raise InvalidInputError(
            "your own password is changed with your current password (PUT /api/v1/auth/me/password)"
        )
    if changes.email is not None:
        email = _normal_email(changes.email)
        if email != user.email:
            taken = await session.scalar(select(User.id).where(User.email == email))
            if taken is not None:
                raise ConflictError(f"a user with email {email} exists already")
            user.email = email
            result.changed.append("email")
    if changes.username is not None:
        username = changes.username.strip()
        if not username:
            raise InvalidInputError("the username must not be empty")
        if username != user.username:
            user.username = username
            result.changed.append("username")
    if changes.role is not None and changes.role.value != user.role:
        lowered = changes.role.rank < Role(user.role).rank
        if changes.role is not Role.ADMIN:
            await _keep_an_admin(session, user, f"make {changes.role.value}")
        user.role = changes.role.value
        result.changed.append("role")
        result.sessions_ended |= lowered
    if changes.is_active is not None and changes.is_active != user.is_active:
        if not changes.is_active:
            await _keep_an_admin(session, user, "deactivate")
            result.deactivated = True
            result.sessions_ended = True
        else:
            result.reactivated = True
        user.is_active = changes.is_active
        result.changed.append("is_active")
    if changes.password is not None:
        _check_password(changes.password)
        user.password_hash = hash_password(changes.password)
        result.changed.append("password")
        result.sessions_ended = True
    if result.sessions_ended:
        _end_sessions(user)
    try:
        await session.flush()
    except IntegrityError:  # an email taken between the check and the flush
        raise ConflictError(f"a user with email {user.email} exists already") from None
    return result


async def delete_user(session: AsyncSession, actor: User, public_id: uuid.UUID) -> User:
    """Delete a user (their API tokens go with them; their log entries and experiments stay,
    unattributed). Returns the deleted user, for the event log."""
    user = await require_user(session, public_id)
    await _keep_an_admin(session, user, "delete")
    await session.delete(user)
    await session.flush()
    return user


async def change_own_password(
    session: AsyncSession, user: User, current_password: str, new_password: str
) -> User:
    """The signed-in user's new password, given the current one; ends their other sessions."""
    if not verify_password(current_password, user.password_hash):
        raise WrongPasswordError("the current password is wrong")
    _check_password(new_password)
    if verify_password(new_password, user.password_hash):
        raise InvalidInputError("the new password is the current one")
    user.password_hash = hash_password(new_password)
    _end_sessions(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active or not verify_password(password, user.password_hash):
        return None
    return user


def issue_token(user: User, secret: str, ttl_minutes: int) -> tuple[str, AccessClaims]:
    return issue_access_token(
        user.public_id, user.role, secret, timedelta(minutes=ttl_minutes), user.token_version
    )


async def resolve_token(session: AsyncSession, token: str | None, secret: str) -> User:
    """The user a token (JWT or ``wm_`` API token) speaks for, or TokenRejectedError with
    WebMACS's reason. For an API token the user's ``role_enum`` is capped at the token's."""
    if not token:
        raise TokenRejectedError("Authentication required")
    if is_api_token(token):
        return await api_tokens.resolve(session, token, datetime.now(UTC))
    try:
        claims = decode_access_token(token, secret)
    except InvalidTokenError:
        raise TokenRejectedError("Invalid or expired token") from None
    if await session.get(RevokedToken, claims.jti) is not None:
        raise TokenRejectedError("Token has been revoked")
    user = await session.scalar(select(User).where(User.public_id == claims.user_public_id))
    if user is None or not user.is_active:
        raise TokenRejectedError("User not found")
    if claims.version != user.token_version:
        # Issued before the user's password, role or status changed.
        raise TokenRejectedError("Token has been revoked")
    return user


async def revoke_token(session: AsyncSession, token: str, secret: str) -> None:
    """Logout: end the token the request came with (a JWT, or an API token itself)."""
    now = datetime.now(UTC)
    if is_api_token(token):
        await api_tokens.revoke_presented(session, token, now)
        return
    claims = decode_access_token(token, secret)
    # Expired revocations are useless (the token fails its exp check): prune them here.
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if await session.get(RevokedToken, claims.jti) is None:
        session.add(RevokedToken(jti=claims.jti, expires_at=claims.expires_at, revoked_at=now))
