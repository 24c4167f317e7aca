"""pydoover 0.x's containers: ``Container`` (children by name), ``Submodule`` (a collapsible
group), ``Application`` (an app's whole UI; the manager holds one named after the app key)
and ``RemoteComponent``.

A container's ``to_dict()`` nests its children under ``children`` by name, and its diff
recurses, so a changed reading publishes only that child's changed keys. Names must match
``NAME_VALIDATOR`` (letters, digits, ``_`` and ``-``): they are keys of the channel and, for
interactions, of ``ui_cmds``.
"""

from __future__ import annotations

import builtins
import inspect
import re
from typing import Any, TypeVar

from apps.sdk.ui.element import Element

__all__ = ["NAME_VALIDATOR", "Application", "Container", "RemoteComponent", "Submodule"]

NAME_VALIDATOR = re.compile(r"^[a-zA-Z0-9_-]+$")
ElementT = TypeVar("ElementT", bound=Element)


def decorated_methods(obj: object, marker: str) -> list[tuple[str, Any]]:
    """``(name, bound method)`` of ``obj``'s methods carrying ``marker`` (set by the
    ``ui`` decorators), found on the class so that no property is evaluated."""
    found = []
    for name in dir(type(obj)):
        if hasattr(getattr(type(obj), name, None), marker):
            member = getattr(obj, name, None)
            if inspect.ismethod(member):
                found.append((name, member))
    return found


def interaction_from(method: Any) -> Any:
    """The element a decorated method declares, with the method as its callback."""
    item = method._ui_type(**method._ui_kwargs)
    item.callback = method
    return item


class Container(Element):
    """Children by name. A subclass's decorated methods become its interactions, and
    (``auto_add_elements``) every element attribute becomes a child, as in pydoover."""

    type = "uiContainer"

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        children: list[Element] | None = None,
        status_icon: str | None = None,
        auto_add_elements: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        self._default_position = 101
        self._max_position = self._default_position
        self._children: dict[str, Element] = {}
        self.add_children(*(children or []))
        self.status_icon = status_icon
        for attribute, method in decorated_methods(self, "_ui_type"):
            setattr(self, attribute, interaction_from(method))
        if auto_add_elements:
            members = inspect.getmembers(self, lambda m: isinstance(m, Element))
            self.add_children(*(m for n, m in members if n != "parent"))

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        if self.status_icon is not None:
            result["statusIcon"] = self.status_icon
        result["children"] = {name: c.to_dict() for name, c in self._children.items()}
        return result

    def get_diff(
        self,
        other: dict[str, Any],
        remove: bool = True,
        retain_fields: list[str] | None = None,
    ) -> dict[str, Any] | None:
        result = super().get_diff(other, remove=remove, retain_fields=retain_fields) or {}
        result.pop("children", None)  # replaced by the children's own diffs
        theirs = other.get("children")
        theirs = theirs if isinstance(theirs, dict) else {}
        children: dict[str, Any] = {}
        if remove:
            children.update({k: None for k in theirs if k not in self._children})
        for name, child in self._children.items():
            if isinstance(theirs.get(name), dict):
                diff = child.get_diff(theirs[name], remove=remove, retain_fields=retain_fields)
                if diff is not None:
                    children[name] = diff
            else:
                children[name] = child.to_dict()
        if children:
            result["children"] = children
        return result or None

    @property
    def children(self) -> list[Element]:
        return list(self._children.values())

    def set_children(self, children: list[Element]) -> None:
        """Replace the children (numbering them afresh). Prefer ``hidden=True`` to taking
        an element away: the dashboard keeps its place."""
        self._children.clear()
        self._max_position = self._default_position
        self.add_children(*children)

    def add_children(self, *children: Any) -> Container:
        """Add elements (anything else is skipped, as in pydoover); one without a
        position is placed after the others. A name the channel cannot key by is refused
        with RuntimeError."""
        for child in children:
            if not isinstance(child, Element):
                continue
            name = child.name.strip()
            if not NAME_VALIDATOR.match(name):
                raise RuntimeError(
                    f"Invalid name '{name}' for element '{child}'. Valid characters include "
                    "letters, numbers, and underscores."
                )
            self._children[name] = child
            child.parent = self
            if not child.position:
                child.position = self._max_position
                self._max_position += 1
        return self

    def remove_children(self, *children: Element) -> None:
        """Take elements away, here and in every nested container."""
        for child in children:
            # By identity too: an interaction is keyed by the name it was added with, and
            # the manager prefixes its name afterwards.
            for key in [k for k, c in self._children.items() if c is child or k == child.name]:
                del self._children[key]
        for child in self._children.values():
            if isinstance(child, Container):
                child.remove_children(*children)

    def clear_children(self) -> None:
        self._children.clear()

    def get_all_elements(self, type_filter: builtins.type[ElementT] | None = None) -> list[Element]:
        """Every element below this container (containers themselves left out)."""
        elements: list[Element] = []
        for element in self._children.values():
            if isinstance(element, Container):
                elements.extend(element.get_all_elements(type_filter))
            elif type_filter is None or isinstance(element, type_filter):
                elements.append(element)
        return elements

    def get_element(self, element_name: str) -> Element | None:
        """The child of that name here or in a nested container, depth first."""
        if element_name in self._children:
            return self._children[element_name]
        for element in self._children.values():
            if isinstance(element, Container):
                found = element.get_element(element_name)
                if found is not None:
                    return found
        return None


class Submodule(Container):
    """A collapsible group with a status line (``status``)."""

    type = "uiSubmodule"

    def __init__(
        self,
        name: str,
        display_name: str | None,
        children: list[Element] | None = None,
        status: str | None = None,
        is_collapsed: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, children, **kwargs)
        self.status = status or kwargs.get("status_string")  # 0.x's older names
        self.collapsed = is_collapsed or bool(kwargs.get("collapsed", False))

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        if self.status is not None:
            result["statusString"] = self.status
        result["defaultOpen"] = not self.collapsed
        return result


class Application(Container):
    """An app's whole UI, the ``ui_state`` entry under its app key; ``variant`` is
    ``stacked`` or ``submodule`` (see ``ApplicationVariant``)."""

    type = "uiApplication"

    def __init__(self, *args: Any, variant: str | None = None, **kwargs: Any) -> None:
        self.variant = variant
        super().__init__(*args, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        if self.variant is not None:
            result["variant"] = self.variant
        return result


class RemoteComponent(Container):
    """A component the dashboard loads from ``component_url``; the extra keyword arguments
    are published as they are (its own settings)."""

    type = "uiRemoteComponent"

    def __init__(
        self, name: str, display_name: str | None, component_url: str, **kwargs: Any
    ) -> None:
        super().__init__(name, display_name, component_url=component_url)
        self.kwargs = kwargs

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result.update(self.kwargs)
        return result
