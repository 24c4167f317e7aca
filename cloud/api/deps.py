"""FastAPI dependencies: the app state, a database session, the caller and their role."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import Role, User
from cloud.services.paging import MAX_PAGE
from cloud.services.request_limits import credential_key
from cloud.services.users import TokenRejectedError, resolve_token
from cloud.state import CloudState

__all__ = [
    "AdminUser",
    "CurrentUser",
    "DbSession",
    "OperatorUser",
    "PageNumber",
    "State",
    "bearer_token",
    "commit_and_wake",
    "get_state",
    "require_role",
]

_bearer = HTTPBearer(auto_error=False)

PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="the page, from 1")]


def get_state(request: Request) -> CloudState:
    state: CloudState = request.app.state.cloud
    return state


State = Annotated[CloudState, Depends(get_state)]


async def get_session(state: State) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns normally."""
    async with state.db.transaction() as session:
        yield session


# scope="function": the transaction commits before the response is sent. With the default
# scope the commit ran after it, so a client could hear 201 for a write not yet committed
# (or one whose commit then failed), and its next request would not see it.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    return credentials.credentials if credentials else None


async def current_user(
    state: State, session: DbSession, token: Annotated[str | None, Depends(bearer_token)]
) -> User:
    """The caller, from a JWT or a ``wm_`` API token; with an API token the user's
    ``role_enum`` is capped at the token's role, so every role check below honours it."""
    if token is not None and state.request_limits is not None:
        refused = state.request_limits.take(credential_key(token))
        if refused is not None:
            limits = state.request_limits
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many requests with this token: at most {limits.burst} at once, then "
                f"{limits.rate_per_s:g} a second; retry in {refused.retry_after_header} s",
                headers={"Retry-After": refused.retry_after_header},
            )
    try:
        return await resolve_token(session, token, state.jwt_secret)
    except TokenRejectedError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, exc.reason, headers={"WWW-Authenticate": "Bearer"}
        ) from None


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(minimum: Role) -> Callable[..., Coroutine[Any, Any, User]]:
    async def check(user: CurrentUser) -> User:
        if not user.role_enum.at_least(minimum):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {minimum.value} role; you are {user.role_enum.value}",
            )
        return user

    return check


OperatorUser = Annotated[User, Depends(require_role(Role.OPERATOR))]
AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]


async def commit_and_wake(session: AsyncSession, state: CloudState, device_id: uuid.UUID) -> None:
    """Commit what the request queued for a device (a channel write, a command), then wake the
    device's link: it must find the rows when it looks."""
    await session.commit()
    state.write_signals.notify(device_id)
