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

import structlog
from fastapi import WebSocket
from sqlalchemy.exc import SQLAlchemyError

from cloud.models import Role, User
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


async def token_lapsed(websocket: WebSocket, minimum: Role = Role.VIEWER) -> str:
    """Wait until the socket's token no longer admits it; return the close reason.

    A token is checked at connect, but a socket can outlive it: the user logs out (the token
    is revoked), the token expires, the user is deactivated or loses the role the door needs.
    Re-checked every ``revocation_check_seconds``; a database hiccup keeps the socket open.
    """
    state = cloud_state(websocket)
    token = websocket.query_params.get("token")
    while True:
        await asyncio.sleep(state.settings.revocation_check_seconds)
        try:
            async with state.db.transaction() as session:
                user = await resolve_token(session, token, state.jwt_secret)
        except TokenRejectedError as exc:
            return exc.reason
        except (SQLAlchemyError, OSError):
            log.warning("ws_token_check_failed", path=websocket.url.path, exc_info=True)
            continue
        if not user.role_enum.at_least(minimum):
            return insufficient_role_reason(minimum)


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
