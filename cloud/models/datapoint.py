"""Datapoints: one value of one sensor at its source time.

On PostgreSQL the table is partitioned by month of ``ts`` (see cloud.services.partitions), so
retention drops whole partitions and a range query scans only the months it covers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Double, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UTCDateTime

__all__ = ["Datapoint"]


class Datapoint(Base):
    __tablename__ = "datapoints"
    # Every read is "one sensor, a time range", newest first or bucketed: this index serves
    # all of them without touching the heap order.
    __table_args__ = (
        Index("ix_datapoints_sensor_ts", "sensor_id", "ts"),
        {"postgresql_partition_by": "RANGE (ts)"},
    )

    # No key: a key index costs every insert, and reads only go by (sensor_id, ts), which the
    # index above serves (migration 0016). The mapper still needs an identity to name.
    __mapper_args__ = {"primary_key": ("sensor_id", "ts")}  # noqa: RUF012 (read once, by SQLAlchemy)

    # No foreign keys either, each checked row by row: the sensor service deletes a sensor's
    # points (sensor ids are never reused) and the experiment service clears a deleted
    # experiment's id from its points.
    sensor_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[float] = mapped_column(Double)
    experiment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
