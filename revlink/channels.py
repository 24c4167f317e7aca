"""Channel rules both the device agent and the cloud apply; pure functions, no I/O.

The agent refuses at Publish what the cloud would refuse at ingest, so an app learns about
a bad record from its own call instead of from an error frame it never sees.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "CHANNEL_PATTERN",
    "InvalidPayloadError",
    "check_channel",
    "merge_diff",
    "merge_patch",
    "parse_json_object",
]

CHANNEL_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class InvalidPayloadError(ValueError):
    """A channel name or JSON payload that cannot be stored; the message says why."""


def check_channel(name: str) -> str:
    if not CHANNEL_PATTERN.match(name):
        raise InvalidPayloadError(f"channel {name!r} must be 1-128 characters of [A-Za-z0-9_.-]")
    return name


def _refuse_constant(name: str) -> Any:
    raise InvalidPayloadError(f"{name} is not a number JSON allows")


# One decoder for every payload: ``json.loads`` with an option builds a new one per call.
_STRICT = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """Parse strict JSON (no NaN/Infinity) that must be an object."""
    try:
        value = _STRICT.decode(text)
    except InvalidPayloadError as exc:
        raise InvalidPayloadError(f"{what}: {exc}") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise InvalidPayloadError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidPayloadError(f"{what} must be a JSON object, not {type(value).__name__}")
    if "\\u0000" in text.lower() and _holds_nul(value):
        # PostgreSQL's jsonb cannot hold it: such a record could never be stored.
        raise InvalidPayloadError(f"{what} holds a NUL character (\\u0000), which cannot be kept")
    return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: nulls delete, objects merge, everything else replaces."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = merge_patch(current if isinstance(current, dict) else {}, value)
        else:
            result[key] = value
    return result


def merge_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The merge patch that turns ``old`` into ``new`` (``merge_patch(old, diff) == new``),
    provided ``new`` holds no nulls: a null in a merge patch means "delete"."""
    diff: dict[str, Any] = {key: None for key in old.keys() - new.keys()}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = merge_diff(before, value)
            if nested:
                diff[key] = nested
        elif key not in old or before != value or type(before) is not type(value):
            diff[key] = value
    return diff
