"""Experiments can be planned before they start; at most one runs; each names its creator.

Existing rows keep their times. Every experiment left unstopped but the newest is marked
stopped now (the new rule allows one running), and the newest becomes the running one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_experiments = sa.table(
    "experiments",
    sa.column("id", sa.Integer()),
    sa.column("started_at", UTC_TIME),
    sa.column("stopped_at", UTC_TIME),
    sa.column("created_at", UTC_TIME),
    sa.column("running", sa.Boolean()),
)


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_at", UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("running", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("user_public_id", sa.Uuid(), nullable=True))

    t = _experiments
    newest_open = (
        sa.select(t.c.id)
        .where(t.c.stopped_at.is_(None))
        .order_by(t.c.started_at.desc(), t.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    op.execute(
        sa.update(t)
        .where(t.c.stopped_at.is_(None), t.c.id != newest_open)
        .values(stopped_at=datetime.now(UTC))
    )
    op.execute(sa.update(t).where(t.c.stopped_at.is_(None)).values(running=sa.true()))
    op.execute(sa.update(t).values(created_at=t.c.started_at))

    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.alter_column("created_at", existing_type=UTC_TIME, nullable=False)
        batch_op.alter_column(
            "started_at", existing_type=UTC_TIME, nullable=True, existing_nullable=False
        )
        batch_op.alter_column(
            "name", existing_type=sa.String(length=200), type_=sa.String(length=255)
        )
        batch_op.create_unique_constraint(batch_op.f("uq_experiments_name"), ["name"])
        batch_op.create_unique_constraint(batch_op.f("uq_experiments_running"), ["running"])
        batch_op.create_foreign_key(
            batch_op.f("fk_experiments_user_public_id_users"),
            "users",
            ["user_public_id"],
            ["public_id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    t = _experiments
    # Planned experiments have no start time, which the old schema requires.
    op.execute(sa.delete(t).where(t.c.started_at.is_(None)))
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_experiments_user_public_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_experiments_running"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_experiments_name"), type_="unique")
        batch_op.alter_column(
            "name", existing_type=sa.String(length=255), type_=sa.String(length=200)
        )
        batch_op.alter_column(
            "started_at", existing_type=UTC_TIME, nullable=False, existing_nullable=True
        )
        batch_op.drop_column("user_public_id")
        batch_op.drop_column("running")
        batch_op.drop_column("created_at")
