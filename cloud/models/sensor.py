"""Sensors (WebMACS "events"): one time series each, with a stable public id."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UTCDateTime

__all__ = ["EventType", "Sensor"]


class EventType(enum.StrEnum):
    """WebMACS's event types: what a channel is for. revlink stores and reports it."""

    SENSOR = "sensor"
    ACTUATOR = "actuator"
    RANGE = "range"
    CMD_BUTTON = "cmd_button"
    CMD_OPENED = "cmd_opened"
    CMD_CLOSED = "cmd_closed"


class Sensor(Base):
    __tablename__ = "sensors"
    __table_args__ = (UniqueConstraint("device_id", "key", name="uq_sensors_device_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    # A device's sensors are registered by its uplink under key "<channel>.<field>"; sensors
    # without a device are fed through the WebMACS-compatible doors.
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("devices.id", ondelete="CASCADE"), nullable=True, index=True
    )
    key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(32), default="")
    # What the device declared for the field (``$fields``, see revlink.fields); NULL when it
    # declared nothing. ``name``/``unit`` follow a declaration unless a person changed them
    # through the API (``*_edited``); clearing an edit returns them to the declaration.
    declared_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    declared_unit: Mapped[str | None] = mapped_column(String(32), nullable=True)
    name_edited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unit_edited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    type: Mapped[str] = mapped_column(
        String(16), default=EventType.SENSOR.value, server_default=EventType.SENSOR.value
    )
    min_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
