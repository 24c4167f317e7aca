"""``/api/v1/devices/{device_id}/sensors/{key}``: a device's sensor by its key, not its UUID.

The key is ``<channel>.<field>`` as the uplink registered it (``plugin.sim.tank_temp``); it
holds dots and may hold slashes, so it is matched as a path: ``…/sensors/{key}`` is the
sensor, ``…/{key}/datapoints`` its series and ``…/{key}/datapoints/latest`` its newest value
(the same shapes as ``/api/v1/sensors/{public_id}``, ``/api/v1/datapoints`` and
``/api/v1/datapoints/latest``). A key that itself ends in ``/datapoints`` or
``/datapoints/latest`` is reached by its ``public_id`` instead.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from cloud.api.deps import CurrentUser, DbSession, OperatorUser
from cloud.api.routes.datapoints import End, LatestOut, MaxPoints, SeriesOut, Start, series_out
from cloud.api.routes.sensors import SensorOut, SensorUpdate
from cloud.services import sensors, series
from cloud.services.devices import get_device
from cloud.services.errors import NotFoundError

__all__ = ["router"]

router = APIRouter(prefix="/devices/{device_id}/sensors", tags=["sensors"])


@router.get("")
async def list_device_sensors(
    device_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> list[SensorOut]:
    """The device's sensors by name (as ``GET /api/v1/sensors?device_id=``)."""
    await get_device(session, device_id)
    return [SensorOut.of(s) for s in await sensors.list_sensors(session, device_id)]


# The routes with a suffix come first: ``{key:path}`` alone would swallow them.
@router.get("/{key:path}/datapoints/latest")
async def get_device_sensor_latest(
    device_id: uuid.UUID, key: str, user: CurrentUser, session: DbSession
) -> LatestOut:
    """The sensor's newest value; 404 while it has none."""
    sensor = await sensors.get_device_sensor(session, device_id, key)
    values = await series.latest(session, [sensor.public_id])
    if not values:
        raise NotFoundError(f"sensor {key!r} of device {device_id} has no datapoints yet")
    return LatestOut.of(values[0])


@router.get("/{key:path}/datapoints")
async def get_device_sensor_series(
    device_id: uuid.UUID,
    key: str,
    user: CurrentUser,
    session: DbSession,
    start: Start = None,
    end: End = None,
    max_points: MaxPoints = 1000,
) -> SeriesOut:
    """As ``GET /api/v1/datapoints``: raw points, or at most ``max_points`` buckets."""
    low, high = series.resolve_range(start, end)
    sensor = await sensors.get_device_sensor(session, device_id, key)
    return series_out(await series.series(session, sensor, low, high, max_points))


@router.get("/{key:path}")
async def get_device_sensor(
    device_id: uuid.UUID, key: str, user: CurrentUser, session: DbSession
) -> SensorOut:
    return SensorOut.of(await sensors.get_device_sensor(session, device_id, key))


@router.patch("/{key:path}")
async def update_device_sensor(
    device_id: uuid.UUID, key: str, body: SensorUpdate, user: OperatorUser, session: DbSession
) -> SensorOut:
    """As ``PATCH /api/v1/sensors/{public_id}``."""
    sensor = await sensors.get_device_sensor(session, device_id, key)
    changed = await sensors.change_sensor(session, sensor, body.model_dump(exclude_unset=True))
    return SensorOut.of(changed)
