"""Datapoints without a foreign key to sensors: ingest no longer checks it row by row.

PostgreSQL checks a foreign key with one trigger call and one index probe per inserted row,
which cost more than a third of COPY's rate into ``datapoints``. A sensor's datapoints are
deleted with it by the service that deletes sensors (``cloud.services.sensors``), and a sensor
id is never reused, so nothing can point at the wrong sensor. The rollup tables keep theirs
(they take a few rows per batch).

Downgrade removes datapoints whose sensor is gone and adds the key back.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_datapoints_sensor_id_sensors"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE datapoints DROP CONSTRAINT {FK}")
        return
    with op.batch_alter_table("datapoints") as table:
        table.drop_constraint(FK, type_="foreignkey")


def downgrade() -> None:
    op.execute("DELETE FROM datapoints WHERE sensor_id NOT IN (SELECT id FROM sensors)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE datapoints ADD CONSTRAINT {FK} FOREIGN KEY (sensor_id) "
            "REFERENCES sensors (id) ON DELETE CASCADE"
        )
        return
    with op.batch_alter_table("datapoints") as table:
        table.create_foreign_key(FK, "sensors", ["sensor_id"], ["id"], ondelete="CASCADE")
