"""The event log: WebMACS's ``log_entries``, written by the cloud as things happen.

WebMACS's columns (``public_id``, ``content``, ``logging_type``, ``status_type``,
``created_on``, ``user_public_id``) and revlink's: ``source`` (what wrote it: ``device``,
``command``, ``user``, ``login``, ``manual``; rules will add theirs), ``kind`` (what
happened, e.g. ``device.online``) and ``device_id`` (the device it is about, if any).
Enum values are stored as strings, so a new source or kind needs no migration.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, BigIntPK, UTCDateTime

__all__ = ["CONTENT_MAX", "LogEntry", "LoggingType", "StatusType"]

CONTENT_MAX = 500


class LoggingType(enum.StrEnum):
    """WebMACS's severities."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class StatusType(enum.StrEnum):
    """WebMACS's read state."""

    READ = "read"
    UNREAD = "unread"


class LogEntry(Base):
    __tablename__ = "log_entries"
    __table_args__ = (
        Index("ix_log_entries_created_on", "created_on"),
        Index("ix_log_entries_device_created_on", "device_id", "created_on"),
        Index("ix_log_entries_status_type", "status_type"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    content: Mapped[str] = mapped_column(String(CONTENT_MAX))
    logging_type: Mapped[str] = mapped_column(String(16), default=LoggingType.INFO.value)
    status_type: Mapped[str] = mapped_column(String(16), default=StatusType.UNREAD.value)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    user_public_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.public_id", ondelete="SET NULL"), nullable=True
    )
    source: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("devices.id", ondelete="SET NULL"), nullable=True
    )
