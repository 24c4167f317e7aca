"""``/healthz`` (database reachable), ``/metrics`` (Prometheus) and WebMACS's
``/api/v1/health`` (its shape: status, version, database, last datapoint, uptime)."""

from __future__ import annotations

import time
from datetime import datetime

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.exc import SQLAlchemyError

from cloud.api.deps import State
from cloud.models import Datapoint, Sensor
from revlink import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(state: State, response: Response) -> dict[str, str]:
    problem = await state.db.unreachable()
    if problem is not None:
        response.status_code = 503
        return {"status": "error", "database": problem}
    return {"status": "ok", "database": state.db.engine.dialect.name}


@router.get("/metrics")
async def metrics(state: State) -> Response:
    state.metrics.connected_devices.set(len(state.devices))
    state.metrics.stream_clients.set(len(state.live))
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


class HealthOut(BaseModel):
    status: str  # "ok", or "degraded" while the database does not answer
    version: str
    database: str  # "ok" or "error"
    last_datapoint: datetime | None
    uptime_seconds: float


def _last_datapoint() -> Select[tuple[datetime | None]]:
    """The newest source time of any datapoint, one index probe per sensor (the
    ``(sensor_id, ts)`` index), not a scan of the whole table."""
    per_sensor = (
        select(func.max(Datapoint.ts))
        .where(Datapoint.sensor_id == Sensor.id)
        .correlate(Sensor)
        .scalar_subquery()
        .label("last")
    )
    newest = select(per_sensor).select_from(Sensor).subquery()
    return select(func.max(newest.c.last))


@router.get("/api/v1/health")
async def health(state: State) -> HealthOut:
    """No authentication, as in WebMACS: a monitor may poll it."""
    last: datetime | None = None
    try:
        async with state.db.sessions() as session:
            last = await session.scalar(_last_datapoint())
        database = "ok"
    except (SQLAlchemyError, OSError):
        database = "error"
    return HealthOut(
        status="ok" if database == "ok" else "degraded",
        version=__version__,
        database=database,
        last_datapoint=last,
        uptime_seconds=round(time.monotonic() - state.started, 1),
    )
