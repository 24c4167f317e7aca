"""The rig the webhook tests share.

A real HTTP receiver on 127.0.0.1 (a thread running ``http.server``), a PostgreSQL database
of a test module's own, the fast dispatcher settings, signature checking as a receiver
does it, and helpers that run dispatchers in-process. Imported by the
``test_webhook*.py`` modules, ``tests/e2e/test_webhooks.py`` and the side-effects tests and
benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from cloud.core.config import CloudSettings
from cloud.db.session import Database
from cloud.models import Webhook, WebhookAttempt, WebhookDelivery
from cloud.webhooks import service
from cloud.webhooks.addresses import parse_networks
from cloud.webhooks.dispatcher import WebhookDispatcher
from cloud.webhooks.events import WebhookEvent, enqueue_event
from cloud.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.rig.postgres import PostgresServer, own_database

__all__ = [
    "FAST_ENV",
    "ONLINE",
    "SECRET",
    "Behaviour",
    "Received",
    "Receiver",
    "add_hook",
    "attempts",
    "database_url_fixture",
    "db_fixture",
    "emit",
    "fresh_database",
    "receiver_fixture",
    "rows",
    "running",
    "serving",
    "settings",
    "until",
    "verify_signature",
]

Json = dict[str, Any]
SECRET = "s3cret-for-tests"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Json:
        found: Json = json.loads(self.body)
        return found


@dataclass
class Behaviour:
    status: int = 200
    delay: float = 0.0  # seconds before answering
    hold: threading.Event | None = None  # answer only once this is set


class Receiver:
    """A real HTTP server on 127.0.0.1 in a thread: records every POST, answers each path as
    told (``/ok`` 200 by default; ``set(path, ...)`` for 500s, delays or holds), and counts
    how many requests were in flight at once."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.behaviours: dict[str, Behaviour] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    behaviour = receiver.behaviours.get(self.path, Behaviour())
                try:
                    if behaviour.hold is not None:
                        behaviour.hold.wait(30)
                    if behaviour.delay:
                        time.sleep(behaviour.delay)
                    self.send_response(behaviour.status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the cloud gave up (a timeout): what a real slow target sees too
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/ok", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def set(self, path: str, **behaviour: Any) -> None:
        self.behaviours[path] = Behaviour(**behaviour)

    def on(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        for behaviour in self.behaviours.values():
            if behaviour.hold is not None:
                behaviour.hold.set()
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def serving() -> Iterator[Receiver]:
    found = Receiver()
    try:
        yield found
    finally:
        found.close()


@contextlib.contextmanager
def fresh_database(server: PostgresServer) -> Iterator[str]:
    """A database of the module's own: webhooks are global, so a database shared with other
    tests' clouds would let their dispatchers, without the allowlist, claim our deliveries."""
    with own_database(server, "revlink_wh") as url:
        yield url


# The dispatcher settings the tests run with: fast retries, a short timeout.
FAST_ENV = {
    "REVLINK_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    "REVLINK_WEBHOOK_BACKOFF_SECONDS": "0.2",
    "REVLINK_WEBHOOK_MAX_ATTEMPTS": "3",
    "REVLINK_WEBHOOK_TIMEOUT_SECONDS": "1",
    "REVLINK_WEBHOOK_POLL_SECONDS": "0.5",
    "REVLINK_WEBHOOK_LEASE_SECONDS": "5",
}


def verify_signature(request: Received, secret: str) -> bool:
    timestamp = request.headers[TIMESTAMP_HEADER.lower()]
    signature = request.headers[SIGNATURE_HEADER.lower()]
    return verify(secret, timestamp, signature, request.body, now=int(time.time()))


# In-process dispatcher helpers.

ONLINE = WebhookEvent.DEVICE_ONLINE


def settings(**overrides: Any) -> CloudSettings:
    values: dict[str, Any] = {
        "webhook_allowed_networks": "127.0.0.1/32",
        "webhook_backoff_seconds": 0.1,
        "webhook_max_attempts": 3,
        "webhook_timeout_seconds": 0.5,
        "webhook_poll_seconds": 0.2,
        "webhook_lease_seconds": 2.0,
        "webhook_concurrency": 10,
    }
    values.update(overrides)
    return CloudSettings(**values)


# Fixtures for the in-process tests; a module imports them (and lists them in ``__all__``) to
# use them by their names: ``receiver``, ``database_url`` (one database per module), ``db``.


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[Receiver]:
    with serving() as found:
        yield found


@pytest.fixture(name="database_url", scope="module")
def database_url_fixture(postgres_server: PostgresServer) -> Iterator[str]:
    with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture(name="db")
async def db_fixture(database_url: str) -> AsyncIterator[Database]:
    found = Database(database_url)
    async with found.transaction() as session:  # each test starts with no webhooks
        for hook in (await session.scalars(select(Webhook))).all():
            await session.delete(hook)
    yield found
    await found.dispose()


@asynccontextmanager
async def running(db: Database, config: CloudSettings) -> AsyncIterator[WebhookDispatcher]:
    dispatcher = WebhookDispatcher(db, config)
    await dispatcher.start()
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()


async def add_hook(
    db: Database,
    url: str,
    events: list[WebhookEvent] | None = None,
    secret: str | None = SECRET,
    allowed: str = "127.0.0.1/32",
) -> Webhook:
    async with db.transaction() as session:
        return await service.create_webhook(
            session,
            url=url,
            secret=secret,
            events=events or [ONLINE],
            enabled=True,
            user_public_id=None,
            allowed=parse_networks(allowed),
            now=datetime.now(UTC),
        )


async def emit(db: Database, count: int = 1, event: WebhookEvent = ONLINE) -> int:
    queued = 0
    async with db.transaction() as session:
        for n in range(count):
            queued += await enqueue_event(session, event, {"n": n}, datetime.now(UTC))
    return queued


async def rows(db: Database, hook: Webhook) -> list[WebhookDelivery]:
    async with db.sessions() as session:
        found = await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.id)
        )
        return list(found.all())


async def attempts(db: Database, delivery: WebhookDelivery) -> list[WebhookAttempt]:
    async with db.sessions() as session:
        found = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery.id)
            .order_by(WebhookAttempt.attempt)
        )
        return list(found.all())


async def until(
    db: Database, hook: Webhook, statuses: set[str], timeout: float = 15
) -> list[WebhookDelivery]:
    """Wait until every delivery of ``hook`` is in one of ``statuses``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await rows(db, hook)
        if found and all(d.status in statuses for d in found):
            return found
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"deliveries still {[d.status for d in found]}, wanted {statuses}")
        await asyncio.sleep(0.05)
