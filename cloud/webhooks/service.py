"""Managing webhooks and reading their delivery log (the REST API's service).

WebMACS's rules: a URL is one webhook (a second with the same URL is a conflict), it has at
least one event, and its secret is write-only. revlink's: the URL must pass the
creation-time address check (``cloud.webhooks.addresses``), there are at most
:data:`MAX_WEBHOOKS`, and a finished delivery can be sent again (a *redelivery* is a new
delivery with the same body, so the log keeps the original as it ended).

The caller commits; none of this knows about HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models.webhook import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.services.paging import MAX_PAGE_SIZE, page_of_scalars
from cloud.webhooks.addresses import IPNetwork, check_url
from cloud.webhooks.events import WebhookEvent, wake_after_commit

__all__ = [
    "MAX_PAGE_SIZE",
    "MAX_WEBHOOKS",
    "DeliveryWithAttempts",
    "WebhookChanges",
    "create_webhook",
    "delete_webhook",
    "get_delivery",
    "get_webhook",
    "list_deliveries",
    "list_webhooks",
    "redeliver",
    "update_webhook",
]

MAX_WEBHOOKS = 100


def _events(events: Sequence[WebhookEvent]) -> list[str]:
    if not events:
        raise InvalidInputError("a webhook needs at least one event")
    return sorted({WebhookEvent(e).value for e in events})


def _url(url: str, allowed: Sequence[IPNetwork]) -> str:
    try:
        check_url(url, allowed)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    return url


async def _url_free(session: AsyncSession, url: str, keep: int | None = None) -> None:
    other = await session.scalar(select(Webhook.id).where(Webhook.url == url))
    if other is not None and other != keep:
        raise ConflictError(f"a webhook for {url} exists already")


async def list_webhooks(
    session: AsyncSession, *, page: int, page_size: int
) -> tuple[Sequence[Webhook], int]:
    """One page, oldest first (the order they were made in), and how many there are."""
    return await page_of_scalars(session, select(Webhook).order_by(Webhook.id), page, page_size)


async def get_webhook(session: AsyncSession, public_id: uuid.UUID) -> Webhook:
    hook = await session.scalar(select(Webhook).where(Webhook.public_id == public_id))
    if hook is None:
        raise NotFoundError(f"no webhook {public_id}")
    return hook


async def create_webhook(
    session: AsyncSession,
    *,
    url: str,
    secret: str | None,
    events: Sequence[WebhookEvent],
    enabled: bool,
    user_public_id: uuid.UUID | None,
    allowed: Sequence[IPNetwork],
    now: datetime,
) -> Webhook:
    url = _url(url, allowed)
    names = _events(events)
    await _url_free(session, url)
    count = await session.scalar(select(func.count()).select_from(Webhook))
    if (count or 0) >= MAX_WEBHOOKS:
        raise ConflictError(f"there are {MAX_WEBHOOKS} webhooks already (the most allowed)")
    hook = Webhook(
        public_id=uuid.uuid4(),
        url=url,
        secret=secret or None,
        events=names,
        enabled=enabled,
        created_on=now,
        user_public_id=user_public_id,
    )
    session.add(hook)
    await session.flush()
    return hook


@dataclass(frozen=True)
class WebhookChanges:
    """Fields to change; ``secret_set`` tells an explicit null (clear it) from absence."""

    url: str | None = None
    secret: str | None = None
    secret_set: bool = False
    events: Sequence[WebhookEvent] | None = None
    enabled: bool | None = None


async def update_webhook(
    session: AsyncSession,
    public_id: uuid.UUID,
    changes: WebhookChanges,
    allowed: Sequence[IPNetwork],
) -> Webhook:
    hook = await get_webhook(session, public_id)
    if changes.url is not None and changes.url != hook.url:
        url = _url(changes.url, allowed)
        await _url_free(session, url, keep=hook.id)
        hook.url = url
    if changes.secret_set:
        hook.secret = changes.secret or None
    if changes.events is not None:
        hook.events = _events(changes.events)
    if changes.enabled is not None:
        hook.enabled = changes.enabled
    await session.flush()
    return hook


async def delete_webhook(session: AsyncSession, public_id: uuid.UUID) -> None:
    """Delete it with its delivery log (pending deliveries are never sent)."""
    await session.delete(await get_webhook(session, public_id))
    await session.flush()


@dataclass(frozen=True)
class DeliveryWithAttempts:
    delivery: WebhookDelivery
    attempts: Sequence[WebhookAttempt]


async def _with_attempts(
    session: AsyncSession, deliveries: Sequence[WebhookDelivery]
) -> list[DeliveryWithAttempts]:
    ids = [d.id for d in deliveries]
    by_delivery: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
    if ids:
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt, WebhookAttempt.id)
        )
        for row in rows:
            by_delivery[row.delivery_id].append(row)
    return [DeliveryWithAttempts(d, by_delivery[d.id]) for d in deliveries]


async def list_deliveries(
    session: AsyncSession,
    public_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    page: int,
    page_size: int,
) -> tuple[list[DeliveryWithAttempts], int]:
    """One page of a webhook's deliveries, newest first, each with its tries."""
    hook = await get_webhook(session, public_id)
    conditions = [WebhookDelivery.webhook_id == hook.id]
    if status is not None:
        conditions.append(WebhookDelivery.status == status.value)
    query = (
        select(WebhookDelivery)
        .where(*conditions)
        .order_by(WebhookDelivery.created_on.desc(), WebhookDelivery.id.desc())
    )
    rows, total = await page_of_scalars(session, query, page, page_size)
    return await _with_attempts(session, rows), total


async def get_delivery(
    session: AsyncSession, public_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryWithAttempts:
    hook = await get_webhook(session, public_id)
    delivery = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.public_id == delivery_id, WebhookDelivery.webhook_id == hook.id
        )
    )
    if delivery is None:
        raise NotFoundError(f"webhook {public_id} has no delivery {delivery_id}")
    return (await _with_attempts(session, [delivery]))[0]


_FINISHED = {DeliveryStatus.DEAD_LETTER.value, DeliveryStatus.FAILED.value}


async def redeliver(
    session: AsyncSession, public_id: uuid.UUID, delivery_id: uuid.UUID, now: datetime
) -> DeliveryWithAttempts:
    """Queue a new delivery with the body of a dead-lettered or failed one (409 otherwise:
    a pending one is still being tried, a delivered one arrived)."""
    original = (await get_delivery(session, public_id, delivery_id)).delivery
    if original.status not in _FINISHED:
        raise ConflictError(
            f"only a dead_letter or failed delivery can be sent again; this one is "
            f"{original.status}"
        )
    hook = await get_webhook(session, public_id)
    if not hook.enabled:
        raise ConflictError("the webhook is disabled; enable it first")
    again = WebhookDelivery(
        public_id=uuid.uuid4(),
        webhook_id=original.webhook_id,
        event_type=original.event_type,
        payload=original.payload,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        created_on=now,
        next_attempt_at=now,
    )
    session.add(again)
    await session.flush()
    wake_after_commit(session)
    return DeliveryWithAttempts(again, [])
