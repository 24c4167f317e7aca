"""Lean datapoints: (sensor_id, ts, value, experiment_id), no id, no keys but the one index.

A datapoint row was twice the width it needs: a sequence-drawn ``id`` with its (id, ts)
primary key index, a ``received_at`` nothing reads (an uplink record's arrival time is kept
with its channel message), and a foreign key to experiments checked row by row. Together
they cost ingest a third of its rate. Reads go by (sensor_id, ts), which the one index
serves; deleting an experiment clears its datapoints' ``experiment_id`` in the service
(cloud.services.experiments), as the key's ON DELETE SET NULL did.

PostgreSQL: the table is rebuilt with the same partitions (names and bounds), the rows copied
over, and the rollup trigger moved to it afterwards (the rollups already count those rows).
SQLite: the table is rebuilt the same way. Downgrade rebuilds the old shape, numbering the
rows in time order and taking ``ts`` as their ``received_at``.

This file is frozen history: it spells out its DDL rather than importing the app's.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAN = "sensor_id, ts, value, experiment_id"
_EXPERIMENT_FK = (
    "CONSTRAINT fk_datapoints_experiment_id_experiments FOREIGN KEY (experiment_id) "
    "REFERENCES experiments (id) ON DELETE SET NULL"
)
_TRIGGER = (
    "CREATE TRIGGER datapoints_roll_up AFTER INSERT ON datapoints "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION datapoints_roll_up()"
)


def _partitions() -> list[tuple[str, str]]:
    """(name, bound) of every partition of ``datapoints``."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'datapoints'::regclass ORDER BY c.relname"
        )
    )
    return [(str(name), str(bound)) for name, bound in rows]


def _indexes(table: str) -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = CAST(:t AS regclass)"
        ),
        {"t": table},
    )
    return [str(name) for (name,) in rows]


def _rebuild_postgres(columns: str, keys: str, fill: str) -> None:
    """Replace ``datapoints`` by a table of ``columns`` (DDL) with the same partitions,
    holding the old rows as ``fill`` selects them."""
    partitions = _partitions()
    op.execute("DROP TRIGGER datapoints_roll_up ON datapoints")
    op.execute("ALTER TABLE datapoints RENAME TO datapoints_old")
    op.execute("ALTER INDEX ix_datapoints_sensor_ts RENAME TO ix_datapoints_old_sensor_ts")
    for name, _ in partitions:
        # Their indexes too, so that the new partitions' indexes take the same names.
        for index in _indexes(name):
            op.execute(f"ALTER INDEX {index} RENAME TO {index}_old")
        op.execute(f"ALTER TABLE {name} RENAME TO {name}_old")
    op.execute(f"CREATE TABLE datapoints ({columns}{keys}) PARTITION BY RANGE (ts)")
    op.execute("CREATE INDEX ix_datapoints_sensor_ts ON datapoints (sensor_id, ts)")
    for name, bound in partitions:
        op.execute(f"CREATE TABLE {name} PARTITION OF datapoints {bound}")
    op.execute(fill)
    op.execute("DROP TABLE datapoints_old")
    op.execute(_TRIGGER)


def _rebuild_sqlite(columns: str, fill: str) -> None:
    op.execute(f"CREATE TABLE datapoints_new ({columns})")
    op.execute(fill.replace("INSERT INTO datapoints ", "INSERT INTO datapoints_new "))
    op.execute("DROP INDEX ix_datapoints_sensor_ts")
    op.execute("DROP TABLE datapoints")
    op.execute("ALTER TABLE datapoints_new RENAME TO datapoints")
    op.execute("CREATE INDEX ix_datapoints_sensor_ts ON datapoints (sensor_id, ts)")


_LEAN_COLUMNS = (
    "sensor_id INTEGER NOT NULL, ts TIMESTAMP WITH TIME ZONE NOT NULL, "
    "value DOUBLE PRECISION NOT NULL, experiment_id INTEGER"
)
_LEAN_FILL = f"INSERT INTO datapoints ({LEAN}) SELECT {LEAN} FROM datapoints_old"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_postgres(_LEAN_COLUMNS, "", _LEAN_FILL)
        return
    _rebuild_sqlite(
        "sensor_id INTEGER NOT NULL, ts DATETIME NOT NULL, value DOUBLE NOT NULL, "
        "experiment_id INTEGER",
        _LEAN_FILL.replace("datapoints_old", "datapoints"),
    )


def downgrade() -> None:
    fill = (
        f"INSERT INTO datapoints (id, {LEAN}, received_at) "
        f"SELECT row_number() OVER (ORDER BY ts, sensor_id), {LEAN}, ts FROM datapoints_old"
    )
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_postgres(
            "id BIGSERIAL NOT NULL, received_at TIMESTAMP WITH TIME ZONE NOT NULL, "
            + _LEAN_COLUMNS,
            f", CONSTRAINT pk_datapoints PRIMARY KEY (id, ts), {_EXPERIMENT_FK}",
            fill,
        )
        op.execute(
            "SELECT setval(pg_get_serial_sequence('datapoints', 'id'), "
            "coalesce(max(id), 0) + 1, false) FROM datapoints"
        )
        return
    _rebuild_sqlite(
        "id INTEGER NOT NULL, sensor_id INTEGER NOT NULL, ts DATETIME NOT NULL, "
        "received_at DATETIME NOT NULL, value DOUBLE NOT NULL, experiment_id INTEGER, "
        f"CONSTRAINT pk_datapoints PRIMARY KEY (id), {_EXPERIMENT_FK}",
        fill.replace("datapoints_old", "datapoints"),
    )
