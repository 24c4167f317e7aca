"""Shared-token authentication for bridge calls."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeAlias

import grpc
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

__all__ = ["OPEN_SERVICES", "BearerTokenInterceptor"]

# Orchestrators probe health and tools browse reflection without credentials, so both stay
# open; they reveal nothing a caller could not learn from the published protos.
OPEN_SERVICES: frozenset[str] = frozenset(
    {health.SERVICE_NAME, reflection.SERVICE_NAME, "grpc.reflection.v1.ServerReflection"}
)

_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls that lack ``authorization: Bearer <token>`` with UNAUTHENTICATED."""

    def __init__(self, token: str, open_services: Iterable[str] = OPEN_SERVICES) -> None:
        if not token:
            raise ValueError("the bridge token must not be empty")
        self._expected = f"Bearer {token}".encode()
        self._open_services = frozenset(open_services)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        service = handler_call_details.method.lstrip("/").split("/", 1)[0]
        if service in self._open_services or self._authorized(handler_call_details):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        return _refusing_handler(handler)

    def _authorized(self, details: grpc.HandlerCallDetails) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                given = value if isinstance(value, bytes) else value.encode()
                return hmac.compare_digest(given, self._expected)
        return False


def _refusing_handler(handler: _Handler | None) -> _Handler:
    """A handler of the same shape as ``handler`` that aborts with UNAUTHENTICATED."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(
            grpc.StatusCode.UNAUTHENTICATED,
            "missing or wrong bridge token (metadata 'authorization: Bearer <token>')",
        )

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await refuse(request, context)
        yield  # pragma: no cover - makes this an async generator; abort raises first

    deserializer = handler.request_deserializer if handler else None
    serializer = handler.response_serializer if handler else None
    if handler is not None and handler.response_streaming:
        if handler.request_streaming:
            return grpc.stream_stream_rpc_method_handler(refuse_stream, deserializer, serializer)
        return grpc.unary_stream_rpc_method_handler(refuse_stream, deserializer, serializer)
    if handler is not None and handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse, deserializer, serializer)
    return grpc.unary_unary_rpc_method_handler(refuse, deserializer, serializer)
