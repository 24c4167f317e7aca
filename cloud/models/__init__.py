"""SQLAlchemy models, one module per concept; importing this registers them all."""

from cloud.models.channel import ChannelAggregate, ChannelMessage
from cloud.models.channel_write import AppConfig, ChannelWrite, WriteState
from cloud.models.command import CommandState, DeviceCommand
from cloud.models.datapoint import Datapoint
from cloud.models.device import Device
from cloud.models.experiment import Experiment, ExperimentState
from cloud.models.log_entry import LogEntry, LoggingType, StatusType
from cloud.models.sensor import Sensor
from cloud.models.user import RevokedToken, Role, User

__all__ = [
    "AppConfig",
    "ChannelAggregate",
    "ChannelMessage",
    "ChannelWrite",
    "CommandState",
    "Datapoint",
    "Device",
    "DeviceCommand",
    "Experiment",
    "ExperimentState",
    "LogEntry",
    "LoggingType",
    "RevokedToken",
    "Role",
    "Sensor",
    "StatusType",
    "User",
    "WriteState",
]
