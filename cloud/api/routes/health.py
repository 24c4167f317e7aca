"""``/healthz`` (database reachable) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cloud.api.deps import State

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(state: State, response: Response) -> dict[str, str]:
    try:
        async with state.db.sessions() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        response.status_code = 503
        return {"status": "error", "database": type(exc).__name__}
    return {"status": "ok", "database": state.db.engine.dialect.name}


@router.get("/metrics")
async def metrics(state: State) -> Response:
    state.metrics.connected_devices.set(len(state.devices))
    state.metrics.stream_clients.set(len(state.live))
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
