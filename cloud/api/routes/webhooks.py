"""Webhooks (WebMACS's /api/v1/webhooks) and their delivery log."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
