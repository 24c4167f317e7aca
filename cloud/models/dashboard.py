"""Custom dashboards and their widgets (WebMACS's ``dashboards`` and ``dashboard_widgets``).

A dashboard belongs to the user who made it (``user_public_id``) and is seen by them alone
unless it is global (``is_global``). Its widgets sit on a 12-column grid: ``x`` is the first
column (0-based), ``w`` the columns it spans, ``y``/``h`` its rows. The database holds the grid
rules too (``ck_dashboard_widgets_grid``), so no writer can store a widget off the grid.

A widget names its sensor by ``event_public_id`` (WebMACS's name for a sensor's public id)
*without* a foreign key: a sensor that is deleted (with its device, say) leaves the widget in
place, and the dashboard shows it as "sensor removed" instead of losing it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UTCDateTime

__all__ = [
    "GRID_COLUMNS",
    "GRID_ROWS",
    "NAME_MAX",
    "SPAN_MAX",
    "TITLE_MAX",
    "Dashboard",
    "DashboardWidget",
    "WidgetType",
]

NAME_MAX = 255  # WebMACS's dashboard name limit
TITLE_MAX = 255  # and its widget title limit
GRID_COLUMNS = 12
SPAN_MAX = 12  # w and h: 1..12, as in WebMACS
GRID_ROWS = 1000  # y + h stays within this many rows (WebMACS leaves y unbounded)


class WidgetType(enum.StrEnum):
    """WebMACS's widget types."""

    LINE_CHART = "line_chart"
    GAUGE = "gauge"
    STAT_CARD = "stat_card"
    ACTUATOR_TOGGLE = "actuator_toggle"


def _now() -> datetime:
    return datetime.now(UTC)


class Dashboard(Base):
    __tablename__ = "dashboards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    is_global: Mapped[bool] = mapped_column(Boolean, default=False)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    # NULL once its owner is gone: an admin can still manage it (WebMACS keeps the id).
    user_public_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.public_id", ondelete="SET NULL"), nullable=True, index=True
    )


class DashboardWidget(Base):
    __tablename__ = "dashboard_widgets"
    __table_args__ = (
        CheckConstraint(
            f"x >= 0 AND y >= 0 AND w >= 1 AND w <= {SPAN_MAX} AND h >= 1 AND h <= {SPAN_MAX}"
            f" AND x + w <= {GRID_COLUMNS} AND y + h <= {GRID_ROWS}",
            name="grid",
        ),
        Index("ix_dashboard_widgets_dashboard_id", "dashboard_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    dashboard_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dashboards.id", ondelete="CASCADE")
    )
    widget_type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    event_public_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    x: Mapped[int] = mapped_column(Integer, default=0)
    y: Mapped[int] = mapped_column(Integer, default=0)
    w: Mapped[int] = mapped_column(Integer, default=4)
    h: Mapped[int] = mapped_column(Integer, default=3)
    # The widget's settings, a JSON object kept as the text the client sent (WebMACS's).
    config_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
