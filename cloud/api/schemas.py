"""Request and response bodies shared by more than one router."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cloud.models import ChannelWrite

__all__ = ["ChannelWriteOut", "StatusResponse"]


class StatusResponse(BaseModel):
    """WebMACS's plain acknowledgement shape."""

    status: str
    message: str


class ChannelWriteOut(BaseModel):
    """A cloud → device channel write and how far it got.

    ``pending``: stored in the cloud, not on the device yet (kept while it is offline);
    ``delivered``: the device stored and applied it, and its subscribers heard it;
    ``applied``: the cloud's aggregate includes it too; ``refused``: the device could not
    apply it (``detail`` says why).
    """

    id: uuid.UUID
    device_id: uuid.UUID
    channel: str
    seq: int = Field(description="Per-device order in which the device applies writes.")
    patch: dict[str, Any]
    replace: bool
    state: Literal["pending", "delivered", "applied", "refused"]
    detail: str | None
    created_at: datetime
    created_by: str | None
    delivered_at: datetime | None
    applied_at: datetime | None

    @classmethod
    def of(cls, write: ChannelWrite) -> ChannelWriteOut:
        return cls.model_validate(write, from_attributes=True)
