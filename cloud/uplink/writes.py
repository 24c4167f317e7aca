"""The device link's write pump: sends a device its pending channel writes, in seq order.

It starts once the session is open, from the highest write the device says it applied, and
then sends whatever is pending above what it sent, whenever the API signals a new write (or
every ``channel_write_poll_seconds``, for writes made on another replica). A write goes once
per connection; one the device never answered goes again on its next connection, and the
device drops what it applied already, so each write takes effect exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from cloud.services.channel_writes import mark_delivered_up_to, undelivered_after, write_frame
from cloud.state import CloudState

__all__ = ["WritePump"]

BATCH = 100


class WritePump:
    def __init__(
        self,
        state: CloudState,
        device_id: uuid.UUID,
        send: Callable[[bytes], Awaitable[None]],
        log: structlog.stdlib.BoundLogger,
    ) -> None:
        self.state = state
        self.device_id = device_id
        self.send = send
        self.log = log
        self.sent_up_to = 0

    async def run(self, applied_up_to: int) -> None:
        """Forever (cancelled when the link ends)."""
        self.sent_up_to = applied_up_to
        if applied_up_to:
            async with self.state.db.transaction() as session:
                await mark_delivered_up_to(
                    session, self.device_id, applied_up_to, now=datetime.now(UTC)
                )
        poll = self.state.settings.channel_write_poll_seconds
        while True:
            if await self._send_pending() < BATCH:
                await self.state.write_signals.wait(self.device_id, poll)

    async def _send_pending(self) -> int:
        async with self.state.db.sessions() as session:
            writes = await undelivered_after(session, self.device_id, self.sent_up_to, BATCH)
        for write in writes:
            await self.send(write_frame(write))
            self.sent_up_to = write.seq
            self.log.info("uplink.write_sent", write_seq=write.seq, channel=write.channel)
        return len(writes)
