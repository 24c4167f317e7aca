"""Per-minute and per-hour summaries of each sensor's datapoints, for long range queries.

A row holds what an average, a minimum and a maximum over any union of its buckets need:
count, sum, min and max. On PostgreSQL a statement-level trigger on ``datapoints`` adds every
inserted batch to both tables in the inserting transaction (migration 0014), so late or
back-filled points are counted like any other; a sensor's delete cascades here as it does
to its datapoints. SQLite does not fill them: range queries there read raw rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Double, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UTCDateTime

__all__ = ["DatapointHour", "DatapointMinute"]


class _Rollup:
    """The columns both levels share; ``bucket`` is the start of the minute or hour (UTC)."""

    sensor_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("sensors.id", ondelete="CASCADE"), primary_key=True
    )
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    sum: Mapped[float] = mapped_column(Double)
    min: Mapped[float] = mapped_column(Double)
    max: Mapped[float] = mapped_column(Double)


class DatapointMinute(_Rollup, Base):
    __tablename__ = "datapoint_minutes"
    # As many rows as datapoints for a sensor sending once a minute: partitioned by month
    # like ``datapoints``, so retention drops it the same way.
    __table_args__ = ({"postgresql_partition_by": "RANGE (bucket)"},)


class DatapointHour(_Rollup, Base):
    __tablename__ = "datapoint_hours"
