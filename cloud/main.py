"""The cloud app factory: ``create_app(settings)`` wires state, routers and doors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cloud.api.routes import auth, channels, datapoints, devices, health, sensors, users
from cloud.core.config import CloudSettings
from cloud.core.metrics import CloudMetrics
from cloud.db.session import Database
from cloud.live.hub import LiveHub
from cloud.services.ratelimit import LoginLimiter
from cloud.state import CloudState
from cloud.uplink import door as uplink_door
from cloud.uplink.registry import DeviceConnections
from cloud.ws import routes as ws_routes

__all__ = ["create_app"]

API_PREFIX = "/api/v1"


def create_app(settings: CloudSettings | None = None) -> FastAPI:
    settings = settings or CloudSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = CloudState(
            settings=settings,
            db=Database(settings.resolved_database_url()),
            metrics=CloudMetrics(),
            live=LiveHub(settings.stream_interval_ms / 1000),
            devices=DeviceConnections(),
            login_limiter=LoginLimiter(settings.login_max_attempts, settings.login_window_seconds),
            jwt_secret=settings.resolved_jwt_secret(),
        )
        app.state.cloud = state
        state.live.start()
        try:
            yield
        finally:
            await state.live.stop()
            await state.db.dispose()

    app = FastAPI(
        title="revlink cloud",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    for module in (auth, users, devices, sensors, datapoints, channels):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(ws_routes.router)
    app.include_router(uplink_door.router)
    return app
