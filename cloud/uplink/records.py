"""Validating uplink records and deriving what they store; pure functions, no I/O.

A record carries a channel message and/or an aggregate patch as JSON objects. Numeric leaves
become datapoints of sensors keyed ``<channel>.<path>``: those of the message when there is
one, else those of the aggregate patch (a patch-only record is how a device reports state).
Booleans, strings, lists and nulls are kept in the JSON but are not time series, and neither
is anything in a record flagged ``no_datapoints`` (bookkeeping such as command outcomes) or
under the reserved top-level ``$fields`` member (field declarations, :mod:`revlink.fields`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.services.datapoints import MAX_MAGNITUDE, storable
from revlink.channels import InvalidPayloadError, check_channel, parse_json_object
from revlink.fields import FIELDS_KEY
from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = [
    "MAX_KEY_LENGTH",
    "InvalidRecordError",
    "ValidRecord",
    "numeric_leaves",
    "validate_record",
]

MAX_KEY_LENGTH = 300
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_AHEAD = timedelta(days=1)


InvalidRecordError = InvalidPayloadError
"""The record cannot be stored; the message says why (the shared channel-rule error)."""


@dataclass(frozen=True, slots=True)
class ValidRecord:
    seq: int
    ts: datetime
    channel: str
    message: dict[str, Any] | None
    patch: dict[str, Any] | None
    replace_aggregate: bool
    leaves: tuple[tuple[str, float], ...]
    channel_write_seq: int = 0  # the cloud write this record applies, if any
    # The message as the device sent it: valid JSON, so PostgreSQL stores the text as it is
    # instead of a re-encoding of ``message`` (which cost a tenth of the cloud's ingest CPU).
    message_text: str = ""


def numeric_leaves(prefix: str, document: dict[str, Any]) -> list[tuple[str, float]]:
    """``(prefix.path, value)`` for every number in ``document``, depth first; a number no
    datapoint may hold (beyond a float, or beyond MAX_MAGNITUDE) refuses the record."""
    leaves: list[tuple[str, float]] = []
    _collect(prefix, document, leaves)
    return leaves


def _collect(prefix: str, document: dict[str, Any], leaves: list[tuple[str, float]]) -> None:
    # Exact type tests: the hot path (every value of every record) meets floats and ints;
    # ``bool`` is an int subclass and is left out by them too.
    for key, value in document.items():
        kind = type(value)
        if kind is float:
            if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
                raise _unstorable(f"{prefix}.{key}", value)
            leaves.append((f"{prefix}.{key}", value))
        elif kind is int:
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not storable(number):
                raise _unstorable(f"{prefix}.{key}", number)
            leaves.append((f"{prefix}.{key}", number))
        elif kind is dict:
            _collect(f"{prefix}.{key}", value, leaves)


def _unstorable(path: str, number: float) -> InvalidRecordError:
    if not math.isfinite(number):
        return InvalidRecordError(f"{path} is beyond a float's range")
    return InvalidRecordError(f"{path} is beyond ±{MAX_MAGNITUDE:g}, the most a value keeps")


def validate_record(record: pb.Record, now: datetime) -> ValidRecord:
    check_channel(record.channel)
    if not record.HasField("source_time"):
        raise InvalidRecordError("source_time is missing")
    try:
        ts = record.source_time.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:  # seconds or nanos out of Timestamp's range
        raise InvalidRecordError(f"source_time is not a valid timestamp ({exc})") from None
    if ts < EARLIEST or ts > now + MAX_CLOCK_AHEAD:
        raise InvalidRecordError(
            f"source_time {ts.isoformat()} is implausible (device clock not set?)"
        )
    message = (
        parse_json_object(record.message_json, "message_json") if record.message_json else None
    )
    patch = (
        parse_json_object(record.aggregate_json, "aggregate_json")
        if record.aggregate_json
        else None
    )
    if message is None and patch is None:
        raise InvalidRecordError("neither message_json nor aggregate_json is set")
    source = message if message is not None else patch
    assert source is not None
    readings = (
        source if FIELDS_KEY not in source else {k: v for k, v in source.items() if k != FIELDS_KEY}
    )
    leaves = () if record.no_datapoints else tuple(numeric_leaves(record.channel, readings))
    for key, _ in leaves:
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidRecordError(
                f"field path {key[:40]}... exceeds {MAX_KEY_LENGTH} characters"
            )
    return ValidRecord(
        seq=record.seq,
        ts=ts,
        channel=record.channel,
        message=message,
        patch=patch,
        replace_aggregate=record.replace_aggregate,
        leaves=leaves,
        channel_write_seq=record.channel_write_seq,
        message_text=record.message_json,
    )
