"""Members of a Schema or Object: checking them together and exporting them, with ``show_if``.

A member with ``show_if=equal(sibling, value)`` applies only while that sibling's value (or, when
the key is absent, its default) equals ``value``. pydoover exports such members in an
``allOf`` branch, ``{"if": {"properties": {sibling: {"const": value}}}, "then": {...}}``, one per
sibling and value, and so does this module. A member that does not apply is not required, its
data is ignored and its value is its default (or None).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from apps.sdk.config_base import Condition
from apps.sdk.config_elements import _INVALID, ConfigElement

_Elements = Mapping[str, ConfigElement[Any]]


def _check_conditions(elements: _Elements) -> None:
    """Refuse a ``show_if`` on a missing, conditional or self sibling (as pydoover does)."""
    for key, element in elements.items():
        if (condition := element.show_if) is None:
            continue
        controller = elements.get(condition.element)
        if controller is None:
            raise ValueError(f"{key}: show_if refers to {condition.element!r}, not a sibling")
        if controller is element:
            raise ValueError(f"{key}: show_if cannot depend on the element itself")
        if controller.show_if is not None:
            raise ValueError(f"{key}: show_if cannot depend on {condition.element!r}, a shown-if")


def _applies(element: ConfigElement[Any], elements: _Elements, data: Mapping[str, Any]) -> bool:
    """Whether the element's ``show_if`` holds for ``data`` (the sibling's default if absent)."""
    if (condition := element.show_if) is None:
        return True
    actual = data.get(condition.element)
    return condition.holds(elements[condition.element].default if actual is None else actual)


def _members(
    elements: _Elements, data: Mapping[str, Any], at: str, found: list[str], closed: bool = False
) -> Any:
    """Check each member. A missing or null key is absent. Unknown keys are skipped unless
    ``closed`` (pydoover's ``additional_elements=False``), when each is a problem."""
    _check_conditions(elements)
    before, out = len(found), {}
    for key, element in elements.items():
        raw, path = data.get(key), f"{at}{key}"
        if not _applies(element, elements, data):
            out[key] = element._fallback(path, found)
        elif raw is None:
            out[key] = element._absent(path, found)
        else:
            out[key] = element._check(raw, path, found)
    if closed:
        found += [f"{at}{key}: unknown key" for key in data if key not in elements]
    return out if len(found) == before else _INVALID


def _properties(members: _Elements, positions: Mapping[str, int]) -> dict[str, Any]:
    """Export members, each with ``x-position`` (its declared one, else its place)."""
    out = {key: element.to_json_schema() for key, element in members.items()}
    for key, schema in out.items():
        schema.setdefault("x-position", positions[key])
    return out


def _object_schema(elements: _Elements, first_position: int = 0) -> dict[str, Any]:
    """Export ``properties``, ``required`` and, for ``show_if`` members, ``allOf``.

    Positions count from 0 at the top and from 1 inside an Object, as pydoover numbers them.
    """
    _check_conditions(elements)
    positions = {key: i + first_position for i, key in enumerate(elements)}
    plain = {key: e for key, e in elements.items() if e.show_if is None}
    branches: dict[tuple[str, str], dict[str, ConfigElement[Any]]] = {}
    for key, element in elements.items():
        if (condition := element.show_if) is not None:
            group = (condition.element, json.dumps(condition.value, sort_keys=True))
            branches.setdefault(group, {})[key] = element
    out: dict[str, Any] = {
        "properties": _properties(plain, positions),
        "required": [key for key, element in plain.items() if element.required],
    }
    all_of = [_branch(elements, members, positions) for members in branches.values()]
    return out | ({"allOf": all_of} if all_of else {})


def _branch(
    elements: _Elements, members: dict[str, ConfigElement[Any]], positions: Mapping[str, int]
) -> dict[str, Any]:
    """Export one ``if``/``then`` pair. ``if`` needs the sibling present when its default does
    not meet the condition, because JSON Schema's ``properties`` passes on an absent key."""
    condition: Condition = next(iter(members.values())).show_if  # type: ignore[assignment]
    test: dict[str, Any] = {"properties": {condition.element: {"const": condition.value}}}
    controller = elements[condition.element]
    if not condition.holds(controller.default):
        test["required"] = [condition.element]
    then: dict[str, Any] = {"properties": _properties(members, positions)}
    if required := [key for key, element in members.items() if element.required]:
        then["required"] = required
    return {"if": test, "then": then}
