"""Rules on sensors, their state, and the rule inbox ingest fills.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

UTC_TIME = sa.DateTime(timezone=True)
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=16), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("threshold_high", sa.Float(), nullable=True),
        sa.Column("action_type", sa.String(length=16), nullable=False),
        sa.Column("webhook_event_type", sa.String(length=64), nullable=True),
        sa.Column("command_device_id", sa.Uuid(), nullable=True),
        sa.Column("command_channel", sa.String(length=128), nullable=True),
        sa.Column("command_payload", JSON_DOCUMENT, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("armed", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_triggered_at", UTC_TIME, nullable=True),
        sa.Column("created_on", UTC_TIME, nullable=False),
        sa.Column("user_public_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensors.id"],
            name=op.f("fk_rules_sensor_id_sensors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["command_device_id"],
            ["devices.id"],
            name=op.f("fk_rules_command_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_public_id"],
            ["users.public_id"],
            name=op.f("fk_rules_user_public_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
        sa.UniqueConstraint("public_id", name=op.f("uq_rules_public_id")),
        sa.UniqueConstraint("name", name=op.f("uq_rules_name")),
    )
    op.create_index("ix_rules_sensor_id", "rules", ["sensor_id"])
    op.create_table(
        "rule_inbox",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("points", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_inbox")),
    )
    op.create_table(
        "rule_reading_throttle",
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensors.id"],
            name=op.f("fk_rule_reading_throttle_sensor_id_sensors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sensor_id", name=op.f("pk_rule_reading_throttle")),
    )


def downgrade() -> None:
    op.drop_table("rule_reading_throttle")
    op.drop_table("rule_inbox")
    op.drop_index("ix_rules_sensor_id", table_name="rules")
    op.drop_table("rules")
