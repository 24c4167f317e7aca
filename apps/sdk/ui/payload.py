"""What the UI manager publishes, made legal for a revlink channel.

The agent stores strict JSON objects only (no NaN or Infinity), so a reading that went
NaN must not stop every later push: such a number is published as ``null``, which in the
aggregate's merge patch removes the value (the dashboard shows none). Datetimes become Unix
seconds, tuples and sets lists, enums their value.
"""

from __future__ import annotations

import enum
import math
from datetime import datetime
from typing import Any

__all__ = [
    "UI_CHANNELS",
    "UI_CMDS",
    "UI_OBSERVERS",
    "UI_STATE",
    "find_object_with_key",
    "json_safe",
    "wrap_ui_state",
]

UI_STATE = "ui_state"
UI_CMDS = "ui_cmds"
# pydoover reads ``ui_state@wss_connections``; '@' is not legal in a revlink channel name.
UI_OBSERVERS = "ui_observers"
UI_CHANNELS = frozenset({UI_STATE, UI_CMDS})


def json_safe(value: Any) -> Any:
    """``value`` with only what strict JSON carries (see the module docstring)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    return value


def wrap_ui_state(app_key: str, data: dict[str, Any] | None, clear: bool = False) -> dict[str, Any]:
    """An app's part of the ``ui_state`` aggregate as a merge patch (pydoover's
    ``_wrap_ui_state``); ``clear`` publishes ``null``, removing the app's whole UI."""
    if not clear and not data:
        data = {}
    return {"state": {"children": {app_key: data}}}


def find_object_with_key(data: Any, key: str) -> Any:
    """The value under ``key`` anywhere in nested dicts (depth first), else None."""
    if not isinstance(data, dict):
        return None
    if key in data:
        return data[key]
    for value in data.values():
        found = find_object_with_key(value, key)
        if found is not None:
            return found
    return None
