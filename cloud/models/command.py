"""Commands for devices, kept until the device has answered them (or they expired).

Each has a per-device ``seq`` (from ``Device.last_command_seq``): the order the device gets
them in. ``state`` only moves forward from ``pending``: to ``delivered`` (the device handed
it to the channel's subscribers), ``refused`` (the device could not, ``detail`` says why) or
``expired`` (its time ran out first, in the cloud or on the device).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, JSONDocument, UTCDateTime

__all__ = ["CommandState", "DeviceCommand"]


class CommandState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    REFUSED = "refused"
    EXPIRED = "expired"


class DeviceCommand(Base):
    __tablename__ = "device_commands"
    __table_args__ = (
        Index("ix_device_commands_device_seq", "device_id", "seq", unique=True),
        Index("ix_device_commands_device_state", "device_id", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("devices.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    state: Mapped[str] = mapped_column(String(16), default=CommandState.PENDING.value)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
