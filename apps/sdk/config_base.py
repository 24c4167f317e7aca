"""The foundations of :mod:`apps.sdk.config`: errors, sentinels, conditions and variables."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from apps.sdk.config_elements import ConfigElement

__all__ = ["Condition", "ConfigError", "NotSet", "Variable", "equal"]


class NotSet:
    """Sentinel, spelled as in pydoover: ``default=NotSet`` means "no default"."""


class ConfigError(ValueError):
    """A config was refused. ``problems`` lists every fault, so one redeploy can fix all of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Variable:
    """A default that the cloud fills in: ``Variable("Tank", "Max Level")`` is ``$tank.max_level``.

    It is exported as that text. A config that omits the key gets the Variable itself as the
    value, unchecked, as in pydoover.
    """

    def __init__(self, scope: str, name: str) -> None:
        self.scope, self.name = _snake(scope), _snake(name)

    def __str__(self) -> str:
        return f"${self.scope}.{self.name}"

    def __repr__(self) -> str:
        return f"Variable({self.scope!r}, {self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Variable) and str(other) == str(self)

    def __hash__(self) -> int:
        return hash(str(self))


@dataclass(frozen=True)
class Condition:
    """``show_if=``: the element applies only while the sibling keyed ``element`` is ``value``."""

    element: str
    value: Any

    def holds(self, actual: object) -> bool:
        """Whether a sibling value (``NotSet`` when it has none) meets the condition."""
        return actual is not NotSet and _same(actual, self.value)


def equal(element: ConfigElement[Any] | str, value: object) -> Condition:
    """pydoover's ``config.equal(el, value)``: ``el`` is a sibling element or its JSON key."""
    if isinstance(value, enum.Enum):  # the JSON choice, as Enum exports it
        value = value.value if isinstance(value.value, str | int | float) else str(value.value)
    return Condition(element if isinstance(element, str) else element.name, value)


class _Common(TypedDict, total=False):
    """Keyword arguments that every element takes (pydoover's names)."""

    default: Any
    description: str | None
    required: bool | None
    hidden: bool
    deprecated: bool | None
    name: str | None
    format: str | None
    position: int | None
    advanced: bool | None
    show_if: Condition | None


def _snake(text: str) -> str:
    """Return pydoover's key for a display name: "Max Level" is ``max_level``."""
    return text.strip().lower().replace(" ", "_")


def _show(value: object) -> str:
    """Return a short repr, so that one huge bad value cannot flood a problem list."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: object, b: object) -> bool:
    """Compare as JSON does: ``true`` is not ``1`` (Python says it is), but ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b if _is_number(a) and _is_number(b) else type(a) is type(b) and a == b
