"""The device link's outbox: sends a device its pending channel writes and commands, in order.

It starts once the session is open, from the highest write and command the device says it
has, and then sends whatever is pending above what it sent, whenever the API signals new
work for the device (or every ``channel_write_poll_seconds``, for work queued on another
replica). Each item goes once per connection; one the device never answered goes again on its
next connection, and the device drops what it has already, so each takes effect once. Writes
and commands are two sequences, each in its own order.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from cloud.services import channel_writes, commands, event_log
from cloud.state import CloudState

__all__ = ["Outbox"]

BATCH = 100


class Outbox:
    def __init__(
        self,
        state: CloudState,
        device_id: uuid.UUID,
        send: Callable[[bytes], Awaitable[None]],
        log: structlog.stdlib.BoundLogger,
        device_name: str | None = None,
    ) -> None:
        self.state = state
        self.device_name = device_name
        self.device_id = device_id
        self.send = send
        self.log = log
        self.writes_sent_up_to = 0
        self.commands_sent_up_to = 0

    async def run(self, applied_write_seq: int, taken_command_seq: int) -> None:
        """Forever (cancelled when the link ends)."""
        self.writes_sent_up_to = applied_write_seq
        self.commands_sent_up_to = taken_command_seq
        await self._mark_delivered_up_to(applied_write_seq, taken_command_seq)
        settings = self.state.settings
        while True:
            if max(await self._send_writes(), await self._send_commands()) < BATCH:
                # Notices wake the link for work queued anywhere; without them, poll.
                listening = self.state.revocations.listening
                await self.state.write_signals.wait(
                    self.device_id,
                    settings.notified_recheck_seconds
                    if listening
                    else settings.channel_write_poll_seconds,
                )

    async def _mark_delivered_up_to(self, write_seq: int, command_seq: int) -> None:
        # Apart from run(), whose frame lives as long as the link: the session dies here.
        now = datetime.now(UTC)
        async with self.state.db.transaction() as session:
            await channel_writes.mark_delivered_up_to(session, self.device_id, write_seq, now=now)
            taken = await commands.mark_delivered_up_to(session, self.device_id, command_seq, now)
        self._note(taken)

    async def _send_writes(self) -> int:
        async with self.state.db.sessions() as session:
            writes = await channel_writes.undelivered_after(
                session, self.device_id, self.writes_sent_up_to, BATCH
            )
        for write in writes:
            await self.send(channel_writes.write_frame(write))
            self.writes_sent_up_to = write.seq
            self.log.info("uplink.write_sent", write_seq=write.seq, channel=write.channel)
        return len(writes)

    async def _send_commands(self) -> int:
        async with self.state.db.transaction() as session:  # marks the expired ones
            due = await commands.due_commands(
                session, self.device_id, self.commands_sent_up_to, datetime.now(UTC), BATCH
            )
        self._note(due.expired)
        for command in due.send:
            await self.send(commands.command_frame(command))
            self.commands_sent_up_to = command.seq
            self.log.info("uplink.command_sent", command_seq=command.seq, channel=command.channel)
        return len(due)

    def _note(self, outcomes: list[commands.Outcome]) -> None:
        for outcome in outcomes:
            entry = event_log.command_answered(self.device_id, outcome, self.device_name)
            self.state.event_log.note(entry)
