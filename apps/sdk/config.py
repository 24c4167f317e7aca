"""App configuration: declare a ``Schema``, export JSON Schema, validate and load values.

Names follow pydoover's ``config`` so that a pydoover app ports by changing its imports. Where we
differ, we do so on purpose:

* A member's JSON key is its display name in snake case, as in pydoover ("Max Level" →
  ``max_level``), so pydoover configs and deployments keep working; ``name=`` sets it.
* Types are strict. An Integer refuses ``3.0`` and ``True``. A Number refuses bools, NaN and
  infinities, and its value is a float.
* ``Schema.load`` checks everything before it assigns anything. It lists every problem with its
  path, and a bad live update keeps the old values.
* Class-level elements are templates that each instance deep-copies (pydoover #12).

A missing or null key is absent and takes the default. With no default it is a "required"
problem, unless ``required=False``, which gives ``None``. Unknown keys are ignored.
``Object.value`` is a dict, and the children are also attributes (``cfg.pump.level.value``).
``Array.value`` is a list, and ``Array.elements`` holds one loaded copy of ``element`` per
item. ``Enum.value`` is the choice (for an enum member, its ``.value``, as in pydoover), and
``Enum.member`` is the member.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, cast

from apps.sdk.config_elements import (
    _INVALID,
    Array,
    Boolean,
    ConfigElement,
    ConfigError,
    Enum,
    Integer,
    NotSet,
    Number,
    String,
    _Common,
    _members,
    _object_schema,
    _show,
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
    "Object",
    "Schema",
    "String",
]


class _Container:
    """Shared by Schema and Object: an element assigned as an attribute becomes a member."""

    _templates: ClassVar[dict[str, ConfigElement[Any]]] = {}
    _reserved: ClassVar[frozenset[str]] = frozenset()
    _elements: dict[str, ConfigElement[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Collect the class-attribute elements, base classes first, as templates for instances."""
        super().__init_subclass__(**kwargs)
        cls._templates = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, ConfigElement):
                    cls._check_reserved(attr)
                    value._bind(value.name)
                    value._check_default(value.name)
                    cls._templates[attr] = value

    @classmethod
    def _check_reserved(cls, attr: str) -> None:
        if attr in cls._reserved:
            raise ValueError(f"config element name {attr!r} is reserved by {cls.__name__}")

    def __setattr__(self, attr: str, value: object) -> None:
        """Register elements on assignment, as pydoover 0.x's ``self.x = Integer(...)`` needs."""
        if isinstance(value, ConfigElement):
            self._check_reserved(attr)
            members = self.__dict__.setdefault("_elements", {})
            if isinstance(old := self.__dict__.get(attr), ConfigElement):
                members.pop(old.name, None)
            value._bind(value.name)
            if value.name in members:
                raise ValueError(f"duplicate config key {value.name!r}")
            value._check_default(value.name)
            members[value.name] = value
        super().__setattr__(attr, value)

    def _adopt_templates(self) -> None:
        object.__setattr__(self, "_elements", {})
        for attr, template in self._templates.items():
            setattr(self, attr, copy.deepcopy(template))

    def add_elements(self, *elements: ConfigElement[Any]) -> None:
        """pydoover's ``add_elements``: each goes under ``name=`` or its snake-cased title."""
        for element in elements:
            setattr(self, element.name, element)


class Object(_Container, ConfigElement[dict[str, Any]]):
    """A nested group: ``Object("Pump", level=Integer("Level"))``, or a subclass with attributes.

    Its value is a dict of the children's values. It is required only when a child is required
    and it has no default. When absent, it takes its children's defaults.
    """

    _json_type, _types, _expected = "object", (Mapping,), "an object"

    def __init__(self, display_name: str, **kwargs: Any) -> None:
        """``kwargs`` are the children, plus any common option (``default=``, ``name=``...)."""
        common = {key: kwargs.pop(key) for key in _Common.__annotations__ if key in kwargs}
        super().__init__(display_name, **cast(_Common, common))
        self._adopt_templates()
        for attr, child in kwargs.items():
            if not isinstance(child, ConfigElement):
                raise TypeError(f"Object {display_name!r}: {attr} must be a ConfigElement")
            setattr(self, attr, child)

    def __getattr__(self, attr: str) -> ConfigElement[Any]:
        """Reached only for a missing attribute. It lets ``cfg.pump.level.value`` type-check."""
        raise AttributeError(f"Object {self.__dict__.get('display_name')!r} has no {attr!r}")

    @property
    def required(self) -> bool:
        if self._required is not None:
            return self._required
        return self.default is NotSet and any(c.required for c in self._elements.values())

    def _absent(self, path: str, found: list[str]) -> Any:
        if self.default is NotSet and self._required is None:
            return self._check({}, path, found)  # so that each missing child is named
        return super()._absent(path, found)

    def _check(self, data: Any, path: str, found: list[str]) -> Any:
        if super()._check(data, path, found) is _INVALID:
            return _INVALID
        return _members(self._elements, data, f"{path}.", found)

    def _assign(self, value: Any) -> None:
        super()._assign(value)
        for key, child in self._elements.items():
            child._assign(value[key])

    def to_json_schema(self) -> dict[str, Any]:
        return super().to_json_schema() | _object_schema(self._elements)


class Schema(_Container):
    """An app's config: subclass it, with elements as class attributes.

    pydoover 0.x style also works: ``self.x = Integer(...)`` in an ``__init__`` that need not call
    ``super().__init__()``. The class methods build a throwaway instance, so a subclass must be
    constructible without arguments, as pydoover also requires.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        """Copy the templates here, not in ``__init__``, because 0.x subclasses do not chain it."""
        self = super().__new__(cls)
        self._adopt_templates()
        return self

    @classmethod
    def to_json_schema(cls, app_name: str | None = None) -> dict[str, Any]:
        """Return the JSON Schema 2020-12 document; ``title`` is ``app_name`` or the class name."""
        head = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
        return head | {"title": app_name or cls.__name__} | _object_schema(cls()._elements)

    to_schema = to_json_schema  # pydoover 1.x's name
    to_dict = to_json_schema  # pydoover 0.x's name

    @classmethod
    def export(cls, path: str | Path, app_name: str) -> None:
        """Write the schema as pretty JSON with sorted keys (our ``doover_config.json`` schema)."""
        text = json.dumps(cls.to_json_schema(app_name), indent=2, sort_keys=True) + "\n"
        Path(path).write_text(text, encoding="utf-8")

    def load(self, data: Mapping[str, object]) -> None:
        """Validate all of ``data``, then assign. On any problem, raise and keep the old values."""
        if not isinstance(cast(object, data), Mapping):
            raise ConfigError([f"config: expected an object, got {_show(data)}"])
        found: list[str] = []
        values = _members(self._elements, data, "", found)
        if found:
            raise ConfigError(found)
        for key, element in self._elements.items():
            element._assign(values[key])

    def load_file(self, path: str | Path) -> None:
        """Load a JSON file (``CONFIG_FP``). A read error or bad JSON is a ConfigError naming it."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            raise ConfigError([f"{path}: invalid JSON at {where}: {exc.msg}"]) from exc
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise ConfigError([f"{path}: cannot read the config file: {reason}"]) from exc
        self.load(data)

    def values(self) -> dict[str, Any]:
        """Return the typed values as a plain dict keyed by JSON key (defaults where unloaded)."""
        return {key: element.value for key, element in self._elements.items()}


# An element named like a method or an option would shadow it, so refuse such names.
Schema._reserved = frozenset(n for n in dir(Schema) if not n.startswith("_"))
Object._reserved = frozenset(n for n in dir(Object) if not n.startswith("_")) | {
    "display_name",
    *_Common.__annotations__,
}
