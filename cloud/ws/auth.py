"""Signing in on a WebSocket the way WebMACS does: accept, then close 1008 with a reason.

WebMACS accepts before checking the token because a close frame (with its reason) can only
be sent on an accepted socket; a refusal during the handshake would reach the client as a
bare HTTP 403 and the reason would be lost. Browsers cannot send headers on a WebSocket,
hence the token in the query string. The token is a JWT or a ``wm_`` API token, resolved
exactly as on REST (an API token's role caps the user's, and a revoked one closes the socket
at the next re-check).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from fastapi import WebSocket
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from cloud.core.security import (
    InvalidTokenError,
    decode_access_token,
    hash_api_token,
    is_api_token,
)
from cloud.live.revocations import jti_subject, user_subject
from cloud.models import ApiToken, Role, User
from cloud.services.users import TokenRejectedError, resolve_token
from cloud.state import CloudState

__all__ = [
    "POLICY_VIOLATION",
    "accept_and_authenticate",
    "cloud_state",
    "insufficient_role_reason",
    "require_role",
    "token_lapsed",
]

POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
EXPIRY_MARGIN_S = 0.05  # past a token's expiry when its socket looks again after waking early
EXPIRY_GRACE_S = 1.0  # how long past its expiry a token that still passed is looked at again

log = structlog.get_logger(__name__)


def cloud_state(websocket: WebSocket) -> CloudState:
    state: CloudState = websocket.app.state.cloud
    return state


async def accept_and_authenticate(websocket: WebSocket) -> User | None:
    """Accept the socket and return the token's user, or close it and return None.

    Refused tokens close with 1008 and exactly WebMACS's reason ("Authentication required",
    "Invalid or expired token", "Token has been revoked", "User not found").
    """
    state = cloud_state(websocket)
    token = websocket.query_params.get("token")
    await websocket.accept()
    try:
        async with state.db.transaction() as session:
            return await resolve_token(session, token, state.jwt_secret)
    except TokenRejectedError as exc:
        log.info("ws_auth_refused", path=websocket.url.path, reason=exc.reason)
        await websocket.close(code=POLICY_VIOLATION, reason=exc.reason)
    except (SQLAlchemyError, OSError):
        # The client may retry; 1011 says the fault is ours, not its token's.
        log.exception("ws_auth_failed", path=websocket.url.path)
        await websocket.close(code=INTERNAL_ERROR, reason="Authentication unavailable")
    return None


async def token_lapsed(websocket: WebSocket, user: User, minimum: Role = Role.VIEWER) -> str:
    """Wait until the socket's token no longer admits it; return the close reason.

    A token is checked at connect, but a socket can outlive it: the user logs out (the token
    is revoked), the token expires, the user is deactivated or loses the role the door needs.
    The token is checked again when a revocation names its user or itself, when it expires,
    and otherwise only as a safety net (see :mod:`cloud.live.revocations`); a database
    hiccup keeps the socket open.
    """
    state = cloud_state(websocket)
    token = websocket.query_params.get("token") or ""
    subjects, expires_at = await _watch_facts(state, token, user)
    loop = asyncio.get_running_loop()
    deadline = None
    if expires_at is not None:
        deadline = loop.time() + (expires_at - datetime.now(UTC)).total_seconds()
    settings = state.settings
    with state.revocations.watch(subjects) as changed:
        while True:
            await state.revocations.next_check(
                changed,
                poll_s=settings.revocation_check_seconds,
                recheck_s=settings.notified_recheck_seconds,
                deadline=deadline,
            )
            try:
                async with state.db.transaction() as session:
                    checked = await resolve_token(session, token, state.jwt_secret)
            except TokenRejectedError as exc:
                return exc.reason
            except (SQLAlchemyError, OSError):
                log.warning("ws_token_check_failed", path=websocket.url.path, exc_info=True)
                deadline = None  # expiry is re-checked with the next poll instead
                continue
            if not checked.role_enum.at_least(minimum):
                return insufficient_role_reason(minimum)
            if deadline is not None and expires_at is not None and loop.time() >= deadline:
                # Woken by the loop's clock a moment before the wall clock reached the expiry
                # (the two drift, and uvloop keeps time in milliseconds), or the check read
                # the clock just before it: look again just after it. A token still valid
                # well past its expiry is left to the next check.
                remaining = (expires_at - datetime.now(UTC)).total_seconds()
                deadline = (
                    loop.time() + max(remaining, 0.0) + EXPIRY_MARGIN_S
                    if remaining > -EXPIRY_GRACE_S
                    else None
                )


async def _watch_facts(
    state: CloudState, token: str, user: User
) -> tuple[set[str], datetime | None]:
    """What a socket's token depends on (its user, a JWT's id) and when it expires."""
    subjects = {user_subject(user.id)}
    if is_api_token(token):
        async with state.db.sessions() as session:
            expires_at = await session.scalar(
                select(ApiToken.expires_at).where(ApiToken.token_hash == hash_api_token(token))
            )
        return subjects, expires_at
    try:
        claims = decode_access_token(token, state.jwt_secret)
    except InvalidTokenError:  # expired since connect: the first check closes it
        return subjects, datetime.now(UTC)
    return subjects | {jti_subject(claims.jti)}, claims.expires_at


def insufficient_role_reason(minimum: Role) -> str:
    return f"Insufficient role: {minimum.value} required"


async def require_role(websocket: WebSocket, user: User, minimum: Role) -> bool:
    """True if ``user`` has at least ``minimum``; otherwise close the socket with 1008.

    WebMACS checks no role on its sockets, so a viewer could push data; here the REST rules
    hold on WebSockets too.
    """
    if user.role_enum.at_least(minimum):
        return True
    log.info("ws_role_refused", path=websocket.url.path, role=user.role, needed=minimum.value)
    await websocket.close(code=POLICY_VIOLATION, reason=insufficient_role_reason(minimum))
    return False
