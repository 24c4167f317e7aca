"""The config element types: one class per JSON type, each validating and exporting itself.

Split from :mod:`apps.sdk.config` (which holds ``Schema`` and ``Object``, and documents the
rules); import everything from there. Each element exports pydoover's JSON Schema keys
(``x-name``, ``x-hidden``, ``x-required``, ``x-position``, ``x-advanced``, ``format``) beside
the standard ones, so that the Doover form shows a revlink schema as it shows pydoover's.
"""

from __future__ import annotations

import copy
import enum
import json
import math
import operator
import re
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar, Unpack, cast

from apps.sdk.config_base import (
    ConfigError,
    NotSet,
    Variable,
    _Common,
    _is_number,
    _same,
    _show,
    _snake,
)

__all__ = [
    "Array",
    "Boolean",
    "ConfigElement",
    "ConfigError",
    "Enum",
    "Integer",
    "NotSet",
    "Number",
    "String",
]

T = TypeVar("T")
_KEY = re.compile(r"[A-Za-z0-9_-]+")  # the payload keys that the device agent accepts
_INVALID: Any = object()  # returned by a check that has recorded a problem
_BOUNDS = (  # (attribute, JSON Schema keyword, test that fails a value, message)
    ("minimum", "minimum", operator.lt, "is below the minimum"),
    ("maximum", "maximum", operator.gt, "is above the maximum"),
    ("exclusive_minimum", "exclusiveMinimum", operator.le, "is not above the exclusive minimum"),
    ("exclusive_maximum", "exclusiveMaximum", operator.ge, "is not below the exclusive maximum"),
)
_Choices = Sequence[Any] | type[enum.Enum]


def _is_multiple(value: float, step: float) -> bool:
    """Test ints exactly. Test floats with a tolerance, so that 0.3 is a multiple of 0.1."""
    if isinstance(value, int) and isinstance(step, int):
        return value % step == 0
    return math.isclose(value / step, round(value / step), rel_tol=1e-9, abs_tol=1e-9)


class ConfigElement(Generic[T]):
    """One setting. Used bare, it accepts any JSON value (for an Array of untyped items).

    ``_check`` records problems and returns the typed value (or ``_INVALID``) without changing
    state, and ``_assign`` stores a value that passed. The split makes a load all-or-nothing.
    """

    _json_type: str | None = None
    _types: ClassVar[tuple[type, ...]] = ()  # Python types of an accepted value; () for any
    _expected: ClassVar[str] = ""
    _limits: ClassVar[tuple[tuple[str, str], ...]] = ()  # (attribute, JSON Schema keyword)

    def __init__(self, display_name: str, **kwargs: Unpack[_Common]) -> None:
        self.display_name = display_name
        self.default: Any = kwargs.get("default", NotSet)
        self.description = kwargs.get("description") or ""
        self.hidden = kwargs.get("hidden", False)
        self.deprecated = kwargs.get("deprecated")
        self.format = kwargs.get("format")
        self.position = kwargs.get("position")
        self.advanced = kwargs.get("advanced")
        self.show_if = kwargs.get("show_if")
        self._required = kwargs.get("required")
        self._name: str | None = None
        self._value: Any = NotSet
        if (name := kwargs.get("name")) is not None:
            self._bind(name)

    @property
    def name(self) -> str:
        """Return the JSON key: ``name=``, or else the display name in snake case (pydoover)."""
        return self._name or _snake(self.display_name)

    @property
    def required(self) -> bool:
        """Whether the key must be present. ``required=None`` means "when there is no default"."""
        return self.default is NotSet if self._required is None else self._required

    @property
    def value(self) -> T:
        """Return the loaded value. Before a load, return the default, or raise ``ConfigError``."""
        found: list[str] = []
        value = self._absent(self.name, found) if self._value is NotSet else self._value
        if found:
            raise ConfigError(found)
        return cast(T, value)

    @value.setter
    def value(self, data: object) -> None:
        """Set a value by hand (for tests, and as in pydoover). It is validated like a load."""
        found: list[str] = []
        value = self._check(data, self.name, found)
        if found:
            raise ConfigError(found)
        self._assign(value)

    def to_json_schema(self) -> dict[str, Any]:
        """Return this element as a JSON Schema (2020-12) property, keys in pydoover's order.

        The type admits ``null`` when the key is optional, because null means "use the default".
        """
        out: dict[str, Any] = {"title": self.display_name, "x-name": self.name}
        out["x-hidden"] = self.hidden
        if self.format is not None:
            out["format"] = self.format
        if self._json_type is not None:
            out["type"] = self._json_type if self.required else [self._json_type, "null"]
        out["x-required"] = self.required
        if self.description:
            out["description"] = self.description
        if isinstance(self.default, Variable):
            out["default"] = str(self.default)
        elif self.default is not NotSet:
            out["default"] = self.default
        optional = (("x-position", self.position), ("deprecated", self.deprecated))
        out |= {key: flag for key, flag in optional if flag is not None}
        if self.advanced is not None:
            out["x-advanced"] = self.advanced
        limits = ((key, getattr(self, attr)) for attr, key in self._limits)
        return out | {key: limit for key, limit in limits if limit is not None}

    to_dict = to_json_schema  # pydoover's name

    def _bind(self, key: str) -> None:
        if not _KEY.fullmatch(key):
            raise ValueError(f"config key {key!r} may only use letters, digits, '_' and '-'")
        if self._name is None:
            self._name = key

    def _check_default(self, path: str) -> None:
        """Run when the element is declared, so that a bad default shows before any deployment."""
        if self.default is NotSet or self.default is None or isinstance(self.default, Variable):
            return  # nothing to check (a Variable is filled in by the cloud)
        found: list[str] = []
        self._check(self.default, f"{path} default", found)
        if found:
            raise ConfigError(found)

    def _absent(self, path: str, found: list[str]) -> Any:
        if self.required:
            found.append(f"{path}: required")
            return _INVALID
        return self._fallback(path, found)

    def _fallback(self, path: str, found: list[str]) -> Any:
        """Return the value of an absent optional key, or of one whose ``show_if`` is false."""
        if self.default is NotSet or self.default is None:
            return None
        if isinstance(self.default, Variable):
            return self.default
        return self._check(self.default, path, found)

    def _check(self, data: Any, path: str, found: list[str]) -> Any:
        if (expected := self._type_error(data)) is not None:
            found.append(f"{path}: expected {expected}, got {_show(data)}")
            return _INVALID
        problems = self._problems(data, path)
        found += problems
        return _INVALID if problems else data

    def _type_error(self, data: object) -> str | None:
        """Return what was expected when ``data`` has the wrong type (bools only where listed)."""
        if not self._types:
            return None
        if isinstance(data, bool) and bool not in self._types:
            return self._expected
        if not isinstance(data, self._types):
            return self._expected
        return "a finite number" if isinstance(data, float) and not math.isfinite(data) else None

    def _problems(self, data: Any, path: str) -> list[str]:
        """Check a value of the right type against this element's constraints."""
        return []

    def _assign(self, value: Any) -> None:
        self._value = value


class _Numeric(ConfigElement[T]):
    """The bounds shared by Integer and Number, with pydoover's keyword names."""

    _limits = (*((attr, key) for attr, key, *_ in _BOUNDS), ("multiple_of", "multipleOf"))

    def __init__(
        self,
        display_name: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: float | None = None,
        exclusive_maximum: float | None = None,
        multiple_of: float | None = None,
        **kwargs: Unpack[_Common],
    ) -> None:
        super().__init__(display_name, **kwargs)
        self.minimum, self.maximum, self.multiple_of = minimum, maximum, multiple_of
        self.exclusive_minimum, self.exclusive_maximum = exclusive_minimum, exclusive_maximum

    def _problems(self, data: Any, path: str) -> list[str]:
        out = [
            f"{path}: {data} {text} {bound}"
            for attr, _, fails, text in _BOUNDS
            if (bound := getattr(self, attr)) is not None and fails(data, bound)
        ]
        if self.multiple_of is not None and not _is_multiple(data, self.multiple_of):
            out.append(f"{path}: {data} is not a multiple of {self.multiple_of}")
        return out


class Integer(_Numeric[int]):
    """A whole number. Only ints pass: ``3.0`` and ``True`` are refused, as JSON has exact ints."""

    _json_type, _types, _expected = "integer", (int,), "an integer"


class Number(_Numeric[float]):
    """A finite int or float (bools are refused). The value is always a float."""

    _json_type, _types, _expected = "number", (int, float), "a number"

    def _check(self, data: Any, path: str, found: list[str]) -> Any:
        value = super()._check(data, path, found)
        return value if value is _INVALID else float(value)


class Boolean(ConfigElement[bool]):
    """``true`` or ``false`` only. Neither ``1`` nor ``"true"`` passes."""

    _json_type, _types, _expected = "boolean", (bool,), "a boolean"


class String(ConfigElement[str]):
    """Text. ``length`` is pydoover's ``max_length`` (both keys are exported). ``pattern`` is
    searched, not anchored."""

    _json_type, _types, _expected = "string", (str,), "a string"
    _limits = (("max_length", "maxLength"), ("max_length", "length"), ("pattern", "pattern"))

    def __init__(
        self,
        display_name: str,
        *,
        length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        **kwargs: Unpack[_Common],
    ) -> None:
        super().__init__(display_name, **kwargs)
        self.max_length = max_length if max_length is not None else length
        self.pattern = pattern
        self._regex = re.compile(pattern) if pattern is not None else None

    def _problems(self, data: Any, path: str) -> list[str]:
        out = []
        if self.max_length is not None and len(data) > self.max_length:
            out.append(f"{path}: {_show(data)} is longer than {self.max_length} characters")
        if self._regex is not None and not self._regex.search(data):
            out.append(f"{path}: {_show(data)} does not match the pattern {self.pattern!r}")
        return out


class Enum(ConfigElement[Any]):
    """One of ``choices``, which is a list of JSON values or an ``enum.Enum`` class.

    For an enum class, the JSON choices are the members' values, with ``str()`` applied to any
    value that is not a JSON scalar (as in pydoover). The default may be a member.
    """

    def __init__(self, display_name: str, *, choices: _Choices, **kwargs: Unpack[_Common]) -> None:
        self._pairs: list[tuple[Any, enum.Enum | None]] = [(c, None) for c in choices]
        if isinstance(choices, type):
            scalar = str | int | float
            self._pairs = [
                (m.value if isinstance(m.value, scalar) else str(m.value), m) for m in choices
            ]
            if isinstance(default := kwargs.get("default"), enum.Enum):
                kwargs["default"] = next((c for c, m in self._pairs if m is default), default)
        super().__init__(display_name, **kwargs)
        self.choices: list[Any] = [c for c, _ in self._pairs]
        if not self.choices:
            raise ValueError(f"Enum {display_name!r} needs at least one choice")
        if all(isinstance(c, str) for c in self.choices):
            self._json_type = "string"
        elif all(_is_number(c) for c in self.choices):
            self._json_type = (
                "integer" if all(isinstance(c, int) for c in self.choices) else "number"
            )

    @property
    def member(self) -> enum.Enum | None:
        """Return the enum member for the current value (None when ``choices`` is a list)."""
        current = self.value
        return next((m for _, m in self._pairs if m is not None and m.value is current), None)

    def _check(self, data: Any, path: str, found: list[str]) -> Any:
        for choice, member in self._pairs:
            if _same(choice, data):
                return choice if member is None else member.value
            if member is not None and data == str(member.value):  # pydoover sends str(value)
                return member.value
        found.append(f"{path}: {_show(data)} is not one of {self.choices!r}")
        return _INVALID

    def to_json_schema(self) -> dict[str, Any]:
        return {"enum": list(self.choices)} | super().to_json_schema()


class Array(ConfigElement[list[Any]]):
    """A list whose every item is checked against ``element``, which may be any element."""

    _json_type, _types, _expected = "array", (list, tuple), "a list"
    _limits = (
        ("min_items", "minItems"),
        ("max_items", "maxItems"),
        ("unique_items", "uniqueItems"),
    )

    def __init__(
        self,
        display_name: str,
        *,
        element: ConfigElement[Any] | None = None,
        min_items: int | None = None,
        max_items: int | None = None,
        unique_items: bool | None = None,
        **kwargs: Unpack[_Common],
    ) -> None:
        if not isinstance(element, ConfigElement | None):
            raise TypeError(f"Array {display_name!r}: element must be a ConfigElement")
        super().__init__(display_name, **kwargs)
        self.element = element if element is not None else ConfigElement[Any]("Item")
        self.element._check_default(f"{display_name} item")
        self.min_items, self.max_items, self.unique_items = min_items, max_items, unique_items

    @property
    def elements(self) -> list[ConfigElement[Any]]:
        """pydoover's view: one copy of ``element`` per item, with that item as its ``.value``."""
        out = [copy.deepcopy(self.element) for _ in self.value or []]
        for element, item in zip(out, self.value or [], strict=True):
            element._assign(item)
        return out

    def _check(self, data: Any, path: str, found: list[str]) -> Any:
        if super()._check(data, path, found) is _INVALID:
            return _INVALID
        before = len(found)
        items = [self.element._check(item, f"{path}[{i}]", found) for i, item in enumerate(data)]
        if self.unique_items and len(found) == before:
            keys = [json.dumps(item, sort_keys=True, default=repr) for item in items]
            if len(set(keys)) != len(keys):
                found.append(f"{path}: items are not unique")
        return items if len(found) == before else _INVALID

    def _problems(self, data: Any, path: str) -> list[str]:
        n, out = len(data), []
        if self.min_items is not None and n < self.min_items:
            out.append(f"{path}: has {n} items, fewer than the minimum {self.min_items}")
        if self.max_items is not None and n > self.max_items:
            out.append(f"{path}: has {n} items, more than the maximum {self.max_items}")
        return out

    def to_json_schema(self) -> dict[str, Any]:
        return super().to_json_schema() | {"items": self.element.to_json_schema()}
