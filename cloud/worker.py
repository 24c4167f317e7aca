"""``revlink cloud worker``: rule evaluation and webhook delivery in a process of their own.

By default every ``revlink cloud serve`` process also runs the rule evaluator and the webhook
dispatcher on its event loop, next to ingest. Where ingest must not share that CPU, run the
API replicas with ``REVLINK_RUN_AUTOMATION=false`` and one or more workers beside them on the
same PostgreSQL database. Nothing else changes: the replicas still fill the rule inbox in their
ingest transactions, the evaluator's advisory lock and the dispatcher's ``SKIP LOCKED`` claims
keep "once per cluster" however many workers and replicas run, and rule notifications reach
every replica's stream clients through ``NOTIFY`` (:mod:`cloud.live.fanout`). A command a rule
queues goes out when the device's link next looks (``REVLINK_CHANNEL_WRITE_POLL_SECONDS``).

SQLite has no cross-process notification, so a worker refuses it: there the single
``serve`` process does everything.

The worker answers ``/healthz`` (database reachable and both loops alive) and ``/metrics``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy.engine import make_url

from cloud.core.config import CloudSettings
from cloud.db.session import Database
from cloud.live.hub import LiveHub
from cloud.live.notices import track_notices
from cloud.rules.evaluator import RuleEngine
from cloud.services.storage import StorageMaintainer
from cloud.uplink.signals import DeviceSignals
from cloud.webhooks.dispatcher import WebhookDispatcher

__all__ = ["Automation", "WorkerNeedsPostgresError", "create_worker_app", "require_postgres"]


class WorkerNeedsPostgresError(ValueError):
    """A worker was pointed at SQLite, whose single process must do everything itself."""


def require_postgres(database_url: str, what: str) -> None:
    """Refuse ``what`` unless ``database_url`` is PostgreSQL."""
    if make_url(database_url).get_backend_name() != "postgresql":
        raise WorkerNeedsPostgresError(
            f"{what} needs PostgreSQL (REVLINK_DATABASE_URL=postgresql+asyncpg://...); with "
            "SQLite, `revlink cloud serve` evaluates rules and delivers webhooks itself"
        )


class Automation:
    """The rule evaluator, the webhook dispatcher and storage upkeep of one process, started
    and stopped together."""

    def __init__(
        self,
        db: Database,
        settings: CloudSettings,
        live: LiveHub,
        signals: DeviceSignals,
        *,
        fan_out: bool,
    ) -> None:
        self.rules = RuleEngine(db, live, signals, settings, fan_out=fan_out)
        self.webhooks = WebhookDispatcher(db, settings)
        self.storage = StorageMaintainer(
            db, settings.retention_days, settings.storage_maintenance_seconds
        )

    async def start(self, *, watch: bool, evaluate: bool) -> None:
        """``watch``: this process ingests (see :meth:`RuleEngine.start`); ``evaluate``: it
        runs the evaluator, the dispatcher and periodic storage upkeep. Every process does
        one upkeep pass as it starts, so this month's partitions exist before it ingests."""
        await self.storage.run_once()
        await self.rules.start(watch=watch, evaluate=evaluate)
        if evaluate:
            await self.webhooks.start()
            self.storage.start()

    async def stop(self) -> None:
        await self.storage.stop()
        await self.webhooks.stop()
        await self.rules.stop()

    @property
    def running(self) -> bool:
        return self.rules.running and self.webhooks.running


def create_worker_app(settings: CloudSettings | None = None) -> FastAPI:
    settings = settings or CloudSettings()
    registry = CollectorRegistry()
    alive = Gauge("revlink_worker_loops_alive", "1 while both loops run.", registry=registry)
    inflight = Gauge(
        "revlink_webhook_max_inflight", "Most webhook tries at once so far.", registry=registry
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        require_postgres(settings.resolved_database_url(), "revlink cloud worker")
        db = Database(settings.resolved_database_url(), settings.pool_limits())
        # The commands its rules queue reach the replica holding the device by a notice.
        track_notices(db.session_class, postgres=True)
        # Nobody streams from a worker: its notifications go out through the database.
        automation = Automation(db, settings, LiveHub(1.0), DeviceSignals(), fan_out=True)
        await automation.start(watch=False, evaluate=True)
        app.state.db, app.state.automation = db, automation
        try:
            yield
        finally:
            await automation.stop()
            await db.dispose()

    app = FastAPI(
        title="revlink cloud worker",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/healthz")
    async def healthz(request: Request, response: Response) -> dict[str, str]:
        automation: Automation = request.app.state.automation
        db: Database = request.app.state.db
        problem = await db.unreachable()
        if problem is not None:
            response.status_code = 503
            return {"status": "error", "database": problem}
        if not automation.running:
            response.status_code = 503
            return {"status": "error", "loops": "stopped"}
        return {"status": "ok", "database": db.engine.dialect.name}

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        automation: Automation = request.app.state.automation
        alive.set(1 if automation.running else 0)
        inflight.set(automation.webhooks.max_inflight_seen)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
