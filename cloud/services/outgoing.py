"""What channel writes and commands share on their way to a device: a strict, size-capped
JSON encoding and a per-device number taken in one statement."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cloud.models import Device
from cloud.services.errors import InvalidInputError

__all__ = ["encode_capped", "next_device_seq"]


def encode_capped(value: dict[str, Any], limit: int, what: str) -> str:
    """Compact JSON of ``value``; InvalidInputError naming ``what`` for NaN/∞ or over ``limit``
    bytes."""
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except ValueError:
        raise InvalidInputError(
            f"{what} holds NaN or Infinity, which JSON does not allow"
        ) from None
    size = len(text.encode())
    if size > limit:
        raise InvalidInputError(f"{what} is {size} bytes; the limit is {limit}")
    return text


async def next_device_seq(
    session: AsyncSession, device_id: uuid.UUID, counter: InstrumentedAttribute[int]
) -> int:
    """Take the device's next number from ``counter`` (a ``Device`` column). One statement,
    so concurrent callers never share a number."""
    taken = await session.execute(
        update(Device)
        .where(Device.id == device_id)
        .values({counter.key: counter + 1})
        .returning(counter)
    )
    seq: int = taken.scalar_one()
    return seq
