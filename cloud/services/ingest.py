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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.live.hub import LivePoint
from cloud.models import ChannelAggregate, ChannelMessage, Device
from cloud.rules.inbox import add_to_inbox
from cloud.services.bulk import write_rows
from cloud.services.channel_writes import mark_applied
from cloud.services.datapoints import DatapointRow, write_datapoints
from cloud.services.experiments import running_experiment
from cloud.services.sensors import apply_declarations, device_sensors
from cloud.uplink.records import ValidRecord
from revlink.channels import merge_patch
from revlink.fields import FIELDS_KEY, FieldMeta, field_declarations

__all__ = ["CommittedBatch", "ConcurrentCommitError", "SensorCache", "commit_batch"]

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


async def commit_batch(
    session: AsyncSession,
    device_id: uuid.UUID,
    records: tuple[ValidRecord, ...],
    up_to_seq: int,
    cache: SensorCache,
    received_at: datetime,
) -> CommittedBatch:
    """Write ``records`` newer than the stored seq and move the seq to ``up_to_seq``."""
    # FOR NO KEY UPDATE, not FOR UPDATE: rows that merely reference the device (a rule's
    # log entry, a command) take KEY SHARE on it, which must not make the device's ingest wait.
    locked = (
        select(Device.last_committed_seq, Device.sensors_version)
        .where(Device.id == device_id)
        .with_for_update(key_share=True)
    )
    stored_seq, sensors_version = (await session.execute(locked)).one()
    cache.follow(sensors_version)
    fresh = tuple(r for r in records if r.seq > stored_seq)
    new_seq = max(up_to_seq, stored_seq)

    aggregates = await _merge_aggregates(session, device_id, fresh, received_at)
    missing = {(r.channel, key) for r in fresh for key, _ in r.leaves if key not in cache.ids}
    declaring = {
        (r.channel, f"{r.channel}.{path}")
        for r in fresh
        if r.patch is not None and isinstance(r.patch.get(FIELDS_KEY), dict)
        for path in r.patch[FIELDS_KEY]
    }
    if missing or declaring:
        channels = {channel for channel, _ in missing | declaring}
        declared = await _declarations(session, device_id, channels, aggregates)
        if missing:
            keys = {key for _, key in missing}
            found = await device_sensors(
                session, device_id, keys, {k: declared[k] for k in keys if k in declared}
            )
            cache.ids.update({key: (s.id, s.public_id) for key, s in found.items()})
        if declaring:
            await apply_declarations(
                session, device_id, {k: declared[k] for _, k in declaring if k in declared}
            )
    experiment = await running_experiment(session)
    experiment_id = experiment.id if experiment else None
    rows: list[DatapointRow] = []
    points: list[LivePoint] = []
    for record in fresh:
        for key, value in record.leaves:
            sensor_id, public_id = cache.ids[key]
            rows.append(DatapointRow(sensor_id, record.ts, received_at, value, experiment_id))
            points.append(
                LivePoint(
                    public_id,
                    device_id,
                    value,
                    record.ts,
                    experiment.public_id if experiment else None,
                )
            )
    await write_datapoints(session, rows)
    # Rules and webhooks see the watched values once this commits (one row, or none).
    await add_to_inbox(session, ((r.sensor_id, r.ts, r.value) for r in rows), received_at)
    await _write_messages(session, device_id, fresh, received_at)
    applied = [r.channel_write_seq for r in fresh if r.channel_write_seq]
    await mark_applied(session, device_id, applied, now=received_at)

    moved = await session.execute(
        update(Device)
        .where(Device.id == device_id, Device.last_committed_seq == stored_seq)
        .values(last_committed_seq=new_seq, last_seen=received_at)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentCommitError(f"device {device_id} committed elsewhere meanwhile")
    return CommittedBatch(new_seq, len(fresh), len(records) - len(fresh), len(rows), points)


MESSAGE_COLUMNS = ("device_id", "channel", "seq", "ts", "received_at", "payload")


async def _write_messages(
    session: AsyncSession, device_id: uuid.UUID, records: tuple[ValidRecord, ...], now: datetime
) -> None:
    rows = [
        (device_id, r.channel, r.seq, r.ts, now, r.message)
        for r in records
        if r.message is not None
    ]
    await write_rows(
        session,
        ChannelMessage.__table__,  # type: ignore[arg-type]
        MESSAGE_COLUMNS,
        rows,
        json_columns=frozenset({"payload"}),
    )


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
