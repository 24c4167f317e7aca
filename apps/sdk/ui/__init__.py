"""pydoover 0.x's ``pydoover.ui``: an app's dashboard UI (elements, interactions and the
``UIManager`` that keeps them in the ``ui_state``/``ui_cmds`` channels).

A 0.x app runs with ``from pydoover import ui`` changed to ``from apps.sdk import ui``; the
``Application`` gives it ``self.ui_manager`` and does what 0.x's does around setup and every
loop (see :mod:`apps.sdk.ui_helpers`).
"""

from apps.sdk.ui.camera import CameraHistory, CameraLiveView
from apps.sdk.ui.decorators import (
    action,
    boolean_parameter,
    callback,
    datetime_parameter,
    hidden_value,
    numeric_parameter,
    slider,
    state_command,
    text_parameter,
    warning_indicator,
)
from apps.sdk.ui.element import AlertStream, ConnectionInfo, ConnectionType, Element, Multiplot
from apps.sdk.ui.interaction import (
    Action,
    HiddenValue,
    Interaction,
    Slider,
    SlimCommand,
    StateCommand,
    WarningIndicator,
)
from apps.sdk.ui.manager import UIManager
from apps.sdk.ui.misc import ApplicationVariant, Colour, NotSet, Option, Range, Widget
from apps.sdk.ui.parameter import (
    BooleanParameter,
    DateTimeParameter,
    NumericParameter,
    Parameter,
    TextParameter,
)
from apps.sdk.ui.submodule import Application, Container, RemoteComponent, Submodule
from apps.sdk.ui.variable import (
    BooleanVariable,
    DateTimeVariable,
    NumericVariable,
    TextVariable,
    Timestamp,
    Variable,
)

__all__ = [
    "Action",
    "AlertStream",
    "Application",
    "ApplicationVariant",
    "BooleanParameter",
    "BooleanVariable",
    "CameraHistory",
    "CameraLiveView",
    "Colour",
    "ConnectionInfo",
    "ConnectionType",
    "Container",
    "DateTimeParameter",
    "DateTimeVariable",
    "Element",
    "HiddenValue",
    "Interaction",
    "Multiplot",
    "NotSet",
    "NumericParameter",
    "NumericVariable",
    "Option",
    "Parameter",
    "Range",
    "RemoteComponent",
    "Slider",
    "SlimCommand",
    "StateCommand",
    "Submodule",
    "TextParameter",
    "TextVariable",
    "Timestamp",
    "UIManager",
    "Variable",
    "WarningIndicator",
    "Widget",
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
