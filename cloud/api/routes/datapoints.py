"""``/api/v1/datapoints``: a sensor's history (downsampled), latest values, CSV export, and
WebMACS's HTTP telemetry (``POST`` one datapoint, ``POST /batch`` up to 500)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from cloud.api.deps import CurrentUser, DbSession, OperatorUser, State
from cloud.services import series, telemetry
from cloud.services.telemetry_store import store_batch

__all__ = [
    "HTTP_DOOR",
    "LatestOut",
    "MaxPoints",
    "PointOut",
    "SeriesOut",
    "router",
    "series_out",
]

router = APIRouter(prefix="/datapoints", tags=["datapoints"])

MAX_POINTS = 10_000
HTTP_DOOR = "telemetry_http"  # the metrics' door label of the POST routes
MAX_SENSORS = 1000

SENSOR_QUERY = Query(alias="sensor", description="a sensor public_id; repeatable")
Sensors = Annotated[list[uuid.UUID], SENSOR_QUERY]
OptionalSensors = Annotated[list[uuid.UUID] | None, SENSOR_QUERY]
Start = Annotated[datetime | None, Query(description="inclusive; default end - 24 h")]
End = Annotated[datetime | None, Query(description="exclusive; default now")]
MaxPoints = Annotated[int, Query(ge=1, le=MAX_POINTS)]


class PointOut(BaseModel):
    """A raw point (count 1) or a bucket starting at ``t`` (value = avg)."""

    t: datetime
    value: float
    min: float
    max: float
    avg: float
    count: int


class SeriesOut(BaseModel):
    sensor: uuid.UUID
    name: str
    unit: str
    start: datetime
    end: datetime
    downsampled: bool
    bucket_seconds: float | None
    count: int
    points: list[PointOut]


class LatestOut(BaseModel):
    sensor_public_id: uuid.UUID
    # WebMACS's name for the same id: its controller matches actuators on it.
    event_public_id: uuid.UUID
    sensor_name: str
    unit: str
    timestamp: datetime
    value: float

    @classmethod
    def of(cls, value: series.LatestValue) -> LatestOut:
        return cls(
            sensor_public_id=value.sensor_public_id,
            event_public_id=value.sensor_public_id,
            sensor_name=value.sensor_name,
            unit=value.unit,
            timestamp=value.timestamp,
            value=value.value,
        )


def series_out(result: series.Series) -> SeriesOut:
    found = result.sensor
    return SeriesOut(
        sensor=found.public_id,
        name=found.name,
        unit=found.unit,
        start=result.start,
        end=result.end,
        downsampled=result.bucket is not None,
        bucket_seconds=result.bucket.total_seconds() if result.bucket is not None else None,
        count=sum(p.count for p in result.points),
        points=[
            PointOut(t=p.t, value=p.value, min=p.min, max=p.max, avg=p.avg, count=p.count)
            for p in result.points
        ],
    )


def _check_count(sensor_ids: list[uuid.UUID]) -> None:
    if len(sensor_ids) > MAX_SENSORS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"at most {MAX_SENSORS} sensors per request"
        )


@router.get("")
async def get_series(
    user: CurrentUser,
    session: DbSession,
    sensor: Annotated[uuid.UUID, Query(description="the sensor's public_id")],
    start: Start = None,
    end: End = None,
    max_points: MaxPoints = 1000,
) -> SeriesOut:
    """Raw points when at most ``max_points`` lie in [start, end), else ≤ max_points buckets."""
    low, high = series.resolve_range(start, end)
    (found,) = await series.require_sensors(session, [sensor])
    return series_out(await series.series(session, found, low, high, max_points))


class DatapointIn(BaseModel):
    """WebMACS's datapoint: checked item by item as the telemetry door checks them."""

    value: object
    event_public_id: object


class BatchIn(BaseModel):
    datapoints: list[object] = Field(max_length=telemetry.MAX_TELEMETRY_BATCH)


class RefusalOut(BaseModel):
    index: int
    reason: str


class StoredOut(BaseModel):
    """WebMACS's ``{status, message}``, and which items were refused (none, usually)."""

    status: str
    message: str
    refused: list[RefusalOut] = []


@router.post("", status_code=status.HTTP_201_CREATED)
async def post_datapoint(body: DatapointIn, user: OperatorUser, state: State) -> StoredOut:
    """One value of a sensor without a device, stamped now and with the running experiment."""
    batch = telemetry.validate_items([body.model_dump()])
    result = await store_batch(state, batch, HTTP_DOOR)
    if not result.stored:
        (refusal,) = result.refused
        if refusal.unknown_sensor:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Event not found.")
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, refusal.reason)
    return StoredOut(status="success", message="Datapoint successfully created.")


@router.post("/batch", status_code=status.HTTP_201_CREATED)
async def post_batch(body: BatchIn, user: OperatorUser, state: State) -> StoredOut:
    """Up to 500 values in one transaction; the good items are stored and each refused one
    is named. A batch with no good item stores nothing and is a 422."""
    result = await store_batch(state, telemetry.validate_items(body.datapoints), HTTP_DOOR)
    refused = [
        RefusalOut(index=r.index, reason=r.reason)
        for r in sorted(result.refused, key=lambda r: r.index)
    ]
    if not result.stored and body.datapoints:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "message": telemetry.NO_VALID_DATAPOINTS,
                "refused": [r.model_dump() for r in refused],
            },
        )
    count = result.stored
    return StoredOut(
        status="success", message=f"{count} datapoints successfully created.", refused=refused
    )


class SeriesRequest(BaseModel):
    """WebMACS's ``/series`` body: the last ``minutes`` of up to 20 events."""

    event_public_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)
    minutes: int = Field(default=60, ge=1, le=14_400)
    max_points: int = Field(default=500, ge=10, le=2_000)


class SeriesItemOut(BaseModel):
    """WebMACS's datapoint; past ``max_points`` each is a bucket (its start, its average)
    rather than WebMACS's every n-th point. revlink keeps no id per datapoint, and this
    answer leaves out the experiment (``experiment_public_id`` is always null here)."""

    public_id: None = None
    value: float
    timestamp: datetime
    event_public_id: uuid.UUID
    experiment_public_id: uuid.UUID | None = None


@router.post("/series")
async def post_series(
    body: SeriesRequest, user: CurrentUser, session: DbSession
) -> dict[str, list[SeriesItemOut]]:
    """Recent values of each event, oldest first, keyed by event id (WebMACS's charts)."""
    end = datetime.now(UTC)
    start = end - timedelta(minutes=body.minutes)
    wanted = list(dict.fromkeys(body.event_public_ids))
    found = await series.require_sensors(session, wanted)
    answer: dict[str, list[SeriesItemOut]] = {}
    for sensor in found:
        result = await series.series(session, sensor, start, end, body.max_points)
        answer[str(sensor.public_id)] = [
            SeriesItemOut(value=p.value, timestamp=p.t, event_public_id=sensor.public_id)
            for p in result.points
        ]
    return answer


@router.get("/latest")
async def get_latest(
    user: CurrentUser, session: DbSession, sensor: OptionalSensors = None
) -> list[LatestOut]:
    """The newest value of each sensor asked for (all when none); sensors without data are
    left out."""
    if sensor:
        _check_count(sensor)
    return [LatestOut.of(v) for v in await series.latest(session, sensor or None)]


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, oldest row first"}},
)
async def export_csv(
    user: CurrentUser,
    state: State,
    session: DbSession,
    sensor: Sensors,
    start: Start = None,
    end: End = None,
) -> StreamingResponse:
    """Stream ``timestamp,value,sensor_public_id,sensor_name,unit`` rows in time order."""
    _check_count(sensor)
    low, high = series.resolve_range(start, end)
    found = await series.require_sensors(session, sensor)
    stamp = "%Y%m%dT%H%M%SZ"
    filename = f"datapoints_{low.strftime(stamp)}_{high.strftime(stamp)}.csv"
    return StreamingResponse(
        series.export_csv(state.db.sessions, found, low, high),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
