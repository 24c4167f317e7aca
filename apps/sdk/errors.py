"""Typed errors of bridge calls: an app never gets a silent ``None`` for a failed call."""

from __future__ import annotations

import grpc

from revlink.error_reasons import REASON_KEY

__all__ = [
    "BridgeError",
    "BridgeUnavailableError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "NotFoundError",
    "ResourceExhaustedError",
    "UnauthenticatedError",
    "from_rpc_error",
]


class BridgeError(Exception):
    """A bridge call failed; ``code`` is the gRPC status, ``details`` the bridge's words.

    ``reason`` is the bridge's machine-readable reason (``revlink.error_reasons``, e.g.
    ``UNKNOWN_LEASE``), empty when it sent none.
    """

    def __init__(self, bridge: str, code: grpc.StatusCode, details: str, reason: str = "") -> None:
        super().__init__(f"{bridge}: {code.name}: {details}")
        self.bridge = bridge
        self.code = code
        self.details = details
        self.reason = reason


class BridgeUnavailableError(BridgeError):
    """The bridge did not answer within the retry window (not running, or restarting)."""


class NotFoundError(BridgeError):
    """No such pin, IO name, channel, instance or lease."""


class InvalidArgumentError(BridgeError):
    """A value of the wrong type, outside its range, or a malformed request."""


class FailedPreconditionError(BridgeError):
    """The call is not allowed in this state (writing an input, for example)."""


class ResourceExhaustedError(BridgeError):
    """A limit was hit (queue full, message too large, subscriber too slow)."""


class UnauthenticatedError(BridgeError):
    """The bridge wants ``REVLINK_BRIDGE_TOKEN`` and got none or a wrong one."""


_BY_CODE: dict[grpc.StatusCode, type[BridgeError]] = {
    grpc.StatusCode.UNAVAILABLE: BridgeUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: BridgeUnavailableError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


def from_rpc_error(bridge: str, error: grpc.aio.AioRpcError) -> BridgeError:
    code = error.code()
    reason = next(
        (str(value) for key, value in error.trailing_metadata() or () if key == REASON_KEY), ""
    )
    return _BY_CODE.get(code, BridgeError)(bridge, code, error.details() or "", reason)
