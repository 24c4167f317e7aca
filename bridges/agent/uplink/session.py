"""The device side of the uplink protocol, free of I/O (the python-websockets way).

The I/O layer connects, calls :meth:`UplinkSession.start` and sends what it returns, feeds
every received frame to :meth:`UplinkSession.receive` and carries out the events: acks free
queue space, a renumbering moves a wiped queue past what the cloud already has, commands go
to subscribers, channel writes are applied in order and answered with :meth:`write_ack`.
Whenever :attr:`UplinkSession.can_send` is true it asks the queue for records after
:attr:`UplinkSession.sent_up_to` and sends :meth:`UplinkSession.batch`.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import DecodeError

from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = [
    "Acked",
    "CloudError",
    "CommandArrived",
    "Event",
    "Outgoing",
    "Renumber",
    "SessionProtocolError",
    "UplinkSession",
    "Welcomed",
    "WriteArrived",
]

# Headroom under the cloud's frame limit for the frame and record envelopes.
FRAME_OVERHEAD = 64


class QueuedRecordLike(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def source_time_ns(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def message_json(self) -> str: ...
    @property
    def aggregate_json(self) -> str: ...
    @property
    def replace_aggregate(self) -> bool: ...
    @property
    def no_datapoints(self) -> bool: ...
    @property
    def channel_write_seq(self) -> int: ...


class Phase(enum.Enum):
    AWAITING_WELCOME = "awaiting welcome"
    OPEN = "open"


class SessionProtocolError(Exception):
    """The cloud broke the protocol; the I/O layer drops the connection and reconnects."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    data: bytes
    last_seq: int = 0  # for a batch: its highest seq


@dataclass(frozen=True, slots=True)
class Welcomed:
    device_id: str
    last_committed_seq: int


@dataclass(frozen=True, slots=True)
class Renumber:
    """Our numbering is at or below what the cloud committed (a wiped queue): move past it."""

    floor_seq: int


@dataclass(frozen=True, slots=True)
class Acked:
    up_to_seq: int
    duplicates: int
    rejected: int


@dataclass(frozen=True, slots=True)
class CommandArrived:
    command: pb.Command


@dataclass(frozen=True, slots=True)
class WriteArrived:
    """A cloud write to apply; the I/O layer applies it and sends :meth:`write_ack`."""

    write: pb.ChannelWrite


@dataclass(frozen=True, slots=True)
class CloudError:
    code: int
    seq: int
    message: str


Event = Outgoing | Welcomed | Renumber | Acked | CommandArrived | WriteArrived | CloudError


class UplinkSession:
    def __init__(self, *, agent_version: str, max_batch_size: int, window: int = 4) -> None:
        self.agent_version = agent_version
        self.max_batch_size = max_batch_size
        self.window = window
        self.max_frame_bytes = 1024 * 1024
        self.phase = Phase.AWAITING_WELCOME
        self._synced = True
        self.acked_up_to = 0
        self.sent_up_to = 0
        self._in_flight: deque[int] = deque()

    # -- opening ---------------------------------------------------------------------------

    def start(
        self,
        last_enqueued_seq: int,
        *,
        synced: bool,
        last_applied_write_seq: int = 0,
        last_command_seq: int = 0,
    ) -> Outgoing:
        """Open a session. ``synced`` says this queue has been welcomed by the cloud before.

        A queue that never was (new data directory, reflashed card) numbers from 1 while the
        cloud may have committed far more for this device: its records must move past the
        cloud's mark or they would be dropped as duplicates. A synced queue must never move:
        records at or below the mark were committed and only their ack was lost.
        ``last_applied_write_seq`` and ``last_command_seq`` tell the cloud which of its
        writes and commands need not come again.
        """
        self._synced = synced
        hello = pb.Hello(
            agent_version=self.agent_version,
            last_enqueued_seq=last_enqueued_seq,
            max_batch_size=self.max_batch_size,
            last_applied_write_seq=last_applied_write_seq,
            last_command_seq=last_command_seq,
        )
        return Outgoing(pb.DeviceFrame(hello=hello).SerializeToString())

    def _welcome(self, welcome: pb.Welcome) -> list[Event]:
        if self.phase is Phase.OPEN:
            raise SessionProtocolError("a second Welcome")
        self.phase = Phase.OPEN
        self.max_batch_size = max(1, min(self.max_batch_size, welcome.max_batch_size or 1))
        self.max_frame_bytes = welcome.max_frame_bytes or self.max_frame_bytes
        committed = welcome.last_committed_seq
        self.acked_up_to = self.sent_up_to = committed
        events: list[Event] = []
        if not self._synced and committed:
            events.append(Renumber(committed))
        events += [Welcomed(welcome.device_id, committed), Acked(committed, 0, 0)]
        return events

    # -- sending ---------------------------------------------------------------------------

    def renumbered(self, floor_seq: int) -> None:
        """The queue moved past ``floor_seq``; nothing at or below it is ours to send."""
        self.sent_up_to = self.acked_up_to = max(self.acked_up_to, floor_seq)

    @property
    def can_send(self) -> bool:
        return self.phase is Phase.OPEN and len(self._in_flight) < self.window

    def batch(self, records: Sequence[QueuedRecordLike]) -> Outgoing | None:
        """Frame the records the I/O layer fetched after :attr:`sent_up_to`, size-capped."""
        if not self.can_send:
            return None
        batch = pb.Batch()
        budget = self.max_frame_bytes - FRAME_OVERHEAD
        for record in records[: self.max_batch_size]:
            if record.seq <= self.sent_up_to:
                continue
            item = pb.Record(
                seq=record.seq,
                channel=record.channel,
                message_json=record.message_json,
                aggregate_json=record.aggregate_json,
                replace_aggregate=record.replace_aggregate,
                no_datapoints=record.no_datapoints,
                channel_write_seq=record.channel_write_seq,
            )
            item.source_time.FromNanoseconds(record.source_time_ns)
            cost = item.ByteSize() + 8
            if batch.records and cost > budget:
                break
            budget -= cost
            batch.records.append(item)
        if not batch.records:
            return None
        last = batch.records[-1].seq
        self.sent_up_to = last
        self._in_flight.append(last)
        return Outgoing(pb.DeviceFrame(batch=batch).SerializeToString(), last)

    def receipt(
        self, command_id: str, delivered: bool, detail: str = "", *, expired: bool = False
    ) -> Outgoing:
        frame = pb.DeviceFrame(
            command_receipt=pb.CommandReceipt(
                command_id=command_id, delivered=delivered, detail=detail, expired=expired
            )
        )
        return Outgoing(frame.SerializeToString())

    def write_ack(self, seq: int, *, refused: str = "") -> Outgoing:
        """Answer a ChannelWrite once it is applied (or refused: ``refused`` says why)."""
        ack = pb.ChannelWriteAck(seq=seq, refused=bool(refused), detail=refused)
        return Outgoing(pb.DeviceFrame(channel_write_ack=ack).SerializeToString())

    # -- receiving -------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        frame = pb.CloudFrame()
        try:
            frame.ParseFromString(data)
        except DecodeError as exc:
            raise SessionProtocolError(f"undecodable frame from the cloud ({exc})") from None
        kind = frame.WhichOneof("frame")
        if kind == "welcome":
            return self._welcome(frame.welcome)
        if self.phase is not Phase.OPEN:
            raise SessionProtocolError(f"{kind} before Welcome")
        if kind == "ack":
            return self._ack(frame.ack)
        if kind == "command":
            return [CommandArrived(frame.command)]
        if kind == "channel_write":
            return [WriteArrived(frame.channel_write)]
        if kind == "error":
            error = frame.error
            if error.seq == 0 and error.code != pb.ERROR_CODE_MALFORMED_FRAME:
                # A whole batch was refused (too large, out of protocol order): it will never
                # be acked, so the session cannot go on; reconnecting resends it re-framed.
                raise SessionProtocolError(f"cloud refused a frame: {error.message}")
            return [CloudError(error.code, error.seq, error.message)]
        raise SessionProtocolError("empty CloudFrame")

    def _ack(self, ack: pb.Ack) -> list[Event]:
        if ack.up_to_seq > self.sent_up_to:
            raise SessionProtocolError(
                f"ack up to {ack.up_to_seq} beyond what was sent ({self.sent_up_to})"
            )
        while self._in_flight and self._in_flight[0] <= ack.up_to_seq:
            self._in_flight.popleft()
        self.acked_up_to = max(self.acked_up_to, ack.up_to_seq)
        return [Acked(self.acked_up_to, ack.duplicates, ack.rejected)]
