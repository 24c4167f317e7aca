"""Custom dashboards and their widgets.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_global", sa.Boolean(), nullable=False),
        sa.Column("created_on", UTC_TIME, nullable=False),
        sa.Column("user_public_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_public_id"],
            ["users.public_id"],
            name=op.f("fk_dashboards_user_public_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboards")),
        sa.UniqueConstraint("public_id", name=op.f("uq_dashboards_public_id")),
    )
    op.create_index("ix_dashboards_user_public_id", "dashboards", ["user_public_id"])
    op.create_table(
        "dashboard_widgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("dashboard_id", sa.Integer(), nullable=False),
        sa.Column("widget_type", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("event_public_id", sa.Uuid(), nullable=True),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("y", sa.Integer(), nullable=False),
        sa.Column("w", sa.Integer(), nullable=False),
        sa.Column("h", sa.Integer(), nullable=False),
        sa.Column("config_json", sa.Text(), nullable=True),
        sa.Column("created_on", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "x >= 0 AND y >= 0 AND w >= 1 AND w <= 12 AND h >= 1 AND h <= 12"
            " AND x + w <= 12 AND y + h <= 1000",
            name=op.f("ck_dashboard_widgets_grid"),
        ),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["dashboards.id"],
            name=op.f("fk_dashboard_widgets_dashboard_id_dashboards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_widgets")),
        sa.UniqueConstraint("public_id", name=op.f("uq_dashboard_widgets_public_id")),
    )
    op.create_index("ix_dashboard_widgets_dashboard_id", "dashboard_widgets", ["dashboard_id"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_widgets_dashboard_id", table_name="dashboard_widgets")
    op.drop_table("dashboard_widgets")
    op.drop_index("ix_dashboards_user_public_id", table_name="dashboards")
    op.drop_table("dashboards")
