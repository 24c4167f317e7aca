"""The cloud app factory: ``create_app(settings)`` wires state, routers and doors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import DBAPIError

from cloud.api.routes import (
    auth,
    channel_writes,
    channels,
    dashboards,
    datapoints,
    device_apps,
    device_commands,
    device_sensors,
    devices,
    events,
    experiments,
    health,
    log_entries,
    plugins,
    rules,
    sensors,
    tokens,
    users,
    webhooks,
)
from cloud.core.config import CloudSettings
from cloud.core.metrics import CloudMetrics
from cloud.db.errors import unstorable_value
from cloud.db.session import Database
from cloud.live.cluster import Cluster
from cloud.live.fanout import FanOutListener, asyncpg_dsn
from cloud.live.hub import LiveHub
from cloud.live.notices import track_notices
from cloud.live.observers import ObserverBook, ObserverSweeper
from cloud.live.revocations import RevocationBoard
from cloud.services.errors import (
    ConfigInvalidError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from cloud.services.event_log import EventLog
from cloud.services.ratelimit import DatabaseLoginLimiter, LoginLimiter
from cloud.services.request_limits import TokenBuckets
from cloud.services.telemetry_queue import TelemetryQueue
from cloud.state import CloudState
from cloud.uplink import door as uplink_door
from cloud.uplink.ingest_queue import IngestQueue
from cloud.uplink.registry import DeviceConnections
from cloud.uplink.signals import DeviceSignals
from cloud.web.dashboard import dashboard_app
from cloud.worker import Automation, require_postgres
from cloud.ws import routes as ws_routes
from revlink.channels import InvalidPayloadError

__all__ = ["create_app"]

# Services raise named errors; routers stay thin and this is the one place that maps them.
_STATUS_FOR: dict[type[Exception], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    InvalidInputError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    InvalidPayloadError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


async def _database_refused(request: Request, exc: Exception) -> JSONResponse:
    # A value the database cannot keep is the request's fault; anything else stays a 500.
    reason = unstorable_value(exc) if isinstance(exc, DBAPIError) else None
    if reason is None:
        raise exc
    return JSONResponse({"detail": reason}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    code = next(c for kind, c in _STATUS_FOR.items() if isinstance(exc, kind))
    if isinstance(exc, ConfigInvalidError):
        # FastAPI's own 422 shape, so a client reads every field's problem the same way.
        detail = [
            {"loc": ["body", *path], "msg": message, "type": "config_invalid"}
            for path, message in exc.problems
        ]
        return JSONResponse({"detail": detail}, status_code=code)
    return JSONResponse({"detail": str(exc)}, status_code=code)


API_PREFIX = "/api/v1"


def create_app(settings: CloudSettings | None = None) -> FastAPI:
    settings = settings or CloudSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.run_automation:
            require_postgres(settings.resolved_database_url(), "REVLINK_RUN_AUTOMATION=false")
        db = Database(settings.resolved_database_url(), settings.pool_limits())
        # On PostgreSQL the listener below says when notices flow; SQLite's come in-process.
        revocations = RevocationBoard(listening=not db.is_postgres)
        write_signals = DeviceSignals()
        track_notices(
            db.session_class,
            postgres=db.is_postgres,
            revoked=revocations.announce,
            device_work=write_signals.notify_many,
        )
        live, devices = LiveHub(settings.stream_interval_ms / 1000), DeviceConnections()
        cluster = Cluster(
            settings.redis_url,
            db.url,
            live,
            devices,
            settings.redis_prefix,
            settings.presence_ttl_seconds,
        )
        state = CloudState(
            settings=settings,
            db=db,
            metrics=CloudMetrics(),
            live=live,
            devices=devices,
            presence=cluster.presence,
            login_limiter=(
                DatabaseLoginLimiter(db, settings.login_max_attempts, settings.login_window_seconds)
                if db.is_postgres
                else LoginLimiter(settings.login_max_attempts, settings.login_window_seconds)
            ),
            jwt_secret=settings.resolved_jwt_secret(),
            observers=ObserverBook(settings.observer_ttl_seconds),
            event_log=EventLog(db),
            revocations=revocations,
            write_signals=write_signals,
            ingest=IngestQueue(db, settings.db_pool_size),
            telemetry=TelemetryQueue(db),
            request_limits=(
                TokenBuckets(settings.api_rate_per_second, settings.api_burst)
                if settings.api_rate_per_second > 0
                else None
            ),
            device_limits=(
                TokenBuckets(settings.uplink_records_per_second, settings.uplink_records_burst)
                if settings.uplink_records_per_second > 0
                else None
            ),
        )
        app.state.cloud = state
        state.ingest.start()
        state.telemetry.start()
        state.live.start()
        await cluster.start()
        sweeper = ObserverSweeper(
            state.observers, state.db, state.write_signals, settings.observer_ttl_seconds / 3
        )
        sweeper.start()
        fanout = None
        if db.is_postgres:
            fanout = FanOutListener(
                asyncpg_dsn(db.url), state.live, revocations, write_signals, state.devices
            )
        if fanout is not None:
            await fanout.start()
        automation = Automation(
            state.db, settings, state.live, state.write_signals, fan_out=fanout is not None
        )
        await automation.start(watch=True, evaluate=settings.run_automation)
        state.rules, state.webhooks = automation.rules, automation.webhooks
        try:
            yield
        finally:
            await automation.stop()
            if fanout is not None:
                await fanout.stop()
            await sweeper.stop()
            await cluster.stop()
            await state.ingest.stop()
            await state.telemetry.stop()
            await state.live.stop()
            await state.event_log.drain()
            await state.db.dispose()

    # Swagger UI and ReDoc from the pinned package's own files: /docs works with no network.
    app = FastAPIOffline(
        title="revlink cloud",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    routers = (
        auth,
        users,
        devices,
        sensors,
        events,
        datapoints,
        channels,
        channel_writes,
        device_apps,
        device_commands,
        device_sensors,
        experiments,
        log_entries,
        rules,
        webhooks,
        dashboards,
        tokens,
        plugins,
    )
    for module in routers:
        app.include_router(module.router, prefix=API_PREFIX)
    for kind in _STATUS_FOR:
        app.add_exception_handler(kind, _service_error)
    app.add_exception_handler(DBAPIError, _database_refused)
    app.include_router(health.router)
    app.include_router(ws_routes.router)
    app.include_router(uplink_door.router)
    # Last: it answers every path the routes above leave, so it must not shadow them.
    app.mount("/", dashboard_app(settings.dashboard_dir), name="dashboard")
    return app
