"""Named errors of the Modbus core; the gRPC layer maps each to a status code and reason."""

from __future__ import annotations

from typing import ClassVar

from revlink import error_reasons

__all__ = [
    "EXCEPTION_NAMES",
    "RETRYABLE_EXCEPTIONS",
    "BusSettingsConflictError",
    "BusUnavailableError",
    "InvalidRequestError",
    "ModbusBridgeError",
    "ModbusTimeoutError",
    "ServerExistsError",
    "ServerStartError",
    "SlaveExceptionError",
    "UnknownBusError",
    "UnknownServerError",
    "exception_name",
]

# The exception codes of the Modbus application protocol (V1.1b3, section 7).
EXCEPTION_NAMES: dict[int, str] = {
    1: "ILLEGAL_FUNCTION",
    2: "ILLEGAL_DATA_ADDRESS",
    3: "ILLEGAL_DATA_VALUE",
    4: "SLAVE_DEVICE_FAILURE",
    5: "ACKNOWLEDGE",
    6: "SLAVE_DEVICE_BUSY",
    7: "NEGATIVE_ACKNOWLEDGE",
    8: "MEMORY_PARITY_ERROR",
    10: "GATEWAY_PATH_UNAVAILABLE",
    11: "GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND",
}
# The slave (or gateway) will likely manage a retry: it is busy, not refusing.
RETRYABLE_EXCEPTIONS = frozenset({5, 6, 10, 11})


def exception_name(code: int) -> str:
    """``ILLEGAL_DATA_ADDRESS (2)``; unknown codes as ``UNKNOWN_EXCEPTION (n)``."""
    return f"{EXCEPTION_NAMES.get(code, 'UNKNOWN_EXCEPTION')} ({code})"


class ModbusBridgeError(Exception):
    """Base of every error the Modbus core reports to callers."""

    reason: ClassVar[str] = ""  # sent to clients beside the status code


class InvalidRequestError(ModbusBridgeError, ValueError):
    """A request outside Modbus's limits, or a value that does not fit its type."""

    reason = error_reasons.INVALID_VALUE


class UnknownBusError(ModbusBridgeError, LookupError):
    """No bus has that id, and the request carried no settings to open one."""

    reason = error_reasons.UNKNOWN_BUS


class BusSettingsConflictError(ModbusBridgeError):
    """A request carried settings that differ from those of the open bus of that id."""

    reason = error_reasons.BUS_SETTINGS_CONFLICT


class BusUnavailableError(ModbusBridgeError):
    """The bus is not connected (TCP refused, serial port missing); it keeps reconnecting."""

    reason = error_reasons.BUS_UNAVAILABLE


class ModbusTimeoutError(ModbusBridgeError, TimeoutError):
    """The slave gave no (valid) answer within the bus timeout, retries included."""

    reason = error_reasons.MODBUS_TIMEOUT


class SlaveExceptionError(ModbusBridgeError):
    """The slave answered with a Modbus exception; the message names it."""

    reason = error_reasons.MODBUS_EXCEPTION

    def __init__(self, slave_id: int, function_code: int, exception_code: int) -> None:
        self.slave_id = slave_id
        self.function_code = function_code
        self.exception_code = exception_code
        super().__init__(
            f"slave {slave_id} answered function {function_code} with exception "
            f"{exception_name(exception_code)}"
        )

    @property
    def retryable(self) -> bool:
        return self.exception_code in RETRYABLE_EXCEPTIONS


class UnknownServerError(ModbusBridgeError, LookupError):
    """No server has that id."""

    reason = error_reasons.UNKNOWN_SERVER


class ServerExistsError(ModbusBridgeError):
    """A server with that id is already running."""

    reason = error_reasons.SERVER_EXISTS


class ServerStartError(ModbusBridgeError):
    """The server could not start (the port is in use, the serial device is missing)."""

    reason = error_reasons.SERVER_START_FAILED
