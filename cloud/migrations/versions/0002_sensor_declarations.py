"""Sensors keep what their device declared (unit, name) and whether a person edited them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Until now the cloud registered a device's sensors with ``name = key`` and ``unit = ""`` and
only a person (``PATCH /api/v1/sensors/...``) could change them; so an existing device sensor
whose name or unit differs from those defaults was edited by a person, and is marked so: a
device's declaration does not overwrite it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declared_name", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("declared_unit", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("name_edited", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("unit_edited", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    sensors = sa.table(
        "sensors",
        sa.column("key", sa.String),
        sa.column("name", sa.String),
        sa.column("unit", sa.String),
        sa.column("name_edited", sa.Boolean),
        sa.column("unit_edited", sa.Boolean),
    )
    op.execute(
        sensors.update()
        .where(sensors.c.key.is_not(None), sensors.c.name != sensors.c.key)
        .values(name_edited=True)
    )
    op.execute(
        sensors.update()
        .where(sensors.c.key.is_not(None), sensors.c.unit != "")
        .values(unit_edited=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.drop_column("unit_edited")
        batch_op.drop_column("name_edited")
        batch_op.drop_column("declared_unit")
        batch_op.drop_column("declared_name")
