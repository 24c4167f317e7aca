"""The part of pydoover 0.x's ``UIManager`` that knows the app's UI: its elements, its
interactions by ``ui_cmds`` name, the ``@ui.callback`` patterns, and what changed.

Interaction names are prefixed with the app key (``<app_key>_<name>``, pydoover's
``_transform_interaction_name``) so that apps sharing the ``ui_cmds`` channel never
collide; ``get_command("speed")`` finds ``<app_key>_speed``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

import structlog

from apps.sdk.ui.element import Element
from apps.sdk.ui.interaction import Interaction
from apps.sdk.ui.misc import ApplicationVariant, NotSet
from apps.sdk.ui.submodule import (
    NAME_VALIDATOR,
    Application,
    Container,
    decorated_methods,
    interaction_from,
)
from apps.sdk.ui.variable import Variable

__all__ = ["UIRegistry"]

log = structlog.get_logger(__name__)

PatternCallback = tuple[re.Pattern[str], Callable[..., Any]]


def _is_decorated(element: Any) -> bool:
    """A method marked by a ``ui`` decorator that is not an element yet."""
    return not isinstance(element, Interaction) and hasattr(element, "_ui_type")


class UIRegistry:
    """Mixed into :class:`~apps.sdk.ui.manager.UIManager`."""

    def __init__(self, app_key: str | None = None) -> None:
        self._base_container = Application(name=app_key or "")
        self._app_key = app_key or ""
        self._interactions: dict[str, Interaction] = {}
        self._command_callbacks: list[PatternCallback] = []
        # Interactions this app changed (coerce) since the last push: only they are sent.
        self._changed_interactions: set[str] = set()
        # A critical change publishes at once and is kept as a message.
        self._has_critical_interaction_pending = False
        self._critical_values: dict[str, Any] = {}
        self._cmds_subscriptions: list[Callable[[], Any]] = []

    @property
    def app_key(self) -> str:
        return self._app_key

    @app_key.setter
    def app_key(self, app_key: str | None) -> None:
        """pydoover's ``run_app`` sets the key after the app was built; the UI's name
        follows it."""
        self._app_key = app_key or ""
        self._base_container.name = self._app_key

    # -- interactions -----------------------------------------------------------------------

    def _transform_interaction_name(self, name: str) -> str:
        if self.app_key in name:
            return name
        return f"{self.app_key}_{name.strip()}"

    def _add_interaction(self, interaction: Interaction) -> None:
        name = self._transform_interaction_name(interaction.name)
        interaction.name = name
        if not NAME_VALIDATOR.match(name):
            raise RuntimeError(
                f"Invalid name '{name}' for interaction '{interaction}'. Valid characters "
                "include letters, numbers, and underscores."
            )
        existing = self._interactions.get(name)
        if existing is not None and existing._current_value is not NotSet:
            interaction.current_value = existing._current_value  # keep what ui_cmds held
        self._interactions[name] = interaction
        interaction._manager = self

    def _remove_interaction(self, interaction_name: str) -> None:
        self._interactions.pop(interaction_name, None)

    @staticmethod
    def _register_interaction(func: Any, parent: object) -> Interaction:
        """The element a decorated method declares; it replaces the method on ``parent``
        (still callable: calling the element calls the method)."""
        item: Interaction = interaction_from(func)
        with contextlib.suppress(AttributeError):  # a function not defined on a class
            setattr(parent, func.__name__, item)
        return item

    def add_interaction(self, interaction: Any) -> None:
        """Add an interaction (or a decorated method) to the top of the app's UI."""
        if _is_decorated(interaction):
            interaction = self._register_interaction(interaction, interaction.__self__)
        self._add_interaction(interaction)
        self._base_container.add_children(interaction)

    add_command = add_interaction

    def register_interactions(self, obj_to_search: object) -> None:
        """Turn ``obj_to_search``'s decorated methods into their elements (they join the UI
        when passed to ``add_children``/``set_children``)."""
        for _, method in decorated_methods(obj_to_search, "_ui_type"):
            self._register_interaction(method, obj_to_search)

    def register_callbacks(self, obj_to_search: object) -> None:
        """Register ``obj_to_search``'s ``@ui.callback`` methods."""
        for _, method in decorated_methods(obj_to_search, "_is_ui_callback"):
            pattern = method._ui_callback_pattern
            is_global = method._is_ui_global_interaction
            if isinstance(pattern, str):
                source = pattern if is_global else self._transform_interaction_name(pattern)
            elif isinstance(pattern, re.Pattern):
                source = pattern.pattern
                if not is_global:
                    source = self._transform_interaction_name(source)
            else:
                raise ValueError(
                    "Invalid pattern type for UI callback. Must be a string or re.Pattern."
                )
            compiled = re.compile(source)
            log.debug("ui.callback_registered", callback=method.__name__, pattern=source)
            self._command_callbacks.append((compiled, method))

    def get_interaction(self, name: str) -> Interaction | None:
        return self._interactions.get(self._transform_interaction_name(name))

    get_command = get_interaction

    def update_interaction(self, name: str, updated: Interaction) -> bool:
        name = self._transform_interaction_name(name)
        if name not in self._interactions:
            return False
        self._interactions[name] = updated
        return True

    def coerce_command(self, command_name: str, value: Any, critical: bool = False) -> None:
        """Set an interaction's value from the app; published to ``ui_cmds`` with the next
        push. An unknown name is logged and ignored, as in pydoover."""
        command = self.get_command(command_name)
        if command is None:
            log.info("ui.coerce_unknown_command", command=command_name)
            return
        command.coerce(value, critical=critical)

    def get_all_interactions(self) -> list[Interaction]:
        return list(self._interactions.values())

    def get_all_interaction_names(self) -> list[str]:
        return list(self._interactions)

    get_available_commands = get_all_interaction_names

    def add_cmds_update_subscription(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` after every ``ui_cmds`` update (pydoover's older hook)."""
        self._cmds_subscriptions.append(callback)

    # -- elements ---------------------------------------------------------------------------

    def get_element(self, element_name: str) -> Element | None:
        return self._base_container.get_element(element_name)

    def update_variable(self, variable_name: str, value: Any, critical: bool = False) -> bool:
        element = self._base_container.get_element(variable_name)
        if not isinstance(element, Variable):
            log.info("ui.update_unknown_variable", variable=variable_name)
            return False
        if critical and element.current_value != value:
            self._has_critical_interaction_pending = True
        element.current_value = value
        return True

    def record_critical_value(self, name: str, value: Any) -> None:
        """pydoover's deprecated call: a changed value makes the next push immediate and
        logged (prefer ``critical=True`` on the call that sets the value)."""
        if self._critical_values.get(name) == value:
            return
        self._critical_values[name] = value
        self._has_critical_interaction_pending = True

    def _maybe_add_interaction_from_elems(self, *elements: Any) -> list[Element]:
        added = []
        for element in elements:
            if _is_decorated(element):  # a decorated method passed as it is
                element = self._register_interaction(element, element.__self__)
            if isinstance(element, Container):
                self._maybe_add_interaction_from_elems(*element.children)
            elif isinstance(element, Interaction):
                self._add_interaction(element)
            added.append(element)
        return added

    def add_children(self, *children: Any) -> None:
        if len(children) == 1 and isinstance(children[0], list):  # 0.x's older form
            children = tuple(children[0])
        self._base_container.add_children(*self._maybe_add_interaction_from_elems(*children))

    def remove_children(self, *children: Any) -> None:
        if len(children) == 1 and isinstance(children[0], list):
            children = tuple(children[0])
        for element in children:
            if not isinstance(element, Element):
                continue
            if element is self._base_container:
                raise RuntimeError("You can't remove the base container!")
            if element.parent is not None:
                element.parent.remove_children(element)
            self._base_container.remove_children(element)
            self._remove_interaction(element.name)

    def set_children(self, children: list[Any]) -> None:
        self._base_container.set_children(self._maybe_add_interaction_from_elems(*children))

    def set_status_icon(self, icon_type: str | None, critical: bool = False) -> None:
        if icon_type == self._base_container.status_icon:
            return
        if critical:
            self._has_critical_interaction_pending = True
        self._base_container.status_icon = icon_type

    def set_display_name(self, name: str, critical: bool = False) -> None:
        if name == self._base_container.display_name:
            return
        if critical:
            self._has_critical_interaction_pending = True
        self._base_container.display_name = name

    def set_variant(self, variant: str) -> None:
        if variant not in (ApplicationVariant.submodule, ApplicationVariant.stacked):
            raise ValueError("Variant must be one of 'stacked', 'submodule'")
        self._base_container.variant = str(variant)

    def set_position(self, position: int) -> None:
        self._base_container.position = position
