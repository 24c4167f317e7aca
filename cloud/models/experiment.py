"""Experiments: named time spans that datapoints recorded during them belong to.

An experiment is *planned* (created, not started), *running* (``started_at`` set,
``stopped_at`` not) or *stopped* (both set). At most one runs at a time: ``running`` is TRUE
for the running one and NULL for every other row, and its unique constraint lets only one
row hold TRUE, so two concurrent starts cannot both win.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UTCDateTime

__all__ = ["Experiment", "ExperimentState"]

NAME_MAX = 255


class ExperimentState(enum.StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    STOPPED = "stopped"


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    running: Mapped[bool | None] = mapped_column(Boolean, unique=True, nullable=True)
    user_public_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.public_id", ondelete="SET NULL"), nullable=True
    )

    @property
    def state(self) -> ExperimentState:
        if self.running:
            return ExperimentState.RUNNING
        if self.started_at is None:
            return ExperimentState.PLANNED
        return ExperimentState.STOPPED
