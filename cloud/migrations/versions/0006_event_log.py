"""The event log (WebMACS's ``log_entries``), with revlink's source, kind and device.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-16
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC_TIME = sa.DateTime(timezone=True)
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.String(length=500), nullable=False),
        sa.Column("logging_type", sa.String(length=16), nullable=False),
        sa.Column("status_type", sa.String(length=16), nullable=False),
        sa.Column("created_on", UTC_TIME, nullable=False),
        sa.Column("user_public_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_public_id"],
            ["users.public_id"],
            name=op.f("fk_log_entries_user_public_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_log_entries_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_entries")),
        sa.UniqueConstraint("public_id", name=op.f("uq_log_entries_public_id")),
    )
    op.create_index("ix_log_entries_created_on", "log_entries", ["created_on"])
    op.create_index("ix_log_entries_device_created_on", "log_entries", ["device_id", "created_on"])
    op.create_index("ix_log_entries_status_type", "log_entries", ["status_type"])


def downgrade() -> None:
    op.drop_index("ix_log_entries_status_type", table_name="log_entries")
    op.drop_index("ix_log_entries_device_created_on", table_name="log_entries")
    op.drop_index("ix_log_entries_created_on", table_name="log_entries")
    op.drop_table("log_entries")
