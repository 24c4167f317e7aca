"""pydoover 0.x's UI decorators: a method declares the interaction it answers.

``@ui.action("reset", "Reset")`` on ``def reset(self, new_value)`` marks the method; the
manager (``register_interactions``, or when the method is passed to ``set_ui_elements``)
or a ``Submodule`` subclass turns it into an ``Action`` whose callback is the method.
``@ui.callback(pattern)`` marks a method ``(element, new_value)`` called for every command
whose name matches; the pattern gets the app key prefixed unless ``global_interaction``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from apps.sdk.ui.interaction import Action, HiddenValue, Slider, StateCommand, WarningIndicator
from apps.sdk.ui.misc import Colour, Option
from apps.sdk.ui.parameter import (
    BooleanParameter,
    DateTimeParameter,
    NumericParameter,
    TextParameter,
)

__all__ = [
    "action",
    "boolean_parameter",
    "callback",
    "datetime_parameter",
    "hidden_value",
    "numeric_parameter",
    "slider",
    "state_command",
    "text_parameter",
    "warning_indicator",
]

F = TypeVar("F", bound=Callable[..., Any])


def _declares(ui_type: type, **kwargs: Any) -> Callable[[F], F]:
    """Mark a method with the element class and arguments it declares (pydoover's
    ``_ui_type``/``_ui_kwargs`` attributes, which 0.x code may read)."""

    def decorator(func: F) -> F:
        vars(func).update(_ui_type=ui_type, _ui_kwargs=kwargs)
        return func

    return decorator


def action(
    name: str,
    display_name: str | None = None,
    colour: str = Colour.blue,
    requires_confirm: bool = True,
    **kwargs: Any,
) -> Callable[[F], F]:
    """A button; the method is called with the value a press sends."""
    return _declares(
        Action,
        name=name,
        display_name=display_name,
        colour=colour,
        requires_confirm=requires_confirm,
        **kwargs,
    )


def warning_indicator(
    name: str, display_name: str | None = None, can_cancel: bool = True, **kwargs: Any
) -> Callable[[F], F]:
    """A warning; the method is called when it is dismissed."""
    return _declares(
        WarningIndicator, name=name, display_name=display_name, can_cancel=can_cancel, **kwargs
    )


def state_command(
    name: str,
    display_name: str | None = None,
    user_options: list[Option] | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """A dropdown of ``user_options``; the method is called with the chosen option's name."""
    return _declares(
        StateCommand, name=name, display_name=display_name, user_options=user_options, **kwargs
    )


def hidden_value(name: str, **kwargs: Any) -> Callable[[F], F]:
    """A value kept in ``ui_cmds`` and not shown; the method is called when it changes."""
    return _declares(HiddenValue, name=name, **kwargs)


def slider(
    name: str,
    display_name: str | None = None,
    min_val: float = 0,
    max_val: float = 100,
    step_size: float = 0.1,
    dual_slider: bool = True,
    inverted: bool = True,
    icon: str | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """A slider; the method is called with each value a person sets."""
    return _declares(
        Slider,
        name=name,
        display_name=display_name,
        min_val=min_val,
        max_val=max_val,
        step_size=step_size,
        dual_slider=dual_slider,
        inverted=inverted,
        icon=icon,
        **kwargs,
    )


def numeric_parameter(
    name: str,
    display_name: str | None = None,
    min_val: float | None = None,
    max_val: float | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """A number input; the method is called with each number entered."""
    return _declares(
        NumericParameter,
        name=name,
        display_name=display_name,
        min_val=min_val,
        max_val=max_val,
        **kwargs,
    )


def text_parameter(
    name: str, display_name: str | None = None, is_text_area: bool = False, **kwargs: Any
) -> Callable[[F], F]:
    """A text input; the method is called with each text entered."""
    return _declares(
        TextParameter, name=name, display_name=display_name, is_text_area=is_text_area, **kwargs
    )


def boolean_parameter(
    name: str, display_name: str | None = None, **kwargs: Any
) -> Callable[[F], F]:
    """Declares a ``BooleanParameter``, which the dashboard lacks (refused when built)."""
    return _declares(BooleanParameter, name=name, display_name=display_name, **kwargs)


def datetime_parameter(
    name: str, display_name: str | None = None, include_time: bool = False, **kwargs: Any
) -> Callable[[F], F]:
    """A date (and time) picker; the method is called with each value picked."""
    return _declares(
        DateTimeParameter,
        name=name,
        display_name=display_name,
        include_time=include_time,
        **kwargs,
    )


def callback(pattern: str | re.Pattern[str], global_interaction: bool = False) -> Callable[[F], F]:
    """Call the method ``(element, new_value)`` for every changed command matching
    ``pattern`` (a name or a regular expression, matched from the start). The app key is
    prefixed to it, as interaction names are, unless ``global_interaction`` (a command
    that belongs to no app, such as the camera's ``camera_get_now``)."""

    def decorator(func: F) -> F:
        vars(func).update(
            _is_ui_callback=True,
            _is_ui_global_interaction=global_interaction,
            _ui_callback_pattern=pattern,
        )
        return func

    return decorator
