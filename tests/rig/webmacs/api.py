"""WebMACS's REST client as its controller's ``services/api_client.py`` behaves, and the
shapes it parses strictly (``schemas.py``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel

API_PREFIX = "/api/v1"
TELEMETRY_PATH = "/ws/controller/telemetry"
STREAM_PATH = "/ws/datapoints/stream"


# ── What the controller parses (controller/src/webmacs_controller/schemas.py) ──────────


class EventType(StrEnum):
    sensor = "sensor"
    actuator = "actuator"
    range = "range"
    cmd_button = "cmd_button"
    cmd_opened = "cmd_opened"
    cmd_closed = "cmd_closed"


class EventSchema(BaseModel):
    """An event as the controller's rule engine needs it; a missing or null bound, or an
    unknown type, is a validation error, and at startup that error ends the controller."""

    public_id: str
    name: str
    min_value: float
    max_value: float
    unit: str
    type: EventType
    user_public_id: str | None = None


class EventListResponse(BaseModel):
    page: int
    page_size: int
    total: int
    data: list[EventSchema]


# ── services/api_client.py ───────────────────────────────────────────────────────────


class ApiClientError(Exception):
    """Every attempt failed (5xx, timeouts, transport errors, 429 to the end)."""


@dataclass(frozen=True)
class HttpCall:
    """One HTTP exchange: ``status`` None when no answer came (timeout, refused)."""

    at: float  # time.monotonic()
    method: str
    path: str
    status: int | None
    seconds: float
    detail: str = ""  # the body of an error answer, or the exception

    @property
    def stale_connection(self) -> bool:
        """The server closed an idle keep-alive connection just as this request went out
        on it (uvicorn's 5 s keep-alive against httpx's 5 s pool expiry): nothing reached
        the server, and the client's retry is the answer."""
        return self.status is None and "Server disconnected without sending" in self.detail


class WebmacsApi:
    """The controller's HTTP client: JWT login, 3 attempts with waits of 1 and 2 s on 5xx,
    timeouts and transport errors, a new login on 401, ``Retry-After`` on 429, any other
    4xx raised at once (``httpx.HTTPStatusError``). ``calls`` records every exchange."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 1.0,
    ) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, follow_redirects=True)
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._credentials: tuple[str, str] | None = None
        self.token: str | None = None
        self.calls: list[HttpCall] = []
        self.logins = 0

    @property
    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def _send(
        self, method: str, path: str, *, headers: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        started = time.monotonic()
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            self.calls.append(
                HttpCall(started, method, path, None, time.monotonic() - started, repr(exc))
            )
            raise
        detail = response.text[:500] if response.status_code >= 400 else ""
        self.calls.append(
            HttpCall(
                started, method, path, response.status_code, time.monotonic() - started, detail
            )
        )
        return response

    async def login(self, email: str, password: str) -> str:
        """``POST /auth/login``: no retry; a refusal raises."""
        self._credentials = (email, password)
        response = await self._send(
            "POST", "/auth/login", headers={}, json={"email": email, "password": password}
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        self.token = token
        self.logins += 1
        return token

    async def _reauthenticate(self) -> None:
        if self._credentials is None:
            raise ApiClientError("Cannot re-authenticate: no credentials stored.")
        await self.login(*self._credentials)

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        last_error: Exception | None = None
        for attempt in range(1, self._max_retries + 1):
            try:
                response = await self._send(method, path, headers=self._headers, **kwargs)
                if response.status_code == 401 and attempt < self._max_retries:
                    await self._reauthenticate()
                    continue
                response.raise_for_status()
                return response.json()
            except httpx.TimeoutException as exc:
                last_error = exc
            except httpx.HTTPStatusError as exc:
                code = exc.response.status_code
                if code == 429:
                    retry_after = exc.response.headers.get("Retry-After")
                    delay = (
                        float(retry_after)
                        if retry_after
                        else self._backoff_base * 2 ** (attempt - 1)
                    )
                    if attempt < self._max_retries:
                        await asyncio.sleep(delay)
                        continue
                    last_error = exc
                elif code < 500:
                    raise
                else:
                    last_error = exc
            except httpx.TransportError as exc:
                last_error = exc
            if attempt < self._max_retries:
                await asyncio.sleep(self._backoff_base * 2 ** (attempt - 1))
        raise ApiClientError(f"Request failed after {self._max_retries} attempts: {last_error}")

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.request("POST", path, json=body)

    async def close(self) -> None:
        await self._client.aclose()
