"""Typed channel values of the plugin host's wire format, both ways; pure functions.

The plugin host and the SDK's plugin interface share these so a value means the same on
both sides: bool stays bool (checked before int, since bool is an int in Python), ints
stay exact, floats are doubles.
"""

from __future__ import annotations

from revlink.plugins.v1 import plugins_pb2 as pb

__all__ = ["ChannelScalar", "from_channel_value", "to_channel_value"]

ChannelScalar = float | int | bool | str


def to_channel_value(value: ChannelScalar) -> pb.ChannelValue:
    if isinstance(value, bool):
        return pb.ChannelValue(bool_value=value)
    if isinstance(value, int):
        return pb.ChannelValue(int_value=value)
    if isinstance(value, float):
        return pb.ChannelValue(double_value=value)
    if isinstance(value, str):
        return pb.ChannelValue(string_value=value)
    raise TypeError(f"{type(value).__name__} is not a channel value (bool, int, float, str)")


def from_channel_value(message: pb.ChannelValue) -> ChannelScalar:
    kind = message.WhichOneof("kind")
    if kind is None:
        raise ValueError("value is not set")
    value: ChannelScalar = getattr(message, kind)
    return value
