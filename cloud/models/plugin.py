"""Plugin instances and their channel mappings: WebMACS's ``plugin_instances`` and
``channel_mappings``.

An instance bound to a device is run by that device's plugin host: the cloud delivers the
device's set of instances as a channel write and the host reports each one's status on its
``plugin.NAME`` channel. An instance without a device is a WebMACS controller's: the
controller reads it through ``/api/v1/plugins`` and runs it itself.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UTCDateTime

__all__ = ["ChannelDirection", "ChannelMapping", "PluginInstance"]


class ChannelDirection(enum.StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    BIDIRECTIONAL = "bidirectional"


def _now() -> datetime:
    return datetime.now(UTC)


class PluginInstance(Base):
    __tablename__ = "plugin_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("devices.id", ondelete="CASCADE"), nullable=True, index=True
    )
    plugin_id: Mapped[str] = mapped_column(String(100))
    # On a device the name is also the host's instance name and the ``plugin.NAME`` channel.
    instance_name: Mapped[str] = mapped_column(String(255))
    demo_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    poll_interval_s: Mapped[float] = mapped_column(Float, default=1.0)
    user_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_on: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    updated_on: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class ChannelMapping(Base):
    __tablename__ = "channel_mappings"
    __table_args__ = (
        UniqueConstraint(
            "plugin_instance_id", "channel_id", name="uq_channel_mappings_instance_channel"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    plugin_instance_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("plugin_instances.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[str] = mapped_column(String(100))
    channel_name: Mapped[str] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(16), default=ChannelDirection.INPUT.value)
    unit: Mapped[str] = mapped_column(String(50), default="")
    # The event (sensor) the channel feeds; NULL leaves the channel unmapped.
    sensor_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("sensors.id", ondelete="SET NULL"), nullable=True
    )
    created_on: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
