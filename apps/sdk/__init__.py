"""The Application SDK: what a device app subclasses and calls (pydoover-style).

A pydoover 0.x app runs after changing its imports to these names.
"""

from apps.sdk.agent import AgentStatus, DeviceAgentInterface
from apps.sdk.app import AppFailedError, Application
from apps.sdk.config import (
    Array,
    Boolean,
    ConfigElement,
    ConfigError,
    Enum,
    Integer,
    Number,
    Object,
    Schema,
    String,
)
from apps.sdk.errors import (
    BridgeError,
    BridgeUnavailableError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    UnauthenticatedError,
)
from apps.sdk.modbus import ManyModbusConfig, ModbusConfig, ModbusInterface
from apps.sdk.platform import IOInfo, PlatformInterface, SystemStatus
from apps.sdk.plugins import ChannelInfo, InstanceInfo, PluginInfo, PluginsInterface, WriteResult
from apps.sdk.pulses import PulseCounter, PulseReading
from apps.sdk.runner import run_app

__all__ = [
    "AgentStatus",
    "AppFailedError",
    "Application",
    "Array",
    "Boolean",
    "BridgeError",
    "BridgeUnavailableError",
    "ChannelInfo",
    "ConfigElement",
    "ConfigError",
    "DeviceAgentInterface",
    "Enum",
    "FailedPreconditionError",
    "IOInfo",
    "InstanceInfo",
    "Integer",
    "InvalidArgumentError",
    "ManyModbusConfig",
    "ModbusConfig",
    "ModbusInterface",
    "NotFoundError",
    "Number",
    "Object",
    "PlatformInterface",
    "PluginInfo",
    "PluginsInterface",
    "PulseCounter",
    "PulseReading",
    "ResourceExhaustedError",
    "Schema",
    "String",
    "SystemStatus",
    "UnauthenticatedError",
    "WriteResult",
    "run_app",
]
