"""The cloud side of the uplink protocol, free of I/O (the python-websockets way).

Feed it every frame the device sends with :meth:`UplinkProtocol.receive`; it answers with
events: frames to send, a batch to persist, a receipt to record, where the outbox (channel
writes and commands) starts and which write the device answered. After the I/O layer has
committed a batch it calls :meth:`UplinkProtocol.committed`, which yields the Ack. The
protocol never blocks and never touches a socket or a database, so every rule of the
exchange is tested without either.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import DecodeError

from cloud.db.base import MAX_BIGINT
from cloud.services.request_limits import TokenBuckets
from cloud.uplink.records import InvalidRecordError, ValidRecord, validate_record
from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = [
    "MAX_DETAIL",
    "MAX_SEQ",
    "Event",
    "PersistBatch",
    "ReceiptReceived",
    "SendFrame",
    "StartOutbox",
    "UplinkProtocol",
    "WriteAnswered",
    "clean_text",
]


MAX_SEQ = MAX_BIGINT  # seqs are stored as BIGINT: a larger one could never be committed
MAX_DETAIL = 1000  # characters kept of a device's reason for refusing a command or a write


class Phase(enum.Enum):
    AWAITING_HELLO = "awaiting hello"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class SendFrame:
    frame: pb.CloudFrame


@dataclass(frozen=True, slots=True)
class PersistBatch:
    """Store ``records`` and move the device's committed seq to ``up_to_seq``, atomically."""

    records: tuple[ValidRecord, ...]
    up_to_seq: int
    duplicates: int
    rejected: int


@dataclass(frozen=True, slots=True)
class ReceiptReceived:
    receipt: pb.CommandReceipt


@dataclass(frozen=True, slots=True)
class StartOutbox:
    """The session is open: send the device its pending writes and commands above what it
    says it has already (those count as delivered)."""

    after_write_seq: int
    after_command_seq: int


@dataclass(frozen=True, slots=True)
class WriteAnswered:
    """The device applied (or refused) channel write ``seq``."""

    seq: int
    refused: str


Event = SendFrame | PersistBatch | ReceiptReceived | StartOutbox | WriteAnswered


def error_frame(
    code: pb.ErrorCode.ValueType, message: str, seq: int = 0, retry_after_ms: int = 0
) -> SendFrame:
    error = pb.Error(code=code, seq=seq, message=message, retry_after_ms=retry_after_ms)
    return SendFrame(pb.CloudFrame(error=error))


def clean_text(text: str) -> str:
    """A device's free text as the database can keep it: no NULs, at most MAX_DETAIL chars."""
    return text.replace("\x00", "\ufffd")[:MAX_DETAIL]


def _clean_receipt(receipt: pb.CommandReceipt) -> pb.CommandReceipt:
    if "\x00" not in receipt.detail and len(receipt.detail) <= MAX_DETAIL:
        return receipt
    cleaned = pb.CommandReceipt()
    cleaned.CopyFrom(receipt)
    cleaned.detail = clean_text(receipt.detail)
    return cleaned


class UplinkProtocol:
    def __init__(
        self,
        device_id: uuid.UUID,
        last_committed_seq: int,
        *,
        max_batch_size: int,
        max_frame_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: TokenBuckets | None = None,
    ) -> None:
        self.device_id = device_id
        self.last_committed_seq = last_committed_seq
        self.max_batch_size = max_batch_size
        self.max_frame_bytes = max_frame_bytes
        self.phase = Phase.AWAITING_HELLO
        self._clock = clock
        self.limits = limits  # records per device (shared by its connections), or none

    def receive(self, data: bytes) -> list[Event]:
        if len(data) > self.max_frame_bytes:
            return [
                error_frame(
                    pb.ERROR_CODE_FRAME_TOO_LARGE,
                    f"frame of {len(data)} bytes exceeds the limit of {self.max_frame_bytes}",
                )
            ]
        frame = pb.DeviceFrame()
        try:
            frame.ParseFromString(data)
        except DecodeError as exc:
            return [error_frame(pb.ERROR_CODE_MALFORMED_FRAME, f"not a DeviceFrame ({exc})")]
        kind = frame.WhichOneof("frame")
        if kind == "hello":
            return self._hello(frame.hello)
        if kind == "batch":
            return self._batch(frame.batch)
        if kind == "command_receipt":
            return [ReceiptReceived(_clean_receipt(frame.command_receipt))]
        if kind == "channel_write_ack":
            return self._write_ack(frame.channel_write_ack)
        return [error_frame(pb.ERROR_CODE_MALFORMED_FRAME, "empty DeviceFrame")]

    def _hello(self, hello: pb.Hello) -> list[Event]:
        if self.phase is Phase.OPEN:
            return [error_frame(pb.ERROR_CODE_PROTOCOL, "Hello was already received")]
        self.phase = Phase.OPEN
        welcome = pb.Welcome(
            device_id=str(self.device_id),
            last_committed_seq=self.last_committed_seq,
            max_batch_size=self.max_batch_size,
            max_frame_bytes=self.max_frame_bytes,
        )
        welcome.server_time.FromDatetime(self._clock())
        outbox = StartOutbox(hello.last_applied_write_seq, hello.last_command_seq)
        return [SendFrame(pb.CloudFrame(welcome=welcome)), outbox]

    def _write_ack(self, ack: pb.ChannelWriteAck) -> list[Event]:
        if self.phase is not Phase.OPEN:
            return [error_frame(pb.ERROR_CODE_PROTOCOL, "send Hello before any ChannelWriteAck")]
        if ack.seq < 1:
            return [error_frame(pb.ERROR_CODE_MALFORMED_FRAME, "ChannelWriteAck without a seq")]
        if ack.seq > MAX_SEQ:
            return [
                error_frame(
                    pb.ERROR_CODE_MALFORMED_FRAME,
                    f"ChannelWriteAck seq {ack.seq} is above any write's ({MAX_SEQ})",
                )
            ]
        reason = (clean_text(ack.detail) or "refused by the device") if ack.refused else ""
        return [WriteAnswered(ack.seq, reason)]

    def _batch(self, batch: pb.Batch) -> list[Event]:
        if self.phase is not Phase.OPEN:
            return [error_frame(pb.ERROR_CODE_PROTOCOL, "send Hello before any Batch")]
        if len(batch.records) > self.max_batch_size:
            return [
                error_frame(
                    pb.ERROR_CODE_BATCH_TOO_LARGE,
                    f"batch of {len(batch.records)} records exceeds the limit of "
                    f"{self.max_batch_size}; nothing of it was stored",
                )
            ]
        if self.limits is not None and batch.records:
            refused = self.limits.take(str(self.device_id), len(batch.records))
            if refused is not None:
                wait_ms = max(1, math.ceil(refused.retry_after_s * 1000))
                return [
                    error_frame(
                        pb.ERROR_CODE_RATE_LIMITED,
                        f"more than {self.limits.rate_per_s:g} records a second (burst "
                        f"{self.limits.burst}); nothing of this batch was stored, resend it "
                        f"in {wait_ms} ms",
                        retry_after_ms=wait_ms,
                    )
                ]
        events: list[Event] = []
        valid: list[ValidRecord] = []
        duplicates = rejected = 0
        up_to = previous = self.last_committed_seq
        now = self._clock()
        for record in batch.records:
            if record.seq <= self.last_committed_seq:
                duplicates += 1
                continue
            if record.seq > MAX_SEQ:
                rejected += 1
                events.append(
                    error_frame(
                        pb.ERROR_CODE_INVALID_RECORD,
                        f"seq {record.seq} is above the largest the cloud keeps ({MAX_SEQ})",
                        record.seq,
                    )
                )
                continue
            if record.seq <= previous:
                rejected += 1
                events.append(
                    error_frame(
                        pb.ERROR_CODE_INVALID_RECORD,
                        f"seq {record.seq} is not above the previous record's {previous}",
                        record.seq,
                    )
                )
                continue
            previous = up_to = record.seq
            try:
                valid.append(validate_record(record, now))
            except InvalidRecordError as exc:
                rejected += 1
                events.append(error_frame(pb.ERROR_CODE_INVALID_RECORD, str(exc), record.seq))
        if up_to == self.last_committed_seq:
            # Nothing new (all duplicates, or empty): acknowledge without a write.
            return [*events, *self.committed(up_to, duplicates, rejected)]
        events.append(PersistBatch(tuple(valid), up_to, duplicates, rejected))
        return events

    def committed(self, up_to_seq: int, duplicates: int, rejected: int) -> list[Event]:
        """The I/O layer committed a batch: acknowledge everything up to ``up_to_seq``."""
        self.last_committed_seq = max(self.last_committed_seq, up_to_seq)
        ack = pb.Ack(up_to_seq=self.last_committed_seq, duplicates=duplicates, rejected=rejected)
        return [SendFrame(pb.CloudFrame(ack=ack))]
