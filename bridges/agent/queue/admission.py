"""The pure half of the queue: what it admits and the values it hands out; no I/O.

Kept apart from the SQLite store so every rule (a valid publish, its size, the aggregate
merge, exactly full, one byte over, a record bigger than the whole queue) is tested without
a database and reads in one place. The two full-queue policies are Greengrass stream
manager's ``StrategyOnFull`` choices: keep the newest data, or keep what is queued and push
back on the publisher.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from revlink.channels import InvalidPayloadError, check_channel, merge_patch, parse_json_object
from revlink.fields import check_fields

__all__ = [
    "MAX_IDEMPOTENCY_KEY_CHARS",
    "Admission",
    "ChannelState",
    "FullPolicy",
    "PublishItem",
    "PublishResult",
    "QueueLimits",
    "QueueStats",
    "QueuedRecord",
    "apply_patch",
    "check_publish",
    "full_message",
    "plan_admission",
]

MAX_IDEMPOTENCY_KEY_CHARS = 256


class FullPolicy(enum.StrEnum):
    """What happens when a record would take the queue past one of its limits."""

    DROP_OLDEST = "drop-oldest"  # evict the oldest unacked records (counted as dropped)
    REFUSE_NEW = "refuse-new"  # refuse the publish (counted as refused), keep the queue


@dataclass(frozen=True)
class QueueLimits:
    """Bounds on unacked records; both must hold after every admitted record."""

    max_records: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    policy: FullPolicy = FullPolicy.DROP_OLDEST

    def __post_init__(self) -> None:
        if self.max_records < 1:
            raise ValueError(f"max_records must be at least 1, not {self.max_records}")
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {self.max_bytes}")
        # Accept the plain string from configuration as well as the enum.
        object.__setattr__(self, "policy", FullPolicy(self.policy))


@dataclass(frozen=True)
class Admission:
    """The verdict on one record.

    ``evict_records``/``evict_bytes`` are the minimum the store must remove, oldest first,
    before the record fits (it removes whole records until both are met). Both are zero when
    nothing has to go and when the record is refused: a refusal never evicts.
    """

    accept: bool
    evict_records: int
    evict_bytes: int


@dataclass(frozen=True, slots=True)
class QueuedRecord:
    seq: int
    source_time_ns: int
    channel: str
    message_json: str
    aggregate_json: str
    replace_aggregate: bool
    size: int
    enqueued_at_ns: int
    no_datapoints: bool = False
    channel_write_seq: int = 0


@dataclass(frozen=True, slots=True)
class PublishItem:
    """One Publish as the queue takes it (``publish`` and ``publish_many``).

    ``channel_write_seq`` is set only for the record that applies a cloud write."""

    channel: str
    message_json: str = ""
    aggregate_json: str = ""
    replace_aggregate: bool = False
    source_time_ns: int | None = None
    idempotency_key: str = ""
    no_datapoints: bool = False
    channel_write_seq: int = 0


@dataclass(frozen=True, slots=True)
class PublishResult:
    seq: int
    duplicate: bool
    aggregate_json: str  # the channel aggregate after the merge, "{}" when there is none


@dataclass(frozen=True, slots=True)
class QueueStats:
    depth: int
    size_bytes: int
    oldest_enqueued_at_ns: int | None
    last_acked_seq: int
    last_enqueued_seq: int
    dropped_records: int
    refused_records: int
    last_applied_write_seq: int = 0
    last_command_seq: int = 0


@dataclass(frozen=True, slots=True)
class ChannelState:
    name: str
    message_count: int
    aggregate_json: str
    updated_at_ns: int | None


_REFUSE = Admission(accept=False, evict_records=0, evict_bytes=0)


def plan_admission(depth: int, size_bytes: int, new_size: int, limits: QueueLimits) -> Admission:
    """Decide whether a record of ``new_size`` bytes joins a queue of ``depth``/``size_bytes``.

    A record larger than ``max_bytes`` is refused under both policies: evicting the whole
    queue would still not make room, and dropping everything for nothing is the worst answer.
    """
    if depth < 0 or size_bytes < 0 or new_size < 0:
        raise ValueError(
            f"depth, size_bytes and new_size must be >= 0 (got {depth}, {size_bytes}, {new_size})"
        )
    if new_size > limits.max_bytes:
        return _REFUSE
    over_records = max(0, depth + 1 - limits.max_records)
    over_bytes = max(0, size_bytes + new_size - limits.max_bytes)
    if over_records == 0 and over_bytes == 0:
        return Admission(accept=True, evict_records=0, evict_bytes=0)
    if limits.policy is FullPolicy.REFUSE_NEW:
        return _REFUSE
    return Admission(accept=True, evict_records=over_records, evict_bytes=over_bytes)


def full_message(depth: int, size_bytes: int, new_size: int, channel: str, lim: QueueLimits) -> str:
    """Why a record was refused, with the numbers an operator needs to pick new limits."""
    if new_size > lim.max_bytes:
        return (
            f"a {new_size}-byte record on {channel!r} exceeds the whole queue ({lim.max_bytes} B)"
        )
    return (
        f"queue full ({lim.policy}): {depth}/{lim.max_records} records, {size_bytes}/"
        f"{lim.max_bytes} bytes; refused a {new_size}-byte record on {channel!r}"
    )


def check_publish(
    channel: str, message_json: str, aggregate_json: str, idempotency_key: str
) -> tuple[dict[str, Any] | None, int]:
    """Refuse what the cloud would refuse; (the aggregate patch or None, the record's size).

    A malformed ``$fields`` declaration in the patch is refused here too (see
    :mod:`revlink.fields`): the cloud would skip it, and the app should hear why.

    The size is what the record costs against ``max_bytes``: both JSON texts in UTF-8 bytes
    plus the channel name (ASCII by its pattern).
    """
    check_channel(channel)
    patch = parse_json_object(aggregate_json, "aggregate_json") if aggregate_json else None
    check_fields(patch)
    if message_json:
        parse_json_object(message_json, "message_json")
    elif patch is None:
        raise InvalidPayloadError(
            f"a publish on {channel!r} needs message_json, aggregate_json or both"
        )
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidPayloadError(
            f"idempotency_key is longer than {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )
    return patch, len(message_json.encode()) + len(aggregate_json.encode()) + len(channel)


def apply_patch(aggregate_json: str, patch: dict[str, Any], replace: bool) -> str:
    """The aggregate after an RFC 7396 patch, as compact JSON.

    Replacing is merging into ``{}``, so nulls vanish exactly as the cloud applies it.
    """
    merged = merge_patch({} if replace else json.loads(aggregate_json), patch)
    try:
        return json.dumps(merged, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:  # 1e999 parses to inf, which JSON cannot carry back out
        raise InvalidPayloadError("aggregate_json holds a number out of range") from None
