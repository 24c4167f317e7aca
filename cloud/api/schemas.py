"""Request and response bodies shared by more than one router."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["StatusResponse"]


class StatusResponse(BaseModel):
    """WebMACS's plain acknowledgement shape."""

    status: str
    message: str
