"""``/api/v1/logging``: the event log, with WebMACS's paths and shapes.

WebMACS's paths: ``GET /logging`` (a ``{page, page_size, total, data}`` page, newest first,
filtered by ``logging_type``, ``search``, ``from_date`` and ``to_date``), ``POST /logging``
(``{content, logging_type}``), ``GET /logging/{public_id}`` and ``PUT /logging/{public_id}``
(``{status_type, content}``: mark it read or unread). Writes answer WebMACS's
``{status, message}``, here with the ``log_entry`` as it is afterwards.

revlink's additions: each entry's ``source``, ``kind`` and ``device_id``; the filters
``status_type``, ``source``, ``kind`` and ``device_id``; and ``PUT /logging/read`` to mark
every unread entry (matching the same filters) read. The cloud writes most entries itself
(devices online/offline/revoked, command outcomes, users created, logins).

Roles: viewers read and mark entries read or unread (WebMACS asks operator for any PUT);
operators create entries and change an entry's content (as in WebMACS).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from cloud.api.deps import CurrentUser, DbSession, OperatorUser, PageNumber
from cloud.models import LogEntry, LoggingType, Role, StatusType
from cloud.models.log_entry import CONTENT_MAX
from cloud.services import event_log
from cloud.services.event_log import EntryFilter, NewEntry, Source

__all__ = ["LogEntryOut", "router"]

router = APIRouter(prefix="/logging", tags=["logging"])

Content = Annotated[str, Field(min_length=1, max_length=CONTENT_MAX)]


class LogEntryCreate(BaseModel):
    content: Content
    logging_type: LoggingType = LoggingType.INFO


class LogEntryUpdate(BaseModel):
    status_type: StatusType | None = None
    content: Content | None = Field(default=None, description="needs the operator role")


class LogEntryOut(BaseModel):
    """WebMACS's fields (``public_id``, ``content``, ``logging_type``, ``status_type``,
    ``created_on``, ``user_public_id``, ``username``) and revlink's ``source``, ``kind`` and
    ``device_id``. ``user_public_id`` is null for an entry no user caused (WebMACS always has
    one)."""

    public_id: uuid.UUID
    content: str
    logging_type: LoggingType
    status_type: StatusType
    created_on: datetime
    user_public_id: uuid.UUID | None
    username: str | None
    source: str
    kind: str
    device_id: uuid.UUID | None

    @classmethod
    def of(cls, entry: LogEntry, username: str | None) -> LogEntryOut:
        return cls(
            public_id=entry.public_id,
            content=entry.content,
            logging_type=LoggingType(entry.logging_type),
            status_type=StatusType(entry.status_type),
            created_on=entry.created_on,
            user_public_id=entry.user_public_id,
            username=username,
            source=entry.source,
            kind=entry.kind,
            device_id=entry.device_id,
        )


class LogEntryPage(BaseModel):
    """WebMACS's page: ``page`` (from 1), ``page_size``, ``total`` and ``data``."""

    page: int
    page_size: int
    total: int
    data: list[LogEntryOut]


class LogEntryStatus(BaseModel):
    status: Literal["success"] = "success"
    message: str
    log_entry: LogEntryOut


class MarkedRead(BaseModel):
    status: Literal["success"] = "success"
    message: str
    updated: int = Field(description="how many entries were unread and are read now")


def _filter(
    logging_type: Annotated[LoggingType | None, Query()] = None,
    status_type: Annotated[StatusType | None, Query(description="revlink's")] = None,
    source: Annotated[str | None, Query(min_length=1, max_length=32, description="revlink's")] = (
        None
    ),
    kind: Annotated[str | None, Query(min_length=1, max_length=64, description="revlink's")] = (
        None
    ),
    device_id: Annotated[uuid.UUID | None, Query(description="revlink's")] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    from_date: Annotated[datetime | None, Query()] = None,
    to_date: Annotated[datetime | None, Query()] = None,
) -> EntryFilter:
    for name, value in (("from_date", from_date), ("to_date", to_date)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{name} needs a timezone (for example 2026-01-01T00:00:00Z)",
            )
    return EntryFilter(
        logging_type=logging_type,
        status_type=status_type,
        source=source,
        kind=kind,
        device_id=device_id,
        search=search,
        since=from_date,
        until=to_date,
    )


@router.get("")
async def list_log_entries(
    user: CurrentUser,
    session: DbSession,
    logging_type: Annotated[LoggingType | None, Query()] = None,
    status_type: Annotated[StatusType | None, Query(description="revlink's")] = None,
    source: Annotated[str | None, Query(min_length=1, max_length=32, description="revlink's")] = (
        None
    ),
    kind: Annotated[str | None, Query(min_length=1, max_length=64, description="revlink's")] = (
        None
    ),
    device_id: Annotated[uuid.UUID | None, Query(description="revlink's")] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    from_date: Annotated[datetime | None, Query()] = None,
    to_date: Annotated[datetime | None, Query()] = None,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=event_log.MAX_PAGE_SIZE)] = 25,
) -> LogEntryPage:
    """Newest first. ``from_date``/``to_date`` are inclusive and need a timezone; a
    ``from_date`` after ``to_date`` is 422 (as in WebMACS)."""
    where = _filter(logging_type, status_type, source, kind, device_id, search, from_date, to_date)
    found, total = await event_log.list_entries(session, where, page=page, page_size=page_size)
    return LogEntryPage(
        page=page,
        page_size=page_size,
        total=total,
        data=[LogEntryOut.of(entry, name) for entry, name in found],
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_log_entry(
    body: LogEntryCreate, user: OperatorUser, session: DbSession
) -> LogEntryStatus:
    """An entry written by hand (``source`` ``manual``), unread, naming its author."""
    entry = event_log.add_entry(
        session,
        NewEntry(
            Source.MANUAL,
            "manual",
            body.content,
            body.logging_type,
            user_public_id=user.public_id,
        ),
        datetime.now(UTC),
    )
    await session.flush()
    return LogEntryStatus(
        message="Log entry successfully created.", log_entry=LogEntryOut.of(entry, user.username)
    )


@router.put("/read")
async def mark_all_read(
    user: CurrentUser,
    session: DbSession,
    logging_type: Annotated[LoggingType | None, Query()] = None,
    source: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    kind: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    device_id: Annotated[uuid.UUID | None, Query()] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    from_date: Annotated[datetime | None, Query()] = None,
    to_date: Annotated[datetime | None, Query()] = None,
) -> MarkedRead:
    """revlink's: mark every unread entry read, or those matching the filters (the list's).
    Pass ``to_date`` as the newest entry shown to leave ones that arrived since unread."""
    where = _filter(logging_type, None, source, kind, device_id, search, from_date, to_date)
    updated = await event_log.mark_all_read(session, where)
    return MarkedRead(message=f"{updated} log entries marked read.", updated=updated)


@router.get("/{public_id}")
async def get_log_entry(public_id: uuid.UUID, user: CurrentUser, session: DbSession) -> LogEntryOut:
    return LogEntryOut.of(*await event_log.get_entry(session, public_id))


@router.put("/{public_id}")
async def update_log_entry(
    public_id: uuid.UUID, body: LogEntryUpdate, user: CurrentUser, session: DbSession
) -> LogEntryStatus:
    """Mark it ``read`` or ``unread`` (any role); change its ``content`` (operators)."""
    if body.content is not None and not user.role_enum.at_least(Role.OPERATOR):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"changing content needs the operator role; you are {user.role}",
        )
    entry, username = await event_log.update_entry(
        session, public_id, status_type=body.status_type, content=body.content
    )
    return LogEntryStatus(
        message="Log entry successfully updated.", log_entry=LogEntryOut.of(entry, username)
    )
