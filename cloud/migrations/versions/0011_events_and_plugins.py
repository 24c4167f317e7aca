"""WebMACS's events and plugin instances.

``sensors.type`` holds an event's WebMACS type (sensor, actuator, range, cmd_*).
``devices.sensors_version`` is bumped whenever which sensor a device's key feeds changes, so
a connected device's ingest drops the sensor ids it cached. ``plugin_instances`` and
``channel_mappings`` are WebMACS's tables; a mapping points at the sensor its channel feeds.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sensors") as batch:
        batch.add_column(
            sa.Column("type", sa.String(length=16), server_default="sensor", nullable=False)
        )
    with op.batch_alter_table("devices") as batch:
        batch.add_column(
            sa.Column("sensors_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "plugin_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column("plugin_id", sa.String(length=100), nullable=False),
        sa.Column("instance_name", sa.String(length=255), nullable=False),
        sa.Column("demo_mode", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config_json", sa.Text(), nullable=True),
        sa.Column("poll_interval_s", sa.Float(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_on", UTC_TIME, nullable=False),
        sa.Column("updated_on", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_plugin_instances_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_plugin_instances_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_instances")),
        sa.UniqueConstraint("public_id", name=op.f("uq_plugin_instances_public_id")),
    )
    op.create_index(op.f("ix_plugin_instances_device_id"), "plugin_instances", ["device_id"])
    op.create_table(
        "channel_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("plugin_instance_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=100), nullable=False),
        sa.Column("channel_name", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=50), nullable=False),
        sa.Column("sensor_id", sa.Integer(), nullable=True),
        sa.Column("created_on", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["plugin_instance_id"],
            ["plugin_instances.id"],
            name=op.f("fk_channel_mappings_plugin_instance_id_plugin_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensors.id"],
            name=op.f("fk_channel_mappings_sensor_id_sensors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_mappings")),
        sa.UniqueConstraint("public_id", name=op.f("uq_channel_mappings_public_id")),
        sa.UniqueConstraint(
            "plugin_instance_id", "channel_id", name="uq_channel_mappings_instance_channel"
        ),
    )
    op.create_index(
        op.f("ix_channel_mappings_plugin_instance_id"), "channel_mappings", ["plugin_instance_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_channel_mappings_plugin_instance_id"), table_name="channel_mappings")
    op.drop_table("channel_mappings")
    op.drop_index(op.f("ix_plugin_instances_device_id"), table_name="plugin_instances")
    op.drop_table("plugin_instances")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("sensors_version")
    with op.batch_alter_table("sensors") as batch:
        batch.drop_column("type")
