"""Writes to a device's channel aggregates made in the cloud, kept until the device has them.

Each write has a per-device ``seq`` (from ``Device.last_write_seq``): the order the device
applies them in. Its state only moves forward: pending (stored here) → delivered (the device
stored and applied it; its subscribers heard it) → applied (the device's record of it was
committed here, so the cloud's aggregate includes it). A write the device could not apply is
refused, with the device's reason.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, JSONDocument, UTCDateTime

__all__ = ["AppConfig", "ChannelWrite", "WriteState"]


class WriteState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    APPLIED = "applied"
    REFUSED = "refused"


class ChannelWrite(Base):
    __tablename__ = "channel_writes"
    __table_args__ = (
        Index("ix_channel_writes_device_seq", "device_id", "seq", unique=True),
        Index("ix_channel_writes_device_state", "device_id", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("devices.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(128))
    patch: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    replace: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default=WriteState.PENDING.value)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppConfig(Base):
    """The config a person gave one app on one device (what the cloud sends it)."""

    __tablename__ = "app_configs"

    device_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    app_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    write_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
