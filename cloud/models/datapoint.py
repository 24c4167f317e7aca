"""Datapoints: one value of one sensor at its source time.

On PostgreSQL the table is partitioned by month of ``ts`` (see cloud.services.partitions), so
retention drops whole partitions and a range query scans only the months it covers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Double, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, BigIntPK, UTCDateTime

__all__ = ["Datapoint"]


class Datapoint(Base):
    __tablename__ = "datapoints"
    # Every read is "one sensor, a time range", newest first or bucketed: this index serves
    # all of them without touching the heap order.
    __table_args__ = (
        Index("ix_datapoints_sensor_ts", "sensor_id", "ts"),
        {"postgresql_partition_by": "RANGE (ts)"},
    )

    # A key of a partitioned table must hold the partition column, so on PostgreSQL the
    # primary key is (id, ts); ``id`` alone still comes from one sequence. SQLite keeps the
    # lone INTEGER PRIMARY KEY of migration 0001: it only auto-numbers that form.
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # No foreign key: checking one costs ingest a third of its rate (migration 0015), so the
    # sensor service deletes a sensor's points itself; sensor ids are never reused.
    sensor_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[float] = mapped_column(Double)
    experiment_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("experiments.id", ondelete="SET NULL"), nullable=True
    )
