"""Ingest for the WebMACS-compatible telemetry door: validate a message, then store it.

WebMACS controllers send ``{"datapoints":[{"value":..,"event_public_id":".."}]}`` and carry no
source timestamps, so the server's clock stamps every datapoint. WebMACS silently drops bad
items; here every refused item is named (by index and reason) so a misconfigured controller
can be fixed, while the two cases WebMACS does report keep its exact wording. Validation is
pure (no I/O) so it can be reasoned about and tested apart from the database; ``ingest`` then
refuses the datapoints whose sensor is unknown or fed by a device, and writes the rest in the
caller's transaction.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.live.hub import LivePoint
from cloud.rules.inbox import add_to_inbox
from cloud.services.datapoints import MAX_MAGNITUDE, NUMBER_TYPES, storable, write_datapoints
from cloud.services.experiments import running_experiment
from cloud.services.sensors import sensor_owners

__all__ = [
    "MAX_TELEMETRY_BATCH",
    "NO_VALID_DATAPOINTS",
    "Accepted",
    "IngestResult",
    "ParsedBatch",
    "Refusal",
    "TelemetryMessageError",
    "ingest",
    "ingest_many",
    "parse_message",
    "validate_items",
]

MAX_TELEMETRY_BATCH = 500
NO_VALID_DATAPOINTS = "No valid datapoints in batch"  # WebMACS's exact text
_SHOWN_VALUE_CHARS = 40


class TelemetryMessageError(ValueError):
    """The whole message is refused; ``message`` is what the client is told."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class _Constant:
    """``NaN``/``Infinity``/``-Infinity`` as written: JSON has no such numbers.

    Python's json module would turn them into floats; keeping them as a marker lets the item
    validator refuse just that item and name the offending token.
    """

    name: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """One item that passed validation: its position in the batch, value and sensor."""

    index: int
    value: float
    sensor_public_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Refusal:
    index: int
    reason: str
    unknown_sensor: bool = False  # well-formed, but no sensor has that event_public_id


@dataclass(slots=True)
class ParsedBatch:
    total: int
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


@dataclass(slots=True)
class IngestResult:
    """What one batch did: how many datapoints it stored, each sensor's newest of them for
    the live hub, and the refusals."""

    total: int
    stored: int
    live: list[LivePoint]
    refused: list[Refusal]


def parse_message(text: str | bytes, max_batch: int = MAX_TELEMETRY_BATCH) -> ParsedBatch:
    """Decode and validate one message; raise TelemetryMessageError if it is refused whole."""
    try:
        message = json.loads(text, parse_constant=_Constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise TelemetryMessageError(f"Malformed JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("datapoints"), list):
        raise TelemetryMessageError(
            'Expected a JSON object {"datapoints": [{"value": <number>, '
            '"event_public_id": "<uuid>"}, ...]}'
        )
    items: list[object] = message["datapoints"]
    if len(items) > max_batch:
        raise TelemetryMessageError(f"Batch too large ({len(items)}), max {max_batch}")
    return validate_items(items)


_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def validate_items(items: Sequence[object]) -> ParsedBatch:
    """Split items into accepted ones and refusals, each refusal saying what is wrong."""
    batch = ParsedBatch(total=len(items))
    ids: dict[str, uuid.UUID] = {}  # a batch names a few sensors many times: parse each once
    accept = batch.accepted.append
    for index, item in enumerate(items):
        # The common item first: a float within range and a sensor id seen before in the
        # batch. Exact types, so a bool (an int) or a subclass takes the full checks below.
        if type(item) is dict:
            raw, key = item.get("value"), item.get("event_public_id")
            if (
                type(raw) is float
                and -MAX_MAGNITUDE <= raw <= MAX_MAGNITUDE
                and type(key) is str
                and (sensor := ids.get(key)) is not None
            ):
                accept(Accepted(index, raw, sensor))
                continue
        problems: list[str] = []
        if not isinstance(item, dict):
            batch.refused.append(Refusal(index, f"must be an object, got {_show(item)}"))
            continue
        value = _finite_number(item, problems)
        sensor = _sensor_id(item, problems, ids)
        if problems or value is None or sensor is None:
            batch.refused.append(Refusal(index, ", ".join(problems)))
        else:
            batch.accepted.append(Accepted(index, value, sensor))
    return batch


def _finite_number(item: dict[str, object], problems: list[str]) -> float | None:
    if "value" not in item:
        problems.append("value is missing")
        return None
    raw = item["value"]
    # WebMACS reads values as pydantic floats, which take a number written as a string.
    if isinstance(raw, str) and _NUMBER_TEXT.match(raw.strip()):
        raw = float(raw.strip())
    # bool is an int subclass in Python, but true is not a measurement.
    if isinstance(raw, NUMBER_TYPES) and not isinstance(raw, bool):
        try:
            value = float(raw)
        except OverflowError:  # an integer literal beyond the float range
            value = math.inf
        if storable(value):
            return value
        if math.isfinite(value):
            problems.append(f"value must be within ±{MAX_MAGNITUDE:g}, got {_show(raw)}")
            return None
    problems.append(f"value must be a finite number, got {_show(raw)}")
    return None


def _sensor_id(
    item: dict[str, object], problems: list[str], parsed: dict[str, uuid.UUID]
) -> uuid.UUID | None:
    if "event_public_id" not in item:
        problems.append("event_public_id is missing")
        return None
    raw = item["event_public_id"]
    if isinstance(raw, str):
        if (known := parsed.get(raw)) is not None:
            return known
        try:
            parsed[raw] = uuid.UUID(raw)
            return parsed[raw]
        except ValueError:
            pass
    problems.append(f"event_public_id must be a UUID, got {_show(raw)}")
    return None


def _show(raw: object) -> str:
    """A short JSON rendering of a refused value, so the client sees what it sent."""
    if isinstance(raw, _Constant):
        return raw.name
    if isinstance(raw, float) and math.isnan(raw):  # a NaN literal already parsed
        return "NaN"
    if isinstance(raw, float) and not math.isfinite(raw):  # 1e999 (or Infinity) parsed as inf
        return "a number out of range"
    text = json.dumps(raw, ensure_ascii=False, default=repr)
    if len(text) > _SHOWN_VALUE_CHARS:
        text = text[: _SHOWN_VALUE_CHARS - 3] + "..."
    return text


async def ingest(
    session: AsyncSession, batch: ParsedBatch, now: datetime | None = None
) -> IngestResult:
    """Store the accepted items of ``batch`` in the session's transaction (no commit here).

    Items naming an unknown sensor, or one that belongs to a device (its data comes only from
    that device's uplink), are refused too. Every stored datapoint gets ``now`` as its time,
    and the running experiment, as in WebMACS.
    """
    (result,) = await ingest_many(session, [batch], now)
    return result


async def ingest_many(
    session: AsyncSession, batches: Sequence[ParsedBatch], now: datetime | None = None
) -> list[IngestResult]:
    """:func:`ingest` for several batches at once, as the door's group commit stores them:
    one sensor lookup, one experiment lookup, one COPY and one rule-inbox row for all."""
    now = now or datetime.now(UTC)
    wanted = {a.sensor_public_id for batch in batches for a in batch.accepted}
    owners = await sensor_owners(session, wanted)
    good: list[tuple[int, float]] = []
    sorted_out = [_sort_out(batch, owners, good) for batch in batches]
    if not good:
        return [
            IngestResult(b.total, 0, [], refused)
            for b, (refused, _, _) in zip(batches, sorted_out, strict=True)
        ]
    experiment = await running_experiment(session)
    experiment_id = experiment.id if experiment else None
    rows = [(sensor_id, now, value, experiment_id) for sensor_id, value in good]
    await write_datapoints(session, rows)
    # Rules and webhooks see the watched values once this commits (one row, or none).
    await add_to_inbox(session, ((sensor_id, now, value) for sensor_id, value in good), now)
    experiment_public_id = experiment.public_id if experiment else None
    return [
        IngestResult(
            batch.total,
            stored,
            # The live hub keeps only each sensor's newest point, so only that one is made.
            [
                LivePoint(public_id, None, value, now, experiment_public_id)
                for public_id, value in newest.items()
            ],
            refused,
        )
        for batch, (refused, stored, newest) in zip(batches, sorted_out, strict=True)
    ]


def _sort_out(
    batch: ParsedBatch,
    owners: dict[uuid.UUID, tuple[int, uuid.UUID | None]],
    good: list[tuple[int, float]],
) -> tuple[list[Refusal], int, dict[uuid.UUID, float]]:
    """Add the batch's storable items to ``good``; its refusals, how many it added, and each
    of its sensors' newest value."""
    refused = list(batch.refused)
    newest: dict[uuid.UUID, float] = {}
    before = len(good)
    for item in batch.accepted:
        owner = owners.get(item.sensor_public_id)
        if owner is None:
            refused.append(
                Refusal(item.index, f"unknown event_public_id {item.sensor_public_id}", True)
            )
        elif owner[1] is not None:
            refused.append(
                Refusal(
                    item.index,
                    f"foreign event_public_id {item.sensor_public_id}: it belongs to device "
                    f"{owner[1]} and is fed by its uplink",
                )
            )
        else:
            good.append((owner[0], item.value))
            newest[item.sensor_public_id] = item.value
    return refused, len(good) - before, newest
