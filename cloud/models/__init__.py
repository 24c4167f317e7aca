"""SQLAlchemy models, one module per concept; importing this registers them all."""

from cloud.models.api_token import ApiToken
from cloud.models.channel import ChannelAggregate, ChannelMessage
from cloud.models.channel_write import AppConfig, ChannelWrite, WriteState
from cloud.models.command import CommandState, DeviceCommand
from cloud.models.dashboard import Dashboard, DashboardWidget, WidgetType
from cloud.models.datapoint import Datapoint
from cloud.models.device import Device
from cloud.models.experiment import Experiment, ExperimentState
from cloud.models.log_entry import LogEntry, LoggingType, StatusType
from cloud.models.login_failure import LoginFailure
from cloud.models.plugin import ChannelDirection, ChannelMapping, PluginInstance
from cloud.models.rollup import DatapointHour, DatapointMinute
from cloud.models.rule import Rule, RuleActionType, RuleInbox, RuleOperator, RuleReadingThrottle
from cloud.models.sensor import EventType, Sensor
from cloud.models.user import RevokedToken, Role, User
from cloud.models.webhook import (
    AttemptOutcome,
    DeliveryStatus,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)

__all__ = [
    "ApiToken",
    "AppConfig",
    "AttemptOutcome",
    "ChannelAggregate",
    "ChannelDirection",
    "ChannelMapping",
    "ChannelMessage",
    "ChannelWrite",
    "CommandState",
    "Dashboard",
    "DashboardWidget",
    "Datapoint",
    "DatapointHour",
    "DatapointMinute",
    "DeliveryStatus",
    "Device",
    "DeviceCommand",
    "EventType",
    "Experiment",
    "ExperimentState",
    "LogEntry",
    "LoggingType",
    "LoginFailure",
    "PluginInstance",
    "RevokedToken",
    "Role",
    "Rule",
    "RuleActionType",
    "RuleInbox",
    "RuleOperator",
    "RuleReadingThrottle",
    "Sensor",
    "StatusType",
    "User",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WidgetType",
    "WriteState",
]
