"""Committing an uplink batch: records, datapoints, aggregates and the device's seq, at once.

The database, not the connection, is the judge of what is new: the batch reads the device's
``last_committed_seq`` under a row lock and finishes with a compare-and-set on it, so two
connections of one device (a ghost and its replacement) can never store a record twice.

Field declarations (``$fields`` in an aggregate patch, see revlink.fields) are applied in the
same transaction: to the device's existing sensors the patch names, and to the sensors the
batch registers, which take what their channel's aggregate declares after the batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import ARRAY, Uuid, any_, cast, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.live.hub import LivePoint
from cloud.models import ChannelAggregate, ChannelMessage, Device, Experiment
from cloud.rules.inbox import add_to_inbox
from cloud.services.bulk import write_rows
from cloud.services.channel_writes import mark_applied
from cloud.services.datapoints import DatapointRow, write_datapoints
from cloud.services.experiments import running_experiment
from cloud.services.sensors import apply_declarations, device_sensors
from cloud.uplink.records import ValidRecord
from revlink.channels import merge_patch
from revlink.fields import FIELDS_KEY, FieldMeta, field_declarations

__all__ = [
    "CommittedBatch",
    "ConcurrentCommitError",
    "DuplicateDeviceError",
    "SensorCache",
    "UplinkBatch",
    "commit_batch",
    "commit_batches",
]

log = structlog.get_logger(__name__)


class ConcurrentCommitError(RuntimeError):
    """Another transaction moved the device's committed seq meanwhile; retry the batch."""


@dataclass
class SensorCache:
    """``<channel>.<field>`` → (sensor id, public id), per connection, to skip lookups.

    ``version`` is the device's ``sensors_version`` the ids were read under; a commit that
    finds another one (a mapping moved a key, a sensor was deleted) starts afresh.
    """

    ids: dict[str, tuple[int, uuid.UUID]] = field(default_factory=dict)
    version: int = 0

    def follow(self, version: int) -> None:
        if version != self.version:
            self.ids.clear()
            self.version = version


@dataclass(frozen=True, slots=True)
class CommittedBatch:
    committed_seq: int
    stored: int
    late_duplicates: int
    datapoints: int
    points: list[LivePoint]


@dataclass(frozen=True, slots=True)
class UplinkBatch:
    """One device's batch as its link received it: valid records, the seq it covers up to."""

    device_id: uuid.UUID
    records: tuple[ValidRecord, ...]
    up_to_seq: int
    cache: SensorCache


class DuplicateDeviceError(ValueError):
    """Two batches of one device in one group: their order would be undefined."""


async def commit_batch(
    session: AsyncSession,
    device_id: uuid.UUID,
    records: tuple[ValidRecord, ...],
    up_to_seq: int,
    cache: SensorCache,
    received_at: datetime,
) -> CommittedBatch:
    """Write ``records`` newer than the stored seq and move the seq to ``up_to_seq``."""
    batch = UplinkBatch(device_id, records, up_to_seq, cache)
    (result,) = await commit_batches(session, [batch], received_at)
    return result


async def commit_batches(
    session: AsyncSession, batches: Sequence[UplinkBatch], received_at: datetime
) -> list[CommittedBatch]:
    """:func:`commit_batch` for the batches of several devices (each at most once) in the
    session's one transaction: one lock statement, one write per table and one seq update
    for all of them, so a busy cloud pays per group, not per device."""
    ids = [b.device_id for b in batches]
    if len(set(ids)) != len(ids):
        raise DuplicateDeviceError("a group holds at most one batch per device")
    if not batches:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    stored = await _lock_devices(session, ids)
    experiment = await running_experiment(session)
    rows: list[DatapointRow] = []
    messages: list[tuple[Any, ...]] = []
    moves: list[tuple[uuid.UUID, int, int]] = []
    results: list[CommittedBatch] = []
    for batch in batches:
        stored_seq, sensors_version = stored[batch.device_id]
        batch.cache.follow(sensors_version)
        fresh = tuple(r for r in batch.records if r.seq > stored_seq)
        merged = await _apply_patches(session, batch.device_id, fresh, received_at)
        try:
            mine, points = _datapoints(batch, fresh, experiment)
        except KeyError:  # a leaf without a sensor yet: the first batch of a channel or field
            await _add_sensors(session, batch.device_id, fresh, batch.cache, merged)
            mine, points = _datapoints(batch, fresh, experiment)
        rows += mine
        messages += _message_rows(batch.device_id, fresh, received_at, as_text=postgres)
        applied = [r.channel_write_seq for r in fresh if r.channel_write_seq]
        await mark_applied(session, batch.device_id, applied, now=received_at)
        new_seq = max(batch.up_to_seq, stored_seq)
        moves.append((batch.device_id, stored_seq, new_seq))
        late = len(batch.records) - len(fresh)
        results.append(CommittedBatch(new_seq, len(fresh), late, len(mine), points))
    await write_datapoints(session, rows)
    # Rules and webhooks see the watched values once this commits (one row, or none).
    await add_to_inbox(session, ((r[0], r[1], r[2]) for r in rows), received_at)
    await write_rows(
        session,
        ChannelMessage.__table__,  # type: ignore[arg-type]
        MESSAGE_COLUMNS,
        messages,
    )
    await _move_seqs(session, moves, received_at)
    return results


async def _lock_devices(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """Each device's (last committed seq, sensors version), its row locked, in id order so
    concurrent groups never deadlock. FOR NO KEY UPDATE, not FOR UPDATE: rows that merely
    reference the device (a rule's log entry, a command) take KEY SHARE on it, which must not
    make the device's ingest wait."""
    wanted = (
        Device.id == any_(cast(literal(ids, ARRAY(Uuid)), ARRAY(Uuid)))
        if session.get_bind().dialect.name == "postgresql"
        else Device.id.in_(ids)
    )
    locked = (
        select(Device.id, Device.last_committed_seq, Device.sensors_version)
        .where(wanted)
        .order_by(Device.id)
        .with_for_update(key_share=True)
    )
    found = {
        row.id: (row.last_committed_seq, row.sensors_version)
        for row in await session.execute(locked)
    }
    missing = [str(i) for i in ids if i not in found]
    if missing:
        # As a lone ``.one()`` would: the link fails like on any storage error.
        raise NoResultFound(f"devices gone meanwhile: {', '.join(missing)}")
    return found


async def _apply_patches(
    session: AsyncSession,
    device_id: uuid.UUID,
    fresh: tuple[ValidRecord, ...],
    received_at: datetime,
) -> dict[str, dict[str, Any]]:
    """Merge the records' aggregate patches and apply their field declarations to the
    device's existing sensors (sensors made later in the batch take them as they are made);
    the merged aggregates of the patched channels."""
    aggregates = await _merge_aggregates(session, device_id, fresh, received_at)
    declaring = {
        (r.channel, f"{r.channel}.{path}")
        for r in fresh
        if r.patch is not None and isinstance(r.patch.get(FIELDS_KEY), dict)
        for path in r.patch[FIELDS_KEY]
    }
    if declaring:
        declared = await _declarations(session, device_id, {c for c, _ in declaring}, aggregates)
        await apply_declarations(
            session, device_id, {k: declared[k] for _, k in declaring if k in declared}
        )
    return aggregates


async def _add_sensors(
    session: AsyncSession,
    device_id: uuid.UUID,
    fresh: tuple[ValidRecord, ...],
    cache: SensorCache,
    merged: dict[str, dict[str, Any]],
) -> None:
    """Give every numeric leaf of the records a sensor in ``cache``, made with what its
    channel declares (``merged``: the aggregates this batch patched; the steady state never
    comes here, every key being cached)."""
    ids = cache.ids
    missing = {(r.channel, key) for r in fresh for key, _ in r.leaves if key not in ids}
    declared = await _declarations(session, device_id, {c for c, _ in missing}, merged)
    keys = {key for _, key in missing}
    found = await device_sensors(
        session, device_id, keys, {k: declared[k] for k in keys if k in declared}
    )
    cache.ids.update({key: (s.id, s.public_id) for key, s in found.items()})


def _datapoints(
    batch: UplinkBatch,
    fresh: tuple[ValidRecord, ...],
    experiment: Experiment | None,
) -> tuple[list[DatapointRow], list[LivePoint]]:
    experiment_id = experiment.id if experiment else None
    experiment_public_id = experiment.public_id if experiment else None
    rows: list[DatapointRow] = []
    newest: dict[str, tuple[float, datetime]] = {}
    ids = batch.cache.ids
    for record in fresh:
        ts = record.ts
        for key, value in record.leaves:
            rows.append((ids[key][0], ts, value, experiment_id))
            newest[key] = (value, ts)
    # The live hub keeps only each sensor's newest point, so only that one is made.
    points = [
        LivePoint(ids[key][1], batch.device_id, value, ts, experiment_public_id)
        for key, (value, ts) in newest.items()
    ]
    return rows, points


async def _move_seqs(
    session: AsyncSession, moves: list[tuple[uuid.UUID, int, int]], now: datetime
) -> None:
    """Set each device's committed seq (compare-and-set on the seq read under the lock)."""
    if session.get_bind().dialect.name == "postgresql":
        moved = await session.execute(
            _MOVE_SEQS,
            {
                "ids": [m[0] for m in moves],
                "olds": [m[1] for m in moves],
                "news": [m[2] for m in moves],
                "now": now,
            },
        )
        count = moved.rowcount  # type: ignore[attr-defined]
    else:
        count = 0
        for device_id, old, new in moves:
            one = await session.execute(
                update(Device)
                .where(Device.id == device_id, Device.last_committed_seq == old)
                .values(last_committed_seq=new, last_seen=now)
            )
            count += one.rowcount  # type: ignore[attr-defined]
    if count != len(moves):
        raise ConcurrentCommitError("a device committed elsewhere meanwhile")


# One statement for any number of devices (its text never changes, so it stays prepared).
_MOVE_SEQS = text(
    "UPDATE devices AS d SET last_committed_seq = m.new, last_seen = :now "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:olds AS bigint[]), CAST(:news AS bigint[])) "
    "AS m(id, old, new) WHERE d.id = m.id AND d.last_committed_seq = m.old"
)


MESSAGE_COLUMNS = ("device_id", "channel", "seq", "ts", "received_at", "payload")


def _message_rows(
    device_id: uuid.UUID, records: tuple[ValidRecord, ...], now: datetime, as_text: bool
) -> list[tuple[Any, ...]]:
    """Rows of the records' messages; the payload as its JSON text for PostgreSQL's COPY
    (jsonb parses it), as the parsed object for the ORM's JSON type elsewhere."""
    return [
        (device_id, r.channel, r.seq, r.ts, now, r.message_text if as_text else r.message)
        for r in records
        if r.message is not None
    ]


async def _declarations(
    session: AsyncSession,
    device_id: uuid.UUID,
    channels: set[str],
    merged: dict[str, dict[str, Any]],
) -> dict[str, FieldMeta]:
    """What ``channels`` declare (by sensor key): their aggregates after this batch, those it
    did not patch read from the database. Malformed entries are skipped and logged."""
    aggregates = {c: merged[c] for c in channels if c in merged}
    unread = channels - aggregates.keys()
    if unread:
        stored = await session.execute(
            select(ChannelAggregate.channel, ChannelAggregate.payload).where(
                ChannelAggregate.device_id == device_id, ChannelAggregate.channel.in_(unread)
            )
        )
        aggregates.update({channel: payload for channel, payload in stored.all()})
    declared: dict[str, FieldMeta] = {}
    for channel, aggregate in aggregates.items():
        if FIELDS_KEY not in aggregate:
            continue
        entries, problems = field_declarations(aggregate[FIELDS_KEY])
        if problems:
            log.warning(
                "uplink.field_declarations_skipped",
                device_id=str(device_id),
                channel=channel,
                problems=problems[:5],
            )
        declared.update({f"{channel}.{path}": meta for path, meta in entries.items()})
    return declared


async def _merge_aggregates(
    session: AsyncSession, device_id: uuid.UUID, records: tuple[ValidRecord, ...], now: datetime
) -> dict[str, dict[str, Any]]:
    """Apply the records' patches in seq order; the merged aggregates of the patched channels."""
    patched = [r for r in records if r.patch is not None]
    if not patched:
        return {}
    channels = {r.channel for r in patched}
    current: dict[str, dict[str, Any]] = {
        row.channel: row.payload
        for row in await session.scalars(
            select(ChannelAggregate).where(
                ChannelAggregate.device_id == device_id, ChannelAggregate.channel.in_(channels)
            )
        )
    }
    last_seq: dict[str, int] = {}
    for record in patched:  # in seq order, as the device applied them
        assert record.patch is not None
        base = {} if record.replace_aggregate else current.get(record.channel, {})
        current[record.channel] = merge_patch(base, record.patch)
        last_seq[record.channel] = record.seq
    dialect = session.get_bind().dialect.name
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = upsert(ChannelAggregate).values(
        [
            {
                "device_id": device_id,
                "channel": channel,
                "payload": current[channel],
                "seq": seq,
                "updated_at": now,
            }
            for channel, seq in last_seq.items()
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["device_id", "channel"],
            set_={
                "payload": statement.excluded.payload,
                "seq": statement.excluded.seq,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )
    return current
