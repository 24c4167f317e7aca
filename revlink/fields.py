"""Field declarations: the units and display names a device gives its channels' fields.

A channel's aggregate patch may carry the reserved member ``$fields``, mapping a field path
(what follows ``<channel>.`` in a sensor key, e.g. ``temperature`` or ``setpoints.low``) to
``{"unit": ..., "name": ...}``; either may be left out, and ``null`` removes a declaration,
as in any merge patch. The aggregate keeps the declarations like any other member, so a
sensor registered later still finds its own. ``$fields`` is never a time series.

Pure functions shared by the device agent (which refuses a bad declaration at ``Publish``,
:func:`check_fields`) and the cloud (which applies the good entries of what it receives and
skips the rest, :func:`field_declarations`, so that nothing already queued is refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from revlink.channels import InvalidPayloadError

__all__ = [
    "FIELDS_KEY",
    "MAX_FIELD_NAME",
    "MAX_FIELD_PATH",
    "MAX_FIELD_UNIT",
    "FieldMeta",
    "check_fields",
    "field_declarations",
]

FIELDS_KEY = "$fields"
MAX_FIELD_PATH = 300
MAX_FIELD_NAME = 300
MAX_FIELD_UNIT = 32
_MEMBERS = frozenset({"unit", "name"})


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """What a device declares for one field; None is "not declared", not "empty"."""

    unit: str | None = None
    name: str | None = None

    def as_json(self) -> dict[str, str]:
        return {k: v for k, v in (("unit", self.unit), ("name", self.name)) if v is not None}


def _entry(path: object, value: object) -> FieldMeta | None:
    """One declaration, None for a removal (``null``); InvalidPayloadError says what is wrong."""
    where = f"{FIELDS_KEY}.{path}"
    if not isinstance(path, str) or not 0 < len(path) <= MAX_FIELD_PATH:
        raise InvalidPayloadError(
            f"{FIELDS_KEY} keys must be field paths of 1-{MAX_FIELD_PATH} characters"
        )
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidPayloadError(f'{where} must be an object like {{"unit": "degC", "name": …}}')
    unknown = set(value) - _MEMBERS
    if unknown:
        raise InvalidPayloadError(
            f"{where} has unknown members {sorted(unknown)}; a field declares unit and name"
        )
    unit, name = value.get("unit"), value.get("name")
    if unit is not None and (not isinstance(unit, str) or len(unit) > MAX_FIELD_UNIT):
        raise InvalidPayloadError(
            f"{where}.unit must be a string of at most {MAX_FIELD_UNIT} characters"
        )
    if name is not None and (
        not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_FIELD_NAME
    ):
        raise InvalidPayloadError(f"{where}.name must be a string of 1-{MAX_FIELD_NAME} characters")
    return FieldMeta(unit, name.strip() if name is not None else None)


def check_fields(patch: Mapping[str, Any] | None) -> None:
    """Refuse an aggregate patch whose ``$fields`` member is malformed (no-op without one)."""
    if patch is None or FIELDS_KEY not in patch:
        return
    declared = patch[FIELDS_KEY]
    if declared is None:  # the patch removes every declaration
        return
    if not isinstance(declared, Mapping):
        raise InvalidPayloadError(f"{FIELDS_KEY} must be an object of field declarations")
    for path, value in declared.items():
        _entry(path, value)


def field_declarations(declared: object) -> tuple[dict[str, FieldMeta], list[str]]:
    """The well-formed declarations in a ``$fields`` value, and a problem for each other one.

    Removals (``null``) are left out: in a merged aggregate there are none.
    """
    if declared is None:
        return {}, []
    if not isinstance(declared, Mapping):
        return {}, [f"{FIELDS_KEY} must be an object of field declarations"]
    found: dict[str, FieldMeta] = {}
    problems: list[str] = []
    for path, value in declared.items():
        try:
            entry = _entry(path, value)
        except InvalidPayloadError as exc:
            problems.append(str(exc))
            continue
        if entry is not None:
            found[path] = entry
    return found, problems
