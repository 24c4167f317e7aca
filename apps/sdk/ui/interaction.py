"""pydoover 0.x's interactions: the elements a person acts on (buttons, sliders, state
commands, warnings), each with a value kept in the ``ui_cmds`` channel.

The value the app holds is ``current_value``. A person's input arrives through the manager,
which calls ``_handle_new_value_async`` (``transform_check``, then the value, then
``callback(new_value)``). ``coerce(value)`` is the app setting the value itself: it is
published to ``ui_cmds`` on the next push, and the callback runs when the channel echoes
it, as pydoover documents ("the callback will be invoked once the site has set the value").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apps.sdk.runtime import call_hook
from apps.sdk.ui.element import Element, log
from apps.sdk.ui.misc import Colour, NotSet, Option

if TYPE_CHECKING:
    from apps.sdk.ui.registry import UIRegistry

__all__ = [
    "Action",
    "HiddenValue",
    "Interaction",
    "Slider",
    "SlimCommand",
    "StateCommand",
    "WarningIndicator",
]


def _no_callback(new_value: Any) -> None:
    """The callback of an interaction nobody gave one."""


class Interaction(Element):
    """Base of the interactions. ``default`` stands in while no value was set (and for a
    ``None`` a person sends); ``callback`` and ``transform_check`` may be given here or,
    for the decorators, are the decorated method."""

    type = "uiInteraction"

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        current_value: Any = NotSet,
        default: Any = None,
        callback: Callable[..., Any] | None = None,
        transform_check: Callable[[Any], Any] | None = None,
        show_activity: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        self._current_value = current_value
        if default is None and "default_val" in kwargs:  # 0.x's older name
            default = kwargs["default_val"]
        self._default_value = default
        self._manager: UIRegistry | None = None
        self._callback: Callable[..., Any] = callback or _no_callback
        self._transform_check: Callable[[Any], Any] = transform_check or self._default_transform
        self.show_activity = show_activity

    @property
    def current_value(self) -> Any:
        if self._current_value is NotSet:
            return self._default_value
        return self._current_value

    @current_value.setter
    def current_value(self, new_value: Any) -> None:
        # Datetimes are kept as Unix seconds, the form the dashboard sends and reads.
        if isinstance(new_value, datetime):
            new_value = int(new_value.timestamp())
        self._current_value = new_value

    def _json_safe_current_value(self) -> Any:
        result = self.current_value
        if isinstance(result, datetime):
            return int(result.timestamp())
        if isinstance(result, set | tuple | list):
            return list(result)  # the site treats sets and tuples as lists
        return result

    def __call__(self, *args: Any) -> Any:
        """A decorated method stays callable after it became this element."""
        return self.callback(*args)

    # pydoover apps set both as attributes (``element.callback = self.on_press``), and the
    # decorators make the decorated method the callback; a subclass may define methods.
    @property
    def callback(self) -> Callable[..., Any]:
        """Called with each new value (plain or ``async def``)."""
        return self._callback

    @callback.setter
    def callback(self, function: Callable[..., Any]) -> None:
        self._callback = function

    @property
    def transform_check(self) -> Callable[[Any], Any]:
        """Turns a new value into the one kept, before the callback."""
        return self._transform_check

    @transform_check.setter
    def transform_check(self, function: Callable[[Any], Any]) -> None:
        self._transform_check = function

    def _default_transform(self, new_value: Any) -> Any:
        """pydoover's: a ``None`` becomes the default value."""
        if new_value is None and self._default_value is not None:
            return self._default_value
        return new_value

    def _is_new_value(self, new_value: Any) -> bool:
        return bool(new_value != self.current_value)

    async def _handle_new_value_async(self, new_value: Any) -> None:
        """A new value from ``ui_cmds``: checked, kept, then the callback (plain ones run in a
        worker thread). A ``transform_check`` that raises drops the value, as in pydoover."""
        try:
            new_value = self.transform_check(new_value)
        except Exception:
            log.exception("ui.transform_check_failed", interaction=self.name)
            return
        self.current_value = new_value
        await call_hook(self.callback, new_value)

    def coerce(self, value: Any, critical: bool = False) -> None:
        """Set the value from the app: published to ``ui_cmds`` with the next push (at once,
        and kept as a message, when ``critical``)."""
        if critical and self._manager is not None and value != self.current_value:
            self._manager._has_critical_interaction_pending = True
        if self._manager is not None and self._current_value != value:
            # Only values this app changed are published, so it never overwrites another
            # app's commands with stale copies.
            self._manager._changed_interactions.add(self.name)
        self.current_value = value

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        if self._current_value is not NotSet:
            result["currentValue"] = self._json_safe_current_value()
        if self.show_activity is not None:
            result["showActivity"] = self.show_activity
        return result


class Action(Interaction):
    """A button; a press sends ``True`` (with a confirmation first unless
    ``requires_confirm=False``)."""

    type = "uiAction"

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        colour: str = Colour.blue,
        requires_confirm: bool = True,
        disabled: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        self.colour = colour
        self.requires_confirm = requires_confirm
        self.disabled = disabled

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["colour"] = str(self.colour)
        result["requiresConfirm"] = self.requires_confirm
        result["disabled"] = self.disabled
        return result


class WarningIndicator(Interaction):
    """A warning banner; with ``can_cancel`` a person may dismiss it (a new value)."""

    type = "uiWarningIndicator"

    def __init__(self, *args: Any, can_cancel: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.can_cancel = can_cancel

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["can_cancel"] = self.can_cancel  # snake_case in pydoover's wire shape too
        return result


class HiddenValue(Interaction):
    """A value kept in ``ui_cmds`` with nothing shown for it."""

    type = "uiHiddenValue"

    def __init__(self, name: str, **kwargs: Any) -> None:
        kwargs.pop("display_name", None)
        super().__init__(name, display_name=None, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type}


class SlimCommand(Interaction):
    """A bare command: what the manager keeps for a ``ui_cmds`` entry no element of this
    app declares (another app's, or one not added yet)."""

    type = "uiStateCommand"


class StateCommand(SlimCommand):
    """A dropdown: a person picks one of ``user_options`` and its name becomes the value."""

    type = "uiStateCommand"

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        user_options: list[Option | dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        self.user_options: list[Option] = []
        self.add_user_options(*(user_options or []))

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["userOptions"] = {o.name: o.to_dict() for o in self.user_options}
        return result

    def add_user_options(self, *options: Option | dict[str, Any]) -> None:
        for option in options:
            if isinstance(option, Option):
                self.user_options.append(option)
            elif isinstance(option, dict):  # 0.x apps still pass options as dicts
                self.user_options.append(Option.from_dict(option))

    add_user_option = add_user_options


class Slider(Interaction):
    """A slider from ``min_val`` to ``max_val`` in steps of ``step_size``."""

    type = "uiSlider"

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        min_val: float = 0,
        max_val: float = 100,
        step_size: float = 0.1,
        dual_slider: bool = True,
        inverted: bool = True,
        icon: str | None = None,
        colours: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        self.min_val = min_val
        self.max_val = max_val
        self.step_size = step_size
        self.dual_slider = dual_slider
        self.inverted = inverted
        self.icon = icon
        self.colours = colours

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["min"] = self.min_val
        result["max"] = self.max_val
        result["stepSize"] = self.step_size
        result["dualSlider"] = self.dual_slider
        result["isInverted"] = self.inverted
        # Left out rather than None: None would remove the key in a diff.
        if self.icon:
            result["icon"] = self.icon
        if self.colours:
            result["colours"] = self.colours
        return result
