"""API tokens (WebMACS's /api/v1/tokens)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(prefix="/tokens", tags=["tokens"])
