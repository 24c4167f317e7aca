"""Prometheus for every bridge: RPC metrics from a server interceptor, and the /metrics endpoint.

Each bridge builds its own :class:`~prometheus_client.CollectorRegistry` with
:func:`bridge_registry` (never the library's global default), registers its domain
collectors on it, starts the endpoint with :func:`start_metrics_endpoint` and hands the
registry to :func:`bridges.kit.serve`, which then counts and times every call.

RPC metrics (labels ``service``, ``method``; ``code`` is the status code's name, ``OK``,
``NOT_FOUND``...):

- ``revlink_grpc_server_started_total`` calls started; for streams, open = started - handled;
- ``revlink_grpc_server_handled_total`` calls finished, by final status code (a server
  stream counts once, when it ends);
- ``revlink_grpc_server_handling_seconds`` histogram of the time to answer, for calls with a
  single response; a stream's lifetime is not a latency, so streams are counted, not timed.

Calls to methods the server does not have are left out (their names come from clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeAlias
from wsgiref.simple_server import WSGIServer

import grpc
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.process_collector import ProcessCollector
from pydantic import AfterValidator

from bridges.kit.address import ListenAddress, ListenAddressError

__all__ = [
    "RPC_LATENCY_BUCKETS",
    "GrpcServerMetrics",
    "MetricsEndpoint",
    "MetricsInterceptor",
    "MetricsListen",
    "bridge_registry",
    "parse_metrics_listen",
    "start_metrics_endpoint",
]

log = structlog.get_logger(__name__)

# A loopback unary call takes a few hundred microseconds; a slow one (a plugin write, a
# power command) seconds. Beyond 10 s it is stuck, and +Inf says so.
RPC_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


# -- the endpoint ----------------------------------------------------------------------------


def parse_metrics_listen(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` or ``[IPv6]:PORT`` as (host, port); None for empty (disabled)."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("unix:"):
        raise ListenAddressError(
            f"metrics address {text!r}: the Prometheus endpoint needs HOST:PORT, not a unix socket"
        )
    try:
        address = ListenAddress.parse(text)
    except ListenAddressError as exc:
        reason = str(exc).removeprefix(f"listen address {text!r}: ")
        if reason.startswith("expected"):
            reason = "expected HOST:PORT or [IPv6]:PORT"
        raise ListenAddressError(f"metrics address {text!r}: {reason}") from None
    return address.host.removeprefix("[").removesuffix("]"), address.port


def _check_metrics_listen(text: str) -> str:
    parse_metrics_listen(text)
    return text.strip()


MetricsListen = Annotated[str, AfterValidator(_check_metrics_listen)]
"""A settings field type: ``HOST:PORT`` of a Prometheus endpoint, empty to disable it."""


def bridge_registry() -> CollectorRegistry:
    """A fresh registry for one bridge, with the process's CPU, memory and file descriptors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry


@dataclass
class MetricsEndpoint:
    """A running ``/metrics`` HTTP endpoint (a daemon thread serving one registry)."""

    server: WSGIServer
    thread: threading.Thread
    _closed: bool = field(default=False, repr=False)

    @property
    def address(self) -> str:
        """``HOST:PORT`` actually bound (the real port when 0 was asked for)."""
        host, port = self.server.server_address[:2]
        host = str(host)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}/metrics"

    def close(self) -> None:
        """Stop serving and release the port (idempotent; waits for the serving thread)."""
        if self._closed:
            return
        self._closed = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        log.info("metrics.stopped", listen=self.address)


def start_metrics_endpoint(listen: str, registry: CollectorRegistry) -> MetricsEndpoint | None:
    """Serve ``registry`` at ``http://HOST:PORT/metrics``; None when ``listen`` is empty.

    A malformed address raises :class:`ListenAddressError` (the settings validate it first).
    An address that cannot be bound (in use, not local) is logged as an error and the bridge
    runs on without metrics: the endpoint is for watching the bridge, and a taken port must
    not keep the IO, the uplink or the plugins from running. Prometheus shows the target down.
    """
    parsed = parse_metrics_listen(listen)
    if parsed is None:
        log.info("metrics.disabled")
        return None
    host, port = parsed
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.error(
            "metrics.unavailable",
            listen=listen,
            error=f"{type(exc).__name__}: {exc}",
            consequence="the bridge runs without its Prometheus endpoint",
        )
        return None
    endpoint = MetricsEndpoint(server, thread)
    log.info("metrics.started", url=endpoint.url)
    return endpoint


# -- RPC metrics -----------------------------------------------------------------------------


class GrpcServerMetrics:
    """The RPC counters and histogram of one server, registered in the bridge's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("service", "method")
        self.started = Counter(
            "revlink_grpc_server_started",
            "RPCs started on the server",
            labels,
            registry=registry,
        )
        self.handled = Counter(
            "revlink_grpc_server_handled",
            "RPCs completed on the server, by gRPC status code (a stream when it ends)",
            (*labels, "code"),
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "revlink_grpc_server_handling_seconds",
            "Time the server took to answer an RPC with a single response",
            labels,
            buckets=RPC_LATENCY_BUCKETS,
            registry=registry,
        )
        self._methods: dict[str, _MethodMetrics] = {}

    def interceptor(self) -> MetricsInterceptor:
        return MetricsInterceptor(self)

    def method(self, path: str, timed: bool) -> _MethodMetrics:
        """The label children of one method (``/package.Service/Method``), made once."""
        found = self._methods.get(path)
        if found is None:
            service, _, name = path.lstrip("/").partition("/")
            found = _MethodMetrics(
                self,
                service,
                name,
                self.started.labels(service, name),
                self.handling_seconds.labels(service, name) if timed else None,
            )
            self._methods[path] = found
        return found


@dataclass(slots=True)
class _MethodMetrics:
    owner: GrpcServerMetrics
    service: str
    name: str
    started: Any  # the label children: prometheus_client does not export their types
    seconds: Any | None
    handled: dict[grpc.StatusCode, Any] = field(default_factory=dict)

    def finish(self, code: grpc.StatusCode, started_at: float) -> None:
        child = self.handled.get(code)
        if child is None:
            child = self.handled[code] = self.owner.handled.labels(
                self.service, self.name, code.name
            )
        child.inc()
        if self.seconds is not None:
            self.seconds.observe(time.perf_counter() - started_at)


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every call of the server's own methods with its final status, times the unary."""

    def __init__(self, metrics: GrpcServerMetrics) -> None:
        self._metrics = metrics
        # path -> (the handler last seen, its metered twin): a method's handler is the same
        # object on every call, so it is wrapped once (auth refusals are new ones each time
        # and are wrapped each time; the next accepted call puts the servicer's back).
        self._wrapped: dict[str, tuple[_Handler, _Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:  # not a method of this server: grpc answers UNIMPLEMENTED
            return None
        path = handler_call_details.method
        cached = self._wrapped.get(path)
        if cached is not None and cached[0] is handler:
            return cached[1]
        metered = _metered(handler, self._metrics.method(path, not handler.response_streaming))
        self._wrapped[path] = (handler, metered)
        return metered


def _metered(handler: _Handler, method: _MethodMetrics) -> _Handler:
    """A handler of the same shape as ``handler`` whose behaviour reports to ``method``."""
    if handler.request_streaming and handler.response_streaming:
        behavior: Any = handler.stream_stream
        make: Any = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        behavior, make = handler.stream_unary, grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        behavior, make = handler.unary_stream, grpc.unary_stream_rpc_method_handler
    else:
        behavior, make = handler.unary_unary, grpc.unary_unary_rpc_method_handler
    # Same kind of callable as the servicer's: grpc picks how to run it by that kind.
    if inspect.isasyncgenfunction(behavior):
        wrapped: Any = _metered_stream(behavior, method)
    elif inspect.iscoroutinefunction(behavior):  # unary, or a stream written with context.write
        wrapped = _metered_call(behavior, method)
    elif not (inspect.isfunction(behavior) or inspect.ismethod(behavior)):
        return handler  # some other callable: served as it is, not counted
    elif handler.response_streaming:  # synchronous: grpc runs it in its thread pool
        wrapped = _metered_sync_stream(behavior, method)
    else:  # synchronous, e.g. a generated base servicer's "Method not implemented!"
        wrapped = _metered_sync_call(behavior, method)
    result: _Handler = make(wrapped, handler.request_deserializer, handler.response_serializer)
    return result


def _failure_code(context: Any, exc: BaseException) -> grpc.StatusCode:
    """The status a call that raised ``exc`` ends with."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED
        return grpc.StatusCode.CANCELLED
    # context.abort() and set_code() + raise leave the code on the context; anything else
    # escaping a handler is answered UNKNOWN by grpc.
    code: grpc.StatusCode | None = context.code()
    return code or grpc.StatusCode.UNKNOWN


def _metered_call(
    behavior: Callable[[Any, Any], Awaitable[Any]], method: _MethodMetrics
) -> Callable[[Any, Any], Awaitable[Any]]:
    async def call(request: Any, context: Any) -> Any:
        method.started.inc()
        started_at = time.perf_counter()
        try:
            response = await behavior(request, context)
        except BaseException as exc:
            method.finish(_failure_code(context, exc), started_at)
            raise
        code: grpc.StatusCode | None = context.code()
        method.finish(code or grpc.StatusCode.OK, started_at)
        return response

    return call


def _metered_stream(
    behavior: Callable[[Any, Any], AsyncGenerator[Any, None]], method: _MethodMetrics
) -> Callable[[Any, Any], AsyncIterator[Any]]:
    async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
        method.started.inc()
        started_at = time.perf_counter()
        try:
            # aclosing: when grpc drops this generator, the servicer's closes too, at once
            async with contextlib.aclosing(behavior(request, context)) as responses:
                async for response in responses:
                    yield response
        except BaseException as exc:
            method.finish(_failure_code(context, exc), started_at)
            raise
        code: grpc.StatusCode | None = context.code()
        method.finish(code or grpc.StatusCode.OK, started_at)

    return stream


class _SyncContext:
    """The context a synchronous behaviour gets: grpc's, remembering the code it sets.

    grpc's context for synchronous behaviours has no ``code()`` to read it back.
    """

    def __init__(self, context: Any) -> None:
        self._context = context
        self._code: grpc.StatusCode | None = None

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code
        self._context.set_code(code)

    def abort(self, code: grpc.StatusCode, details: str = "") -> Any:
        self._code = code
        return self._context.abort(code, details)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _metered_sync_call(
    behavior: Callable[[Any, Any], Any], method: _MethodMetrics
) -> Callable[[Any, Any], Any]:
    def call(request: Any, grpc_context: Any) -> Any:
        method.started.inc()
        started_at = time.perf_counter()
        context = _SyncContext(grpc_context)
        try:
            response = behavior(request, context)
        except BaseException as exc:
            method.finish(_failure_code(context, exc), started_at)
            raise
        method.finish(context.code() or grpc.StatusCode.OK, started_at)
        return response

    return call


def _metered_sync_stream(
    behavior: Callable[[Any, Any], Iterable[Any]], method: _MethodMetrics
) -> Callable[[Any, Any], Iterator[Any]]:
    def stream(request: Any, grpc_context: Any) -> Iterator[Any]:
        method.started.inc()
        started_at = time.perf_counter()
        context = _SyncContext(grpc_context)
        try:
            yield from behavior(request, context)
        except BaseException as exc:
            method.finish(_failure_code(context, exc), started_at)
            raise
        method.finish(context.code() or grpc.StatusCode.OK, started_at)

    return stream
