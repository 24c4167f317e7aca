"""Rules on sensors (WebMACS's /api/v1/rules)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(prefix="/rules", tags=["rules"])
