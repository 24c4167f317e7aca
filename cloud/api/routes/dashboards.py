"""Custom dashboards and widgets (WebMACS's /api/v1/dashboards)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(prefix="/dashboards", tags=["dashboards"])
