"""The webhook dispatcher: claims due deliveries from the database and sends them.

One runs in every cloud process (started in the lifespan). The queue is the
``webhook_deliveries`` table, so nothing is lost when a process stops, and replicas on one
PostgreSQL share the work without sending anything twice:

- *claim*: in a short transaction, pick due pending rows whose lease is free
  (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two replicas never pick the same
  row; SQLite has one writer, so one process), and stamp each with ``lease_until`` and a
  fresh ``lease_token``. Only as many as there are free request slots are claimed.
- *send*: each claimed row is one try (``cloud.webhooks.sender``), at most
  ``REVLINK_WEBHOOK_CONCURRENCY`` at once, each within ``REVLINK_WEBHOOK_TIMEOUT_SECONDS``.
- *record*: in another short transaction, add the try to ``webhook_attempts`` and update
  the row, but only while this claim still holds it (same ``lease_token``): delivered; or
  failed for good (the address is not allowed); or pending again after a backoff of
  ``REVLINK_WEBHOOK_BACKOFF_SECONDS`` * 2 ** (try - 1); or, after
  ``REVLINK_WEBHOOK_MAX_ATTEMPTS`` tries, ``dead_letter``.

The claim and record transactions commit without waiting for the disk (``wait_for_disk=False``):
they are many and small, and must not hold up ingest's commits; a crash can lose the last of
them, which only makes a try repeat, the at-least-once case below.

A replica that dies mid-try leaves a lease that runs out after
``REVLINK_WEBHOOK_LEASE_SECONDS``; another replica then tries the row again (the one case
of a second request: when the first may or may not have arrived). The lease must outlast the
request timeout, which the settings enforce.

The dispatcher wakes at once when this process commits new deliveries
(``cloud.webhooks.events``), when a slot frees, when the next retry falls due, and at the
latest every ``REVLINK_WEBHOOK_POLL_SECONDS`` (rows other replicas queued). Every
:data:`PRUNE_EVERY_SECONDS` it deletes finished deliveries older than
``REVLINK_WEBHOOK_RETENTION_DAYS``, so the log stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from sqlalchemy import delete, func, select, update

from cloud.core.config import CloudSettings
from cloud.core.tasks import cancel_and_wait
from cloud.db.session import Database
from cloud.models.webhook import (
    ERROR_MAX,
    AttemptOutcome,
    DeliveryStatus,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from cloud.webhooks.addresses import parse_networks
from cloud.webhooks.events import add_waker, remove_waker
from cloud.webhooks.sender import Request, Result, make_client, send_once
from cloud.webhooks.signing import encode_body

__all__ = ["DISABLED_ERROR", "PRUNE_EVERY_SECONDS", "Claim", "WebhookDispatcher", "retry_delay"]

log = structlog.get_logger(__name__)

DISABLED_ERROR = "webhook disabled before delivery"
PRUNE_EVERY_SECONDS = 600.0
_FINISHED = (
    DeliveryStatus.DELIVERED.value,
    DeliveryStatus.FAILED.value,
    DeliveryStatus.DEAD_LETTER.value,
)


def retry_delay(settings: CloudSettings, attempt: int) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based): 2, 4, 8 … by default."""
    return float(settings.webhook_backoff_seconds * 2 ** (attempt - 1))


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    token: uuid.UUID
    request: Request


class WebhookDispatcher:
    """Delivers queued webhook deliveries of one database, off every request path."""

    def __init__(self, db: Database, settings: CloudSettings) -> None:
        self.db = db
        self.settings = settings
        self.allowed = parse_networks(settings.webhook_allowed_networks)
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.max_inflight_seen = 0  # the most tries at once so far (for /metrics and tests)
        self._pruned_at = float("-inf")

    # Lifecycle.

    async def start(self) -> None:
        self._client = make_client(self.settings.webhook_concurrency)
        add_waker(self.wake)
        self._loop_task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Stop claiming, let tries under way finish (each is bounded by the timeout)."""
        remove_waker(self.wake)
        await cancel_and_wait(self._loop_task)
        self._loop_task = None
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=self.settings.webhook_timeout_seconds + 5)
        for task in list(self._inflight):  # only a record stuck on the database is left
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        """The claiming loop is alive."""
        return self._loop_task is not None and not self._loop_task.done()

    # The loop.

    async def _run(self) -> None:
        while True:
            wait = self.settings.webhook_poll_seconds
            try:
                free = self.settings.webhook_concurrency - len(self._inflight)
                # Claim in batches: a slot freed while most are busy waits for more, so a
                # busy dispatcher costs one claim per several tries, not one per try.
                if free > 0 and (
                    not self._inflight or 2 * free >= self.settings.webhook_concurrency
                ):
                    claims = await self.claim(free)
                    for claim in claims:
                        self._spawn(claim)
                    if len(claims) < free:  # nothing more due now: sleep until the next is
                        wait = min(wait, await self._seconds_to_next_due())
                    else:
                        wait = self.settings.webhook_poll_seconds
                await self._prune_now_and_then()
            except Exception:
                # Whatever went wrong (the database away, a bug), the loop must outlive it:
                # a dispatcher that died quietly would leave every webhook silent.
                log.exception("webhooks.claim_failed")
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
            self._wake.clear()

    def _spawn(self, claim: Claim) -> None:
        task = asyncio.create_task(self._deliver(claim))
        self._inflight.add(task)
        self.max_inflight_seen = max(self.max_inflight_seen, len(self._inflight))

        def done(finished: asyncio.Task[None]) -> None:
            self._inflight.discard(finished)
            self._wake.set()  # a slot is free

        task.add_done_callback(done)

    async def _deliver(self, claim: Claim) -> None:
        assert self._client is not None
        result = await send_once(
            self._client,
            claim.request,
            allowed=self.allowed,
            timeout=self.settings.webhook_timeout_seconds,
        )
        try:
            await self.record(claim, result, datetime.now(UTC))
        except Exception:
            # The lease runs out and the row is tried again: at least once, never lost.
            log.exception("webhooks.record_failed", delivery=claim.delivery_id)

    # The database side.

    async def claim(self, limit: int) -> list[Claim]:
        """Lease up to ``limit`` due deliveries to this dispatcher."""
        now = datetime.now(UTC)
        lease_free = (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until < now)
        async with self.db.transaction(wait_for_disk=False) as session:
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING.value,
                    lease_free,
                    WebhookDelivery.webhook_id.in_(
                        select(Webhook.id).where(Webhook.enabled.is_(False))
                    ),
                )
                .values(status=DeliveryStatus.FAILED.value, last_error=DISABLED_ERROR)
                .execution_options(synchronize_session=False)
            )
            query = (
                select(WebhookDelivery, Webhook.url, Webhook.secret)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING.value,
                    WebhookDelivery.next_attempt_at <= now,
                    lease_free,
                    Webhook.enabled.is_(True),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            )
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
            rows = (await session.execute(query)).all()
            lease_until = now + timedelta(seconds=self.settings.webhook_lease_seconds)
            claims: list[Claim] = []
            for delivery, url, secret in rows:
                token = uuid.uuid4()
                delivery.lease_until = lease_until
                delivery.lease_token = token
                request = Request(
                    url=url,
                    secret=secret,
                    body=encode_body(delivery.payload),
                    event_type=delivery.event_type,
                    delivery_id=str(delivery.public_id),
                    attempt=delivery.attempts + 1,
                )
                claims.append(Claim(delivery.id, token, request))
        return claims

    async def record(self, claim: Claim, result: Result, now: datetime) -> bool:
        """Store one try; False if this claim had lost its lease (the try is kept anyway)."""
        attempt = claim.request.attempt
        values: dict[str, object] = {
            "attempts": attempt,
            "response_code": result.response_code,
            "latency_ms": result.latency_ms,
            "last_error": result.error[:ERROR_MAX] if result.error else None,
            "lease_until": None,
            "lease_token": None,
        }
        if result.outcome == AttemptOutcome.DELIVERED:
            values.update(status=DeliveryStatus.DELIVERED.value, delivered_on=now)
        elif not result.retryable:
            values.update(status=DeliveryStatus.FAILED.value)
        elif attempt >= self.settings.webhook_max_attempts:
            values.update(status=DeliveryStatus.DEAD_LETTER.value)
        else:
            delay = timedelta(seconds=retry_delay(self.settings, attempt))
            values.update(status=DeliveryStatus.PENDING.value, next_attempt_at=now + delay)
        started = now - timedelta(milliseconds=result.latency_ms or 0)
        async with self.db.transaction(wait_for_disk=False) as session:
            session.add(
                WebhookAttempt(
                    delivery_id=claim.delivery_id,
                    attempt=attempt,
                    outcome=result.outcome.value,
                    response_code=result.response_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                    started_at=started,
                )
            )
            changed = await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == claim.delivery_id,
                    WebhookDelivery.lease_token == claim.token,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        held = bool(getattr(changed, "rowcount", 0))
        if not held:
            log.warning("webhooks.lease_lost", delivery=claim.delivery_id, attempt=attempt)
        if result.outcome != AttemptOutcome.DELIVERED:
            log.info(
                "webhooks.attempt_failed",
                delivery=claim.delivery_id,
                attempt=attempt,
                outcome=result.outcome.value,
                status=values["status"],
                error=result.error,
            )
        return held

    async def _prune_now_and_then(self) -> None:
        clock = asyncio.get_running_loop().time()
        if clock - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = clock
            await self.prune(datetime.now(UTC))

    async def prune(self, now: datetime) -> int:
        """Delete finished deliveries queued more than the retention ago (their attempts go
        with them); how many went. Pending ones stay, however old."""
        cutoff = now - timedelta(days=self.settings.webhook_retention_days)
        async with self.db.transaction(wait_for_disk=False) as session:
            done = await session.execute(
                delete(WebhookDelivery)
                .where(WebhookDelivery.status.in_(_FINISHED), WebhookDelivery.created_on < cutoff)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(done, "rowcount", 0) or 0)

    async def _seconds_to_next_due(self) -> float:
        """How long until the earliest pending row is due (the poll interval if none)."""
        async with self.db.sessions() as session:
            due = await session.scalar(
                select(func.min(WebhookDelivery.next_attempt_at)).where(
                    WebhookDelivery.status == DeliveryStatus.PENDING.value,
                    WebhookDelivery.lease_until.is_(None),
                )
            )
        if due is None:
            return self.settings.webhook_poll_seconds
        if due.tzinfo is None:  # SQLite's aggregate skips the column type
            due = due.replace(tzinfo=UTC)
        return max(0.0, (due - datetime.now(UTC)).total_seconds())
