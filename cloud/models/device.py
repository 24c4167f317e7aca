"""Devices: identity, hashed token, and how far their uplink has committed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UTCDateTime

__all__ = ["Device"]


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Highest record seq committed for this device, written in the same transaction as the
    # records: the basis of exactly-once ingest.
    last_committed_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Highest ChannelWrite seq given out for this device (writes are numbered per device).
    last_write_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Highest DeviceCommand seq given out for this device.
    last_command_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bumped whenever which sensor a ``<channel>.<field>`` key feeds changes (a channel
    # mapping, a deleted sensor): ingest reads it with the seq and drops its cached ids.
    sensors_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Bumped by every new uplink connection, on any replica: the highest one is the device's
    # connection, and every older one closes (see cloud.uplink.registry).
    connection_gen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
