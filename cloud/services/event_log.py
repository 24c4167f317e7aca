"""The event log: what happened to devices, commands, users and logins, for people to read.

WebMACS's log entries (``content``, ``logging_type`` error/warning/info, ``status_type``
read/unread), with revlink's ``source``, ``kind`` and ``device_id`` so they can be filtered.

Writing an entry must never slow or break what it reports. :class:`EventLog` writes each
one in its own short transaction and only logs a database failure:
:meth:`EventLog.write` waits for it (for a request that has done its work already),
:meth:`EventLog.note` does not wait at all (for the device door, whose acks must not wait on
the log). A new source is one call: ``event_log.note(NewEntry(source=..., kind=..., ...))``,
or a small builder below next to the others.

None of this knows about HTTP.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.session import Database
from cloud.models import CommandState, LogEntry, LoggingType, StatusType, User
from cloud.models.log_entry import CONTENT_MAX
from cloud.services.commands import Outcome
from cloud.services.errors import InvalidInputError, NotFoundError
from cloud.services.paging import MAX_PAGE_SIZE, page_of_rows
from cloud.webhooks.events import WebhookEvent, enqueue_event

__all__ = [
    "MAX_PAGE_SIZE",
    "EntryFilter",
    "EventLog",
    "NewEntry",
    "Source",
    "add_entry",
    "command_answered",
    "device_offline",
    "device_online",
    "device_revoked",
    "get_entry",
    "list_entries",
    "login_failed",
    "login_succeeded",
    "mark_all_read",
    "rule_entry",
    "token_created",
    "token_revoked",
    "update_entry",
    "user_created",
    "user_deactivated",
    "user_deleted",
    "user_reactivated",
    "user_updated",
]

log = structlog.get_logger(__name__)


class Source:
    """What wrote an entry (a plain string in the table: rules will add ``rule``)."""

    DEVICE = "device"
    COMMAND = "command"
    USER = "user"
    LOGIN = "login"
    MANUAL = "manual"
    TOKEN = "token"
    RULE = "rule"
    TELEMETRY = "telemetry"


@dataclass(frozen=True)
class NewEntry:
    source: str
    kind: str
    content: str
    logging_type: LoggingType = LoggingType.INFO
    device_id: uuid.UUID | None = None
    user_public_id: uuid.UUID | None = None
    # Facts for a webhook event of the same kind (device.*, command.*), beside the text.
    data: dict[str, Any] | None = None


# Entries whose kind is also a webhook event: EventLog.write queues it with the entry.
_WEBHOOK_KINDS = frozenset(e.value for e in WebhookEvent)


async def _queue_webhook(session: AsyncSession, entry: NewEntry, now: datetime) -> None:
    if entry.kind not in _WEBHOOK_KINDS:
        return
    data: dict[str, Any] = {"device": entry.device_id, "message": entry.content}
    await enqueue_event(session, WebhookEvent(entry.kind), {**data, **(entry.data or {})}, now)


def _fit(content: str) -> str:
    return content if len(content) <= CONTENT_MAX else content[: CONTENT_MAX - 1] + "…"


def add_entry(session: AsyncSession, entry: NewEntry, now: datetime) -> LogEntry:
    """Add ``entry`` to the session (the caller commits). Long content is shortened."""
    row = LogEntry(
        public_id=uuid.uuid4(),
        content=_fit(entry.content),
        logging_type=entry.logging_type.value,
        status_type=StatusType.UNREAD.value,
        created_on=now,
        user_public_id=entry.user_public_id,
        source=entry.source,
        kind=entry.kind,
        device_id=entry.device_id,
    )
    session.add(row)
    return row


class EventLog:
    """Writes entries beside the work they report, never into it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: set[asyncio.Task[bool]] = set()

    async def write(self, entry: NewEntry) -> bool:
        """Store ``entry`` in its own transaction; False (and a warning) if that failed."""
        try:
            async with self.db.transaction() as session:
                now = datetime.now(UTC)
                add_entry(session, entry, now)
                await _queue_webhook(session, entry, now)  # same transaction: both or neither
        except SQLAlchemyError:
            log.warning("event_log.write_failed", kind=entry.kind, exc_info=True)
            return False
        return True

    def note(self, entry: NewEntry) -> None:
        """Store ``entry`` soon, without waiting for it."""
        task = asyncio.create_task(self.write(entry))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for the entries noted so far (at shutdown, before the engine goes)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


# Builders: one per thing that happens, so every writer words its entries the same way.


def device_online(device_id: uuid.UUID, name: str) -> NewEntry:
    return NewEntry(
        Source.DEVICE,
        "device.online",
        f"Device '{name}' is online",
        device_id=device_id,
        data={"device_name": name},
    )


def device_offline(device_id: uuid.UUID, name: str) -> NewEntry:
    return NewEntry(
        Source.DEVICE,
        "device.offline",
        f"Device '{name}' went offline",
        LoggingType.WARNING,
        device_id=device_id,
        data={"device_name": name},
    )


def device_revoked(device_id: uuid.UUID, name: str, by: User) -> NewEntry:
    return NewEntry(
        Source.DEVICE,
        "device.revoked",
        f"Device '{name}' was revoked by {by.email}",
        LoggingType.WARNING,
        device_id=device_id,
        user_public_id=by.public_id,
    )


_COMMAND_TYPES = {
    CommandState.DELIVERED: LoggingType.INFO,
    CommandState.REFUSED: LoggingType.ERROR,
    CommandState.EXPIRED: LoggingType.WARNING,
}


def command_answered(
    device_id: uuid.UUID, outcome: Outcome, device_name: str | None = None
) -> NewEntry:
    """A command's outcome: delivered, refused (with the device's reason) or expired."""
    to = f" to device '{device_name}'" if device_name else ""
    content = f"Command #{outcome.seq} on '{outcome.channel}'{to} {outcome.state.value}"
    return NewEntry(
        Source.COMMAND,
        f"command.{outcome.state.value}",
        f"{content}: {outcome.detail}" if outcome.detail else content,
        _COMMAND_TYPES.get(outcome.state, LoggingType.INFO),
        device_id=device_id,
        data={
            "device_name": device_name,
            "seq": outcome.seq,
            "channel": outcome.channel,
            "state": outcome.state.value,
            "detail": outcome.detail,
        },
    )


def user_created(user: User, by: User | None) -> NewEntry:
    who = f" by {by.email}" if by else ""
    return NewEntry(
        Source.USER,
        "user.created",
        f"User {user.email} created with role {user.role}{who}",
        user_public_id=by.public_id if by else user.public_id,
    )


def user_updated(user: User, by: User, changed: Sequence[str]) -> NewEntry:
    """Names what changed (the new role, never a password)."""
    what = [f"role {user.role}" if name == "role" else name for name in changed]
    return NewEntry(
        Source.USER,
        "user.updated",
        f"User {user.email} updated by {by.email}: {', '.join(what)}",
        user_public_id=by.public_id,
    )


def user_deactivated(user: User, by: User) -> NewEntry:
    return NewEntry(
        Source.USER,
        "user.deactivated",
        f"User {user.email} deactivated by {by.email}",
        LoggingType.WARNING,
        user_public_id=by.public_id,
    )


def user_reactivated(user: User, by: User) -> NewEntry:
    return NewEntry(
        Source.USER,
        "user.reactivated",
        f"User {user.email} reactivated by {by.email}",
        user_public_id=by.public_id,
    )


def user_deleted(email: str, by: User) -> NewEntry:
    return NewEntry(
        Source.USER,
        "user.deleted",
        f"User {email} deleted by {by.email}",
        LoggingType.WARNING,
        user_public_id=by.public_id,
    )


def token_created(name: str, prefix: str, role: str, by: User) -> NewEntry:
    """Names the token and its display prefix, never the secret."""
    return NewEntry(
        Source.TOKEN,
        "token.created",
        f"API token {name!r} ({prefix}…, {role}) created by {by.email}",
        user_public_id=by.public_id,
    )


def token_revoked(name: str, prefix: str, owner_email: str, by: User) -> NewEntry:
    whose = "" if owner_email == by.email else f" of {owner_email}"
    return NewEntry(
        Source.TOKEN,
        "token.revoked",
        f"API token {name!r} ({prefix}…){whose} revoked by {by.email}",
        user_public_id=by.public_id,
    )


def rule_entry(
    kind: str,
    content: str,
    logging_type: LoggingType = LoggingType.WARNING,
    device_id: uuid.UUID | None = None,
) -> NewEntry:
    """An entry about a rule (``rule.fired``, ``rule.notification``, ``rule.action_failed``);
    cloud.rules.actions words them, as it alone knows the rule, sensor and value."""
    return NewEntry(Source.RULE, kind, content, logging_type, device_id=device_id)


def login_succeeded(user: User) -> NewEntry:
    return NewEntry(
        Source.LOGIN, "login.succeeded", f"{user.email} logged in", user_public_id=user.public_id
    )


def login_failed(email: str, reason: str) -> NewEntry:
    """Names the email tried (shortened), never the password."""
    return NewEntry(
        Source.LOGIN,
        "login.failed",
        f"Login failed for {email.strip()[:320]!r}: {reason}",
        LoggingType.WARNING,
    )


# Reading and marking.


@dataclass(frozen=True)
class EntryFilter:
    """Every field narrows the entries; None leaves that field free. ``search`` matches
    part of the content, ignoring case (WebMACS's); the rest are revlink's additions but
    ``logging_type`` and the time range (``since``/``until``, both inclusive)."""

    logging_type: LoggingType | None = None
    status_type: StatusType | None = None
    source: str | None = None
    kind: str | None = None
    device_id: uuid.UUID | None = None
    search: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        if self.since and self.until and self.since > self.until:
            raise InvalidInputError("from_date must not be after to_date")
        found: list[ColumnElement[bool]] = []
        if self.logging_type is not None:
            found.append(LogEntry.logging_type == self.logging_type.value)
        if self.status_type is not None:
            found.append(LogEntry.status_type == self.status_type.value)
        if self.source is not None:
            found.append(LogEntry.source == self.source)
        if self.kind is not None:
            found.append(LogEntry.kind == self.kind)
        if self.device_id is not None:
            found.append(LogEntry.device_id == self.device_id)
        if self.search:
            escaped = self.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found.append(LogEntry.content.ilike(f"%{escaped}%", escape="\\"))
        if self.since is not None:
            found.append(LogEntry.created_on >= self.since)
        if self.until is not None:
            found.append(LogEntry.created_on <= self.until)
        return found


def _with_username() -> Select[LogEntry, str]:
    return select(LogEntry, User.username).outerjoin(
        User, User.public_id == LogEntry.user_public_id
    )


async def list_entries(
    session: AsyncSession, where: EntryFilter, *, page: int, page_size: int
) -> tuple[Sequence[tuple[LogEntry, str | None]], int]:
    """One page, newest first, each with its user's name, and how many match in all."""
    query = (
        _with_username()
        .where(*where.conditions())
        .order_by(LogEntry.created_on.desc(), LogEntry.id.desc())
    )
    rows, total = await page_of_rows(session, query, page, page_size)
    return [(entry, name) for entry, name in rows], total


async def get_entry(session: AsyncSession, public_id: uuid.UUID) -> tuple[LogEntry, str | None]:
    row = (await session.execute(_with_username().where(LogEntry.public_id == public_id))).first()
    if row is None:
        raise NotFoundError(f"no log entry {public_id}")
    return row[0], row[1]


async def update_entry(
    session: AsyncSession,
    public_id: uuid.UUID,
    *,
    status_type: StatusType | None = None,
    content: str | None = None,
) -> tuple[LogEntry, str | None]:
    """Mark it read or unread, and/or change its content (WebMACS's two editable fields)."""
    entry, username = await get_entry(session, public_id)
    if content is not None:
        if not content.strip():
            raise InvalidInputError("a log entry's content must not be blank")
        entry.content = _fit(content)
    if status_type is not None:
        entry.status_type = status_type.value
    await session.flush()
    return entry, username


async def mark_all_read(session: AsyncSession, where: EntryFilter) -> int:
    """Mark every unread entry that matches ``where`` read; how many changed."""
    result = await session.execute(
        update(LogEntry)
        .where(LogEntry.status_type == StatusType.UNREAD.value, *where.conditions())
        .values(status_type=StatusType.READ.value)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
