"""``/api/v1/webhooks``: WebMACS's webhook paths and shapes, and revlink's delivery log.

WebMACS's paths: ``GET``/``POST /webhooks`` (a ``{page, page_size, total, data}`` page),
``GET``/``PUT``/``DELETE /webhooks/{public_id}`` and ``GET /webhooks/{public_id}/deliveries``
(a page, newest first, filtered by ``status``). Writes answer WebMACS's ``{status, message}``,
here with the ``webhook`` (or ``delivery``) as it is afterwards. The secret is write-only: no
answer contains it (``has_secret`` says whether one is set).

revlink's additions: ``GET /webhooks/events`` (the event names a webhook may subscribe to),
each delivery's ``latency_ms``, ``next_attempt_on`` and ``attempt_history`` (every try with
its outcome, response code, latency and error), ``GET .../deliveries/{delivery_id}`` and
``POST .../deliveries/{delivery_id}/redeliver`` (send a dead-lettered or failed delivery
again, as a new delivery).

Roles: admin only, reading included (as in WebMACS: targets and their log are not for
everyone).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from cloud.api.deps import AdminUser, DbSession, PageNumber, State
from cloud.models.webhook import (
    SECRET_MAX,
    URL_MAX,
    AttemptOutcome,
    DeliveryStatus,
    Webhook,
    WebhookAttempt,
)
from cloud.webhooks import service
from cloud.webhooks.addresses import parse_networks
from cloud.webhooks.events import WebhookEvent, event_names
from cloud.webhooks.service import DeliveryWithAttempts, WebhookChanges

__all__ = ["WebhookDeliveryOut", "WebhookOut", "router"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

Url = Annotated[str, Field(min_length=1, max_length=URL_MAX, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://")]
Secret = Annotated[str, Field(min_length=1, max_length=SECRET_MAX)]
Events = Annotated[list[WebhookEvent], Field(min_length=1, max_length=len(WebhookEvent))]


class WebhookCreate(BaseModel):
    url: Url
    secret: Secret | None = Field(default=None, description="signs every request; write-only")
    events: Events
    enabled: bool = True


class WebhookUpdate(BaseModel):
    url: Url | None = None
    secret: Secret | None = Field(default=None, description="null clears it")
    events: Events | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    """WebMACS's fields (``public_id``, ``url``, ``events``, ``enabled``, ``created_on``,
    ``user_public_id``) and revlink's ``has_secret``. Never the secret itself."""

    public_id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    created_on: datetime
    user_public_id: uuid.UUID | None
    has_secret: bool

    @classmethod
    def of(cls, hook: Webhook) -> WebhookOut:
        return cls(
            public_id=hook.public_id,
            url=hook.url,
            events=list(hook.events),
            enabled=hook.enabled,
            created_on=hook.created_on,
            user_public_id=hook.user_public_id,
            has_secret=bool(hook.secret),
        )


class WebhookPage(BaseModel):
    """WebMACS's page: ``page`` (from 1), ``page_size``, ``total`` and ``data``."""

    page: int
    page_size: int
    total: int
    data: list[WebhookOut]


class WebhookAttemptOut(BaseModel):
    attempt: int = Field(description="1 for the first try")
    outcome: AttemptOutcome
    response_code: int | None
    latency_ms: int | None
    error: str | None
    started_on: datetime

    @classmethod
    def of(cls, row: WebhookAttempt) -> WebhookAttemptOut:
        return cls(
            attempt=row.attempt,
            outcome=AttemptOutcome(row.outcome),
            response_code=row.response_code,
            latency_ms=row.latency_ms,
            error=row.error,
            started_on=row.started_at,
        )


class WebhookDeliveryOut(BaseModel):
    """WebMACS's fields (``public_id``, ``event_type``, ``status``, ``attempts``,
    ``last_error``, ``response_code``, ``created_on``, ``delivered_on``; the last try's code
    and error) and revlink's ``latency_ms`` (the last try's), ``next_attempt_on`` (while
    pending), ``payload`` (the body sent) and ``attempt_history``."""

    public_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    response_code: int | None
    created_on: datetime
    delivered_on: datetime | None
    latency_ms: int | None
    next_attempt_on: datetime | None
    payload: dict[str, object]
    attempt_history: list[WebhookAttemptOut]

    @classmethod
    def of(cls, found: DeliveryWithAttempts) -> WebhookDeliveryOut:
        row = found.delivery
        pending = row.status == DeliveryStatus.PENDING.value
        return cls(
            public_id=row.public_id,
            event_type=row.event_type,
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            last_error=row.last_error,
            response_code=row.response_code,
            created_on=row.created_on,
            delivered_on=row.delivered_on,
            latency_ms=row.latency_ms,
            next_attempt_on=row.next_attempt_at if pending else None,
            payload=row.payload,
            attempt_history=[WebhookAttemptOut.of(a) for a in found.attempts],
        )


class WebhookDeliveryPage(BaseModel):
    page: int
    page_size: int
    total: int
    data: list[WebhookDeliveryOut]


class StatusOut(BaseModel):
    status: Literal["success"] = "success"
    message: str


class WebhookStatus(StatusOut):
    webhook: WebhookOut


class WebhookDeliveryQueued(StatusOut):
    delivery: WebhookDeliveryOut


PageSize = Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)]


@router.get("/events")
async def list_events(admin: AdminUser) -> list[str]:
    """revlink's: every event a webhook may subscribe to."""
    return event_names()


@router.get("")
async def list_webhooks(
    admin: AdminUser, session: DbSession, page: PageNumber = 1, page_size: PageSize = 25
) -> WebhookPage:
    """Oldest first."""
    found, total = await service.list_webhooks(session, page=page, page_size=page_size)
    return WebhookPage(
        page=page, page_size=page_size, total=total, data=[WebhookOut.of(h) for h in found]
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_webhook(
    body: WebhookCreate, admin: AdminUser, state: State, session: DbSession
) -> WebhookStatus:
    """422 for a URL whose host is a literal address that is not public (unless
    ``REVLINK_WEBHOOK_ALLOWED_NETWORKS`` lists it); 409 when the URL has a webhook already
    (WebMACS's) or there are ``MAX_WEBHOOKS``."""
    hook = await service.create_webhook(
        session,
        url=body.url,
        secret=body.secret,
        events=body.events,
        enabled=body.enabled,
        user_public_id=admin.public_id,
        allowed=parse_networks(state.settings.webhook_allowed_networks),
        now=datetime.now(UTC),
    )
    return WebhookStatus(message="Webhook successfully created.", webhook=WebhookOut.of(hook))


@router.get("/{public_id}")
async def get_webhook(public_id: uuid.UUID, admin: AdminUser, session: DbSession) -> WebhookOut:
    return WebhookOut.of(await service.get_webhook(session, public_id))


@router.put("/{public_id}")
async def update_webhook(
    public_id: uuid.UUID, body: WebhookUpdate, admin: AdminUser, state: State, session: DbSession
) -> WebhookStatus:
    """Change the fields given; ``"secret": null`` clears the secret."""
    changes = WebhookChanges(
        url=body.url,
        secret=body.secret,
        secret_set="secret" in body.model_fields_set,
        events=body.events,
        enabled=body.enabled,
    )
    hook = await service.update_webhook(
        session, public_id, changes, parse_networks(state.settings.webhook_allowed_networks)
    )
    return WebhookStatus(message="Webhook successfully updated.", webhook=WebhookOut.of(hook))


@router.delete("/{public_id}")
async def delete_webhook(public_id: uuid.UUID, admin: AdminUser, session: DbSession) -> StatusOut:
    """Delete it and its delivery log; deliveries still pending are not sent."""
    await service.delete_webhook(session, public_id)
    return StatusOut(message="Webhook successfully deleted.")


@router.get("/{public_id}/deliveries")
async def list_deliveries(
    public_id: uuid.UUID,
    admin: AdminUser,
    session: DbSession,
    page: PageNumber = 1,
    page_size: PageSize = 25,
    status_filter: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> WebhookDeliveryPage:
    """Newest first, each with every try so far."""
    found, total = await service.list_deliveries(
        session, public_id, status=status_filter, page=page, page_size=page_size
    )
    return WebhookDeliveryPage(
        page=page,
        page_size=page_size,
        total=total,
        data=[WebhookDeliveryOut.of(d) for d in found],
    )


@router.get("/{public_id}/deliveries/{delivery_id}")
async def get_delivery(
    public_id: uuid.UUID, delivery_id: uuid.UUID, admin: AdminUser, session: DbSession
) -> WebhookDeliveryOut:
    return WebhookDeliveryOut.of(await service.get_delivery(session, public_id, delivery_id))


@router.post("/{public_id}/deliveries/{delivery_id}/redeliver", status_code=201)
async def redeliver(
    public_id: uuid.UUID, delivery_id: uuid.UUID, admin: AdminUser, session: DbSession
) -> WebhookDeliveryQueued:
    """Queue a dead-lettered or failed delivery again, as a new delivery with the same body
    (409 for one pending or delivered, or while the webhook is disabled)."""
    again = await service.redeliver(session, public_id, delivery_id, datetime.now(UTC))
    return WebhookDeliveryQueued(
        message="Delivery queued again.", delivery=WebhookDeliveryOut.of(again)
    )
