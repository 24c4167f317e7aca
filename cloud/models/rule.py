"""Rules on sensors (WebMACS's ``rules``), the inbox ingest fills for them, and the
``sensor.reading`` webhook throttle.

A rule watches one sensor (WebMACS's ``event_public_id`` is the sensor's public id), compares
each stored value with its condition and, when it fires, takes one action. ``armed`` and
``last_triggered_at`` are its trigger state (see :mod:`cloud.rules.conditions`); they live
in the row, not in a process, so every replica's evaluator sees the same state.

``rule_inbox`` holds, per committed ingest batch, the values of the sensors someone watches,
until the evaluator has handled them: one row per batch, ``points`` a compact JSON array of
``[sensor_id, ts, value]``. ``rule_reading_throttle`` keeps when each sensor last produced a
``sensor.reading`` webhook event, so the throttle holds across replicas.

Enum values are stored as strings, so a new operator or action needs no migration.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Uuid, true
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, BigIntPK, JSONDocument, UTCDateTime

__all__ = [
    "CHANNEL_MAX",
    "NAME_MAX",
    "Rule",
    "RuleActionType",
    "RuleInbox",
    "RuleOperator",
    "RuleReadingThrottle",
]

NAME_MAX = 255
CHANNEL_MAX = 128


class RuleOperator(enum.StrEnum):
    """WebMACS's comparison operators; ``between``/``not_between`` use ``threshold_high``."""

    GT = "gt"
    LT = "lt"
    EQ = "eq"
    GTE = "gte"
    LTE = "lte"
    BETWEEN = "between"
    NOT_BETWEEN = "not_between"


class RuleActionType(enum.StrEnum):
    """WebMACS's ``webhook`` and ``log``, and revlink's ``command`` and ``notification``."""

    WEBHOOK = "webhook"
    LOG = "log"
    COMMAND = "command"
    NOTIFICATION = "notification"


class Rule(Base):
    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    # A rule without its sensor means nothing: it goes with the sensor.
    sensor_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("sensors.id", ondelete="CASCADE"), index=True
    )
    operator: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float] = mapped_column(Float)
    threshold_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    action_type: Mapped[str] = mapped_column(String(16))
    webhook_event_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The command action's target; a rule commanding a device goes with the device.
    command_device_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("devices.id", ondelete="CASCADE"), nullable=True
    )
    command_channel: Mapped[str | None] = mapped_column(String(CHANNEL_MAX), nullable=True)
    command_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, default=60)
    armed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    user_public_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.public_id", ondelete="SET NULL"), nullable=True
    )


class RuleInbox(Base):
    __tablename__ = "rule_inbox"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # [[sensor_id, ts (ISO 8601), value], ...] in the order the batch stored them.
    points: Mapped[list[list[Any]]] = mapped_column(JSONDocument)


class RuleReadingThrottle(Base):
    __tablename__ = "rule_reading_throttle"

    sensor_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("sensors.id", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
