"""Webhooks (WebMACS's ``webhooks``) and the delivery log (``webhook_deliveries``).

A :class:`Webhook` is a target URL, a signing secret and the events it subscribes to. Every
event a webhook subscribes to becomes one :class:`WebhookDelivery` row, queued in the
transaction of the thing that happened; the dispatcher (``cloud.webhooks.dispatcher``) claims
due rows, posts them and records each try as a :class:`WebhookAttempt` (revlink's attempt
history beside WebMACS's summary columns ``attempts``, ``last_error``, ``response_code``).

The queue is the table: ``next_attempt_at`` says when a pending row is due and
``lease_until`` says until when a dispatcher owns a claimed row, so a replica that dies
mid-delivery only delays the row until its lease ends.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, BigIntPK, JSONDocument, UTCDateTime

__all__ = [
    "ERROR_MAX",
    "SECRET_MAX",
    "URL_MAX",
    "AttemptOutcome",
    "DeliveryStatus",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
]

URL_MAX = 2048
SECRET_MAX = 255
ERROR_MAX = 500


class DeliveryStatus(enum.StrEnum):
    """WebMACS's delivery states (``pending``, ``delivered``, ``failed``, ``dead_letter``).

    ``failed`` is final too: a try that must not be repeated (the target's address is not
    allowed). ``dead_letter`` means every try was used up.
    """

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD_LETTER = "dead_letter"


class AttemptOutcome(enum.StrEnum):
    """How one try ended."""

    DELIVERED = "delivered"  # a 2xx answer
    HTTP_ERROR = "http_error"  # any other answer
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    REFUSED = "refused"  # the resolved address is not allowed; never retried


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(URL_MAX))
    # Stored in clear because signing needs it; the API never returns it.
    secret: Mapped[str | None] = mapped_column(String(SECRET_MAX), nullable=True)
    events: Mapped[list[str]] = mapped_column(JSONDocument)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    user_public_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.public_id", ondelete="SET NULL"), nullable=True
    )


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The dispatcher's claim: pending rows by due time.
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        # The delivery log of one webhook, newest first.
        Index("ix_webhook_deliveries_webhook_created_on", "webhook_id", "created_on"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    webhook_id: Mapped[int] = mapped_column(Integer, ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    # The exact JSON body to post, built once at enqueue so every try signs the same bytes.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_MAX), nullable=True)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    delivered_on: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Which claim holds the lease: a dispatcher records its result only while it still
    # holds it, so a late answer after a lease ran out cannot overwrite a newer claim's.
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_attempt", "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
