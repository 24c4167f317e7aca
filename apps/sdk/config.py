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
* ``_inject_deployment_config`` (pydoover's name) is ``load``: defaults fill absent keys, and a
  missing required key or a wrong type is a ``ConfigError`` naming it.

``export(path, app_name)`` writes pydoover's ``doover_config.json`` layout: the schema goes to
``{app_name: {"config_schema": ...}}``, and the file's other keys and apps are kept. Elements
take pydoover's options: ``hidden``, ``advanced``, ``position``, ``format``, ``deprecated`` and
``show_if=config.equal(sibling, value)``; these are exported for the Doover form, and
``show_if`` is also honoured by ``load`` (see :mod:`apps.sdk.config_objects`).

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

from apps.sdk.config_base import (
    Condition,
    ConfigError,
    NotSet,
    Variable,
    _Common,
    _show,
    equal,
)
from apps.sdk.config_elements import (
    _INVALID,
    Array,
    Boolean,
    ConfigElement,
    Enum,
    Integer,
    Number,
    String,
)
from apps.sdk.config_formats import (
    Application,
    ApplicationInstall,
    DateTime,
    Device,
    DevicesConfig,
    Group,
    GroupsConfig,
)
from apps.sdk.config_objects import _check_conditions, _members, _object_schema

__all__ = [
    "Application",
    "ApplicationInstall",
    "Array",
    "Boolean",
    "Condition",
    "ConfigElement",
    "ConfigError",
    "DateTime",
    "Device",
    "DevicesConfig",
    "Enum",
    "Group",
    "GroupsConfig",
    "Integer",
    "NotSet",
    "Number",
    "Object",
    "Schema",
    "String",
    "Variable",
    "equal",
]
_OBJECT_OPTIONS = ("additional_elements", "collapsible", "default_collapsed")


def _read_json(path: Path) -> Any:
    """Read a JSON file. A read error or bad JSON is a ConfigError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ConfigError([f"{path}: invalid JSON at {where}: {exc.msg}"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError([f"{path}: cannot read the config file: {reason}"]) from exc


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
        _check_conditions({t.name: t for t in cls._templates.values()})

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

    def add_element(self, element: ConfigElement[Any]) -> None:
        """pydoover 0.x's ``Schema.add_element``."""
        self.add_elements(element)


class Object(_Container, ConfigElement[dict[str, Any]]):
    """A nested group: ``Object("Pump", level=Integer("Level"))``, or a subclass with attributes.

    Its value is a dict of the children's values. It is required only when a child is required
    and it has no default. When absent, it takes its children's defaults. pydoover's
    ``additional_elements=False`` refuses unknown keys; ``collapsible`` and ``default_collapsed``
    only shape the Doover form.
    """

    _json_type, _types, _expected = "object", (Mapping,), "an object"

    def __init__(self, display_name: str, **kwargs: Any) -> None:
        """``kwargs`` are the children, plus any common or Object option (``default=``...)."""
        common = {key: kwargs.pop(key) for key in _Common.__annotations__ if key in kwargs}
        super().__init__(display_name, **cast(_Common, common))
        self.additional_elements: bool | dict[str, Any] = kwargs.pop("additional_elements", True)
        self.collapsible: bool | None = kwargs.pop("collapsible", None)
        self.default_collapsed: bool | None = kwargs.pop("default_collapsed", None)
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

    def _fallback(self, path: str, found: list[str]) -> Any:
        if self.default is not NotSet:
            return super()._fallback(path, found)
        missing: list[str] = []  # not shown, or optional: the children's defaults, if complete
        value = self._check({}, path, missing)
        return None if missing else value

    def _check(self, data: Any, path: str, found: list[str]) -> Any:
        if super()._check(data, path, found) is _INVALID:
            return _INVALID
        closed = self.additional_elements is False
        return _members(self._elements, data, f"{path}.", found, closed)

    def _assign(self, value: Any) -> None:
        super()._assign(value)
        for key, child in self._elements.items():
            child._assign(value[key])

    def to_json_schema(self) -> dict[str, Any]:
        out = super().to_json_schema() | _object_schema(self._elements, first_position=1)
        out["additionalElements"] = out["additionalProperties"] = self.additional_elements
        if self.collapsible is not None:
            out["x-collapsible"] = self.collapsible
        if self.default_collapsed is not None:
            out["x-defaultCollapsed"] = self.default_collapsed
        return out


class Schema(_Container):
    """An app's config: subclass it, with elements as class attributes.

    pydoover 0.x style also works: ``self.x = Integer(...)`` in an ``__init__`` that need not call
    ``super().__init__()``. The class methods build a throwaway instance, so a subclass must be
    constructible without arguments, as pydoover also requires. ``class C(Schema, name="T")``
    sets the exported title, as in pydoover.
    """

    _title: ClassVar[str | None] = None

    def __init_subclass__(cls, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._title = name if name is not None else cls._title

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        """Copy the templates here, not in ``__init__``, because 0.x subclasses do not chain it."""
        self = super().__new__(cls)
        self._adopt_templates()
        return self

    @classmethod
    def to_json_schema(cls, app_name: str | None = None) -> dict[str, Any]:
        """Return the JSON Schema 2020-12 document in pydoover's layout.

        ``title`` is ``app_name``, else the subclass's ``name=``, else the class name.
        """
        out: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": ""}
        out |= {"title": app_name or cls._title or cls.__name__, "type": "object"}
        out |= _object_schema(cls()._elements)
        out["additionalElements"] = out["additionalProperties"] = True  # the cloud adds keys
        return out

    to_schema = to_json_schema  # pydoover 1.x's name
    to_dict = to_json_schema  # pydoover 0.x's name

    @classmethod
    def export(cls, path: str | Path, app_name: str) -> None:
        """Put the schema at ``[app_name]["config_schema"]`` of ``doover_config.json``.

        The file is created if missing; its other keys and apps are kept, as in pydoover. A file
        that is not a JSON object (or whose ``app_name`` entry is not one) is a ConfigError.
        """
        path = Path(path)
        data: Any = _read_json(path) if path.exists() else {}
        if not isinstance(data, dict):
            raise ConfigError([f"{path}: expected a JSON object, got {_show(data)}"])
        section = data.setdefault(app_name, {})
        if not isinstance(section, dict):
            raise ConfigError([f"{path}: {app_name}: expected an object, got {_show(section)}"])
        section["config_schema"] = cls.to_json_schema(app_name)
        path.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")

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

    def _inject_deployment_config(self, config: Mapping[str, object]) -> None:
        """pydoover's name for ``load``, which its apps' tests call."""
        self.load(config)

    def load_file(self, path: str | Path) -> None:
        """Load a JSON file (``CONFIG_FP``). A read error or bad JSON is a ConfigError naming it."""
        self.load(_read_json(Path(path)))

    def values(self) -> dict[str, Any]:
        """Return the typed values as a plain dict keyed by JSON key (defaults where unloaded)."""
        return {key: element.value for key, element in self._elements.items()}


# An element named like a method or an option would shadow it, so refuse such names.
Schema._reserved = frozenset(n for n in dir(Schema) if not n.startswith("_"))
Object._reserved = frozenset(n for n in dir(Object) if not n.startswith("_")) | {
    "display_name",
    *_Common.__annotations__,
    *_OBJECT_OPTIONS,
}
