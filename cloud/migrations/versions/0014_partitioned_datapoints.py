"""Datapoints partitioned by month on PostgreSQL; per-minute and per-hour rollups.

PostgreSQL: the rows of ``datapoints`` move into a table partitioned by month of ``ts``
(a partition for every month that has rows, this month and the next three, and a DEFAULT
one), keeping their ids and the id sequence. ``datapoint_minutes`` (partitioned the same way)
and ``datapoint_hours`` are built from them, and a statement-level trigger keeps both up to
date for every later insert, COPY included. Downgrade moves the rows back into a plain table.

SQLite: only the two rollup tables are created (they stay empty there).

This file is frozen history: it spells out its DDL rather than importing the app's.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AHEAD_MONTHS = 3
COLUMNS = "id, sensor_id, ts, received_at, value, experiment_id"

_ROLL_UP = """
CREATE FUNCTION datapoints_roll_up() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Sorted, so concurrent batches lock shared rollup rows in one order (no deadlock).
    INSERT INTO datapoint_minutes AS r (sensor_id, bucket, count, sum, min, max)
    SELECT sensor_id, date_trunc('minute', ts, 'UTC'), count(*), sum(value), min(value),
           max(value)
    FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (sensor_id, bucket) DO UPDATE SET
        count = r.count + excluded.count, sum = r.sum + excluded.sum,
        min = least(r.min, excluded.min), max = greatest(r.max, excluded.max);
    INSERT INTO datapoint_hours AS r (sensor_id, bucket, count, sum, min, max)
    SELECT sensor_id, date_trunc('hour', ts, 'UTC'), count(*), sum(value), min(value),
           max(value)
    FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (sensor_id, bucket) DO UPDATE SET
        count = r.count + excluded.count, sum = r.sum + excluded.sum,
        min = least(r.min, excluded.min), max = greatest(r.max, excluded.max);
    RETURN NULL;
END
$$
"""
_TRIGGER = (
    "CREATE TRIGGER datapoints_roll_up AFTER INSERT ON datapoints "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION datapoints_roll_up()"
)


def _rollup_table(name: str, partitioned: bool) -> None:
    options: dict[str, Any] = {"postgresql_partition_by": "RANGE (bucket)"} if partitioned else {}
    op.create_table(
        name,
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum", sa.Double(), nullable=False),
        sa.Column("min", sa.Double(), nullable=False),
        sa.Column("max", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensors.id"],
            name=op.f(f"fk_{name}_sensor_id_sensors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sensor_id", "bucket", name=op.f(f"pk_{name}")),
        **options,
    )


def _month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


def _month(index: int) -> datetime:
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _partition(table: str, index: int) -> None:
    low, high = _month(index), _month(index + 1)
    op.execute(
        f"CREATE TABLE {table}_y{low.year:04d}m{low.month:02d} PARTITION OF {table} "
        f"FOR VALUES FROM ('{low:%Y-%m-%d}T00:00:00+00') TO ('{high:%Y-%m-%d}T00:00:00+00')"
    )


def _data_table(name: str, primary_key: str, partitioned: bool) -> None:
    op.execute(
        f"CREATE TABLE {name} ("
        "id BIGINT NOT NULL, sensor_id INTEGER NOT NULL, ts TIMESTAMP WITH TIME ZONE NOT NULL, "
        "received_at TIMESTAMP WITH TIME ZONE NOT NULL, value DOUBLE PRECISION NOT NULL, "
        "experiment_id INTEGER, "
        f"CONSTRAINT pk_datapoints PRIMARY KEY ({primary_key}), "
        "CONSTRAINT fk_datapoints_sensor_id_sensors FOREIGN KEY (sensor_id) "
        "REFERENCES sensors (id) ON DELETE CASCADE, "
        "CONSTRAINT fk_datapoints_experiment_id_experiments FOREIGN KEY (experiment_id) "
        "REFERENCES experiments (id) ON DELETE SET NULL)"
        + (" PARTITION BY RANGE (ts)" if partitioned else "")
    )
    op.execute(f"CREATE INDEX ix_datapoints_sensor_ts ON {name} (sensor_id, ts)")


def _set_aside(old: str) -> str:
    """Rename ``datapoints`` (and its index names) to ``old``; return its id sequence."""
    sequence = op.get_bind().scalar(sa.text("SELECT pg_get_serial_sequence('datapoints', 'id')"))
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(f"ALTER TABLE datapoints RENAME TO {old}")
    op.execute(f"ALTER INDEX pk_datapoints RENAME TO pk_{old}")
    op.execute(f"ALTER INDEX ix_datapoints_sensor_ts RENAME TO ix_{old}_sensor_ts")
    return str(sequence)


def _take_over(old: str, sequence: str) -> None:
    """Give the new ``datapoints`` the rows and the id sequence of ``old``, then drop it."""
    op.execute(f"ALTER TABLE datapoints ALTER COLUMN id SET DEFAULT nextval('{sequence}')")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY datapoints.id")
    op.execute(f"INSERT INTO datapoints ({COLUMNS}) SELECT {COLUMNS} FROM {old}")
    op.execute(f"DROP TABLE {old}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _rollup_table("datapoint_minutes", partitioned=False)
        _rollup_table("datapoint_hours", partitioned=False)
        return
    sequence = _set_aside("datapoints_unpartitioned")
    _data_table("datapoints", "id, ts", partitioned=True)
    _rollup_table("datapoint_minutes", partitioned=True)
    _rollup_table("datapoint_hours", partitioned=False)
    months = {
        _month_index(moment.astimezone(UTC))
        for moment in op.get_bind().scalars(
            sa.text("SELECT DISTINCT date_trunc('month', ts, 'UTC') FROM datapoints_unpartitioned")
        )
    }
    current = _month_index(datetime.now(UTC))
    months.update(range(current, current + AHEAD_MONTHS + 1))
    for table in ("datapoints", "datapoint_minutes"):
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        for index in sorted(months):
            _partition(table, index)
    _take_over("datapoints_unpartitioned", sequence)
    # The rollups of what is there now, in two grouped passes; the trigger takes over after.
    op.execute(
        "INSERT INTO datapoint_minutes (sensor_id, bucket, count, sum, min, max) "
        "SELECT sensor_id, date_trunc('minute', ts, 'UTC'), count(*), sum(value), min(value), "
        "max(value) FROM datapoints GROUP BY 1, 2"
    )
    op.execute(
        "INSERT INTO datapoint_hours (sensor_id, bucket, count, sum, min, max) "
        "SELECT sensor_id, date_trunc('hour', bucket, 'UTC'), sum(count), sum(sum), min(min), "
        "max(max) FROM datapoint_minutes GROUP BY 1, 2"
    )
    op.execute(_ROLL_UP)
    op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER datapoints_roll_up ON datapoints")
        op.execute("DROP FUNCTION datapoints_roll_up()")
        sequence = _set_aside("datapoints_partitioned")
        _data_table("datapoints", "id", partitioned=False)
        _take_over("datapoints_partitioned", sequence)
    op.drop_table("datapoint_hours")
    op.drop_table("datapoint_minutes")
