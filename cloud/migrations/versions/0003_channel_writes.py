"""Cloud → device channel writes, and each app's config per device.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_write_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_table(
        "channel_writes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("patch", JSON, nullable=False),
        sa.Column("replace", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=True),
        sa.Column("delivered_at", UTC_TIME, nullable=True),
        sa.Column("applied_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_channel_writes_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_writes")),
    )
    op.create_index(
        "ix_channel_writes_device_seq", "channel_writes", ["device_id", "seq"], unique=True
    )
    op.create_index("ix_channel_writes_device_state", "channel_writes", ["device_id", "state"])
    op.create_table(
        "app_configs",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("app_key", sa.String(length=128), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=True),
        sa.Column("write_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_app_configs_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "app_key", name=op.f("pk_app_configs")),
    )


def downgrade() -> None:
    op.drop_table("app_configs")
    op.drop_index("ix_channel_writes_device_state", table_name="channel_writes")
    op.drop_index("ix_channel_writes_device_seq", table_name="channel_writes")
    op.drop_table("channel_writes")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("last_write_seq")
