"""Experiments: create, rename, start, stop, delete, list, and export their datapoints.

Follows WebMACS's experiments, with these differences (each one is what a user expects):

* WebMACS starts an experiment when it is created and lets any number run at once; ingest
  then stamps datapoints with one of them. Here an experiment may also be created *planned*
  and started later, and **at most one runs**: starting a second one while another runs is
  refused with a :class:`ConflictError` that names the running one, so an operator stops it
  on purpose instead of splitting data between two experiments by accident.
* A stopped experiment is not started again (its span would no longer be one span); stopping
  a stopped one changes nothing (WebMACS moves its stop time, stretching the span).
* A running experiment is not deleted (stop it first); deleting one keeps its datapoints,
  which lose their experiment (WebMACS deletes them with it).

The caller commits; none of this knows about HTTP.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.models import Datapoint, Experiment, Sensor
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.services.paging import MAX_PAGE_SIZE, page_of_scalars

__all__ = [
    "CSV_HEADER",
    "MAX_PAGE_SIZE",
    "create_experiment",
    "csv_filename",
    "datapoint_public_id",
    "delete_experiment",
    "export_csv",
    "get_experiment",
    "list_experiments",
    "rename_experiment",
    "running_experiment",
    "start_experiment",
    "stop_experiment",
]

# WebMACS's experiment export columns; a sensor is what WebMACS calls an event. revlink's
# datapoints have no stored id, so ``datapoint_public_id`` is a UUID derived from what names
# a point: its sensor, its time, and its place among the sensor's points at that time.
CSV_HEADER = (
    "timestamp",
    "event_name",
    "event_public_id",
    "value",
    "unit",
    "datapoint_public_id",
)
_EXPORT_CHUNK = 2000


async def running_experiment(session: AsyncSession) -> Experiment | None:
    """The experiment running now, if any (there is at most one)."""
    return await session.scalar(select(Experiment).where(Experiment.running.is_(True)))


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInputError("an experiment's name must not be blank")
    return cleaned


def _describe(experiment: Experiment) -> str:
    return f"experiment '{experiment.name}' ({experiment.public_id})"


async def get_experiment(session: AsyncSession, public_id: uuid.UUID) -> Experiment:
    found = await session.scalar(select(Experiment).where(Experiment.public_id == public_id))
    if found is None:
        raise NotFoundError(f"no experiment {public_id}")
    return found


async def list_experiments(
    session: AsyncSession, *, page: int, page_size: int
) -> tuple[Sequence[Experiment], int]:
    """One page, newest first, and how many there are in all."""
    query = select(Experiment).order_by(Experiment.created_at.desc(), Experiment.id.desc())
    return await page_of_scalars(session, query, page, page_size)


async def _running_conflict(session: AsyncSession) -> ConflictError:
    current = await running_experiment(session)
    if current is None:  # it stopped meanwhile; the caller may simply try again
        return ConflictError("another experiment started meanwhile; try again")
    since = current.started_at.isoformat() if current.started_at else "?"
    return ConflictError(
        f"{_describe(current)} is running since {since}; stop it before starting another"
    )


async def _save(session: AsyncSession, experiment: Experiment, **changes: object) -> None:
    """Apply ``changes`` and flush them in a savepoint, so that a clash with a unique rule
    leaves the transaction usable and is reported with what it clashed with.

    (The changes are made inside the savepoint: ``begin_nested`` flushes what is pending
    before it begins.)"""
    name = changes.get("name", experiment.name)  # the object is expired after a rollback
    try:
        async with session.begin_nested():
            for field, value in changes.items():
                setattr(experiment, field, value)
            session.add(experiment)
    except IntegrityError as exc:
        if "uq_experiments_running" in str(exc.orig):
            raise await _running_conflict(session) from None
        if "uq_experiments_name" in str(exc.orig):
            raise ConflictError(f"an experiment named '{name}' exists already") from None
        raise


async def _start_changes(
    session: AsyncSession, experiment: Experiment, now: datetime
) -> dict[str, object]:
    """What starting the experiment changes (nothing when it runs already)."""
    if experiment.running:
        return {}
    if experiment.stopped_at is not None:
        raise ConflictError(
            f"{_describe(experiment)} ran and was stopped at "
            f"{experiment.stopped_at.isoformat()}; it cannot run again, create a new one"
        )
    if await running_experiment(session) is not None:
        raise await _running_conflict(session)
    return {"started_at": now, "running": True}


async def create_experiment(
    session: AsyncSession,
    name: str,
    *,
    start: bool,
    user_public_id: uuid.UUID | None,
    now: datetime,
) -> Experiment:
    """A new experiment, running from ``now`` when ``start`` (as in WebMACS), else planned.

    Refused (nothing created) when ``start`` and another experiment runs, or the name is
    taken."""
    experiment = Experiment(public_id=uuid.uuid4(), created_at=now, user_public_id=user_public_id)
    changes = await _start_changes(session, experiment, now) if start else {}
    await _save(session, experiment, name=_clean_name(name), **changes)
    return experiment


async def rename_experiment(session: AsyncSession, public_id: uuid.UUID, name: str) -> Experiment:
    experiment = await get_experiment(session, public_id)
    await _save(session, experiment, name=_clean_name(name))
    return experiment


async def start_experiment(
    session: AsyncSession, public_id: uuid.UUID, now: datetime
) -> Experiment:
    """Start a planned experiment; starting the running one again changes nothing."""
    experiment = await get_experiment(session, public_id)
    await _save(session, experiment, **await _start_changes(session, experiment, now))
    return experiment


async def stop_experiment(session: AsyncSession, public_id: uuid.UUID, now: datetime) -> Experiment:
    """Stop the running experiment; a stopped one keeps its stop time."""
    experiment = await get_experiment(session, public_id)
    if experiment.running:
        await _save(session, experiment, stopped_at=now, running=None)
    elif experiment.started_at is None:
        raise ConflictError(f"{_describe(experiment)} has not been started")
    return experiment


async def delete_experiment(session: AsyncSession, public_id: uuid.UUID) -> Experiment:
    """Delete it; its datapoints stay, without an experiment. A running one is refused."""
    experiment = await get_experiment(session, public_id)
    if experiment.running:
        raise ConflictError(f"{_describe(experiment)} is running; stop it before deleting it")
    # What the dropped foreign key's ON DELETE SET NULL did (migration 0016).
    await session.execute(
        update(Datapoint).where(Datapoint.experiment_id == experiment.id).values(experiment_id=None)
    )
    await session.delete(experiment)
    await session.flush()
    return experiment


def csv_filename(experiment: Experiment) -> str:
    """WebMACS's ``experiment_<name>_<first 8 of its id>.csv``, safe in a header."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment.name).strip("_") or "unnamed"
    return f"experiment_{safe}_{str(experiment.public_id)[:8]}.csv"


def _csv_text(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


async def export_csv(
    sessions: async_sessionmaker[AsyncSession], experiment_id: int
) -> AsyncIterator[str]:
    """CSV text of the experiment's datapoints, oldest first, chunk by chunk.

    Opens its own session (a streaming response outlives the request's) and reads through a
    server-side cursor, so memory stays flat however long the experiment ran.
    """
    yield _csv_text([CSV_HEADER])
    query = (
        select(
            Datapoint.ts,
            Sensor.name,
            Sensor.public_id,
            Datapoint.value,
            Sensor.unit,
        )
        .join(Sensor, Sensor.id == Datapoint.sensor_id)
        .where(Datapoint.experiment_id == experiment_id)
        .order_by(Datapoint.ts, Datapoint.sensor_id)
    )
    last: tuple[uuid.UUID, datetime] | None = None
    repeat = 0
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=_EXPORT_CHUNK))
        async for chunk in result.partitions():
            rows = []
            for ts, name, public_id, value, unit in chunk:
                # Rows come ordered by time and sensor, so a point's repeats are adjacent.
                repeat = repeat + 1 if last == (public_id, ts) else 0
                last = (public_id, ts)
                point_id = datapoint_public_id(public_id, ts, repeat)
                rows.append((ts.isoformat(), name, public_id, repr(value), unit, point_id))
            yield _csv_text(rows)


def datapoint_public_id(sensor_public_id: uuid.UUID, ts: datetime, repeat: int = 0) -> uuid.UUID:
    """A datapoint's stable UUID: the ``repeat``-th (from 0) point of the sensor at ``ts``."""
    return uuid.uuid5(sensor_public_id, f"{ts.isoformat()}#{repeat}")
