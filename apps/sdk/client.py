"""One gRPC client base for every bridge: the only place that touches a channel.

Each bridge gets one persistent channel, created lazily on the SDK loop, with keepalive
(so a half-open connection is noticed) and a fast reconnect backoff. Every call has a
deadline. UNAVAILABLE (the bridge is restarting) is retried with full-jitter backoff until
the retry window closes, and so is CANCELLED for calls safe to repeat (a bridge stopping
cancels what it was serving); every other failure becomes a typed :class:`BridgeError`.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc

from apps.sdk.errors import BridgeUnavailableError, from_rpc_error
from apps.sdk.runtime import await_or_block, maybe_async, sdk_loop

__all__ = ["BridgeClient", "channel_options"]

log = structlog.get_logger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
_REFUSED_FOR_GOOD = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT})


def channel_options() -> list[tuple[str, int]]:
    return [
        # Bridges allow pings every 5 s; 10 s finds a dead peer without being a nuisance.
        ("grpc.keepalive_time_ms", 10_000),
        ("grpc.keepalive_timeout_ms", 5_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # gRPC's default reconnect backoff grows to 2 minutes; a restarted bridge is back
        # in seconds and its apps should be too.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2_000),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]


def _reason(exc: Exception) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc)[:200]


def normalise_target(uri: str) -> str:
    """pydoover URIs look like ``localhost:50051``; also accept ``grpc://`` and ``unix:``."""
    return uri.removeprefix("grpc://").removeprefix("http://")


class BridgeClient:
    """Base of the bridge interfaces; ``name`` says which bridge, for error messages."""

    name = "bridge"
    stub_class: Any = None
    # Calls that are safe to repeat (reads, absolute writes, Publish with its idempotency
    # key). Besides UNAVAILABLE these are also retried after CANCELLED, which is what a
    # bridge shutting down gracefully answers the calls it was serving.
    idempotent_methods: frozenset[str] = frozenset()
    default_uri = ""

    def __init__(
        self,
        uri: str,
        *,
        app_key: str = "",
        is_async: bool | None = None,
        token: str | None = None,
        timeout: float = 7.0,
        retry_for: float = 10.0,
    ) -> None:
        """``uri`` empty means the bridge's default (pydoover builds interfaces with "").

        ``is_async`` is how the plain-name methods answer (see :func:`maybe_async`): None
        decides per call (awaitable where an event loop runs), False always blocks, as for
        an app whose hooks are plain functions.
        """
        uri = uri or self.default_uri
        self.uri = uri
        self._is_async = is_async
        self.target = normalise_target(uri)
        self.app_key = app_key
        self.token = token if token is not None else os.environ.get("REVLINK_BRIDGE_TOKEN")
        self.timeout = timeout
        self.retry_for = retry_for
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None
        self._followers: list[asyncio.Task[None]] = []

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        pairs = [("x-revlink-app", self.app_key)] if self.app_key else []
        if self.token:
            pairs.append(("authorization", f"Bearer {self.token}"))
        return tuple(pairs)

    def _ensure(self) -> Any:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.target, options=channel_options())
            self._stub = self.stub_class(self._channel)
        return self._stub

    async def _call(self, method: str, request: Any, *, timeout: float | None = None) -> Any:
        """Call ``method`` on the bridge (from any loop), retrying while it is unavailable."""
        return await sdk_loop.run_async(self._call_here(method, request, timeout))

    async def _call_here(self, method: str, request: Any, timeout: float | None) -> Any:
        stub = self._ensure()
        deadline = time.monotonic() + self.retry_for
        attempt = 0
        while True:
            try:
                return await getattr(stub, method)(
                    request, timeout=timeout or self.timeout, metadata=self.metadata
                )
            except grpc.aio.AioRpcError as exc:
                error = from_rpc_error(self.name, exc)
                # UNAVAILABLE with a reason is the bridge's own answer (a Modbus bus that is
                # down), not a bridge restarting: it goes to the caller at once.
                restarting = isinstance(error, BridgeUnavailableError) and not error.reason
                retryable = restarting or (
                    exc.code() == grpc.StatusCode.CANCELLED and method in self.idempotent_methods
                )
                if not retryable or time.monotonic() > deadline:
                    raise error from None
            attempt += 1
            await asyncio.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))

    def stream(self, method: str, request: Any) -> Any:
        """Open a server stream on the SDK loop (callers iterate it there)."""
        return getattr(self._ensure(), method)(request, metadata=self.metadata)

    def _follow(
        self, method: str, make_request: Callable[[], Any], handle: Callable[[Any], None]
    ) -> asyncio.Task[None]:
        """Keep a server stream open for good: ``handle`` each reply on the SDK loop.

        When the stream ends (the bridge restarted, the network blinked) it is opened again
        with a fresh ``make_request()``, after a backoff that resets once replies flow.
        """

        async def follow() -> None:
            delay = 0.1
            while True:
                try:
                    async for reply in self.stream(method, make_request()):
                        delay = 0.1
                        handle(reply)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a restarting bridge ends the stream: open it again
                    reason = _reason(exc)
                    if isinstance(exc, grpc.aio.AioRpcError) and exc.code() in _REFUSED_FOR_GOOD:
                        # Reopening cannot help (no such channel or instance): say so, stop.
                        log.error(
                            "sdk.stream_refused", bridge=self.name, method=method, reason=reason
                        )
                        return
                    log.info(
                        "sdk.stream_reconnect",
                        bridge=self.name,
                        method=method,
                        reason=reason,
                        delay_s=delay,
                    )
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)

        async def start() -> asyncio.Task[None]:
            return asyncio.ensure_future(follow())

        task = sdk_loop.submit(start()).result()
        self._followers.append(task)
        return task

    def _unfollow(self, task: asyncio.Task[None]) -> None:
        """Close a stream opened by :meth:`_follow` for good."""
        sdk_loop.loop.call_soon_threadsafe(task.cancel)
        if task in self._followers:
            self._followers.remove(task)

    async def health_async(self, service: str = "") -> bool:
        """True when the bridge answers SERVING (no retries: a probe, not a call)."""

        async def probe() -> bool:
            self._ensure()
            assert self._channel is not None
            stub = health_pb2_grpc.HealthStub(self._channel)
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
            except grpc.aio.AioRpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        return await sdk_loop.run_async(probe())

    health = maybe_async(health_async)

    async def wait_until_healthy_async(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.health_async():
                return True
            await asyncio.sleep(0.2)
        return False

    wait_until_healthy = maybe_async(wait_until_healthy_async)

    async def close_async(self) -> None:
        async def close() -> None:
            for task in self._followers:
                task.cancel()
            self._followers.clear()
            if self._channel is not None:
                await self._channel.close()
                self._channel = None

        await sdk_loop.run_async(close())

    def close(self) -> None:
        """Twin of :meth:`close_async` (a subclass's override included): awaitable in async
        code, blocking elsewhere."""
        return await_or_block(self.close_async(), self._is_async)
