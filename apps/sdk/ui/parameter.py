"""pydoover 0.x's parameters: inputs a person fills in (a number, a text, a date).

Their values live in ``ui_cmds`` like any interaction's; the element in ``ui_state`` carries
the input's limits and form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apps.sdk.ui.element import epoch_seconds
from apps.sdk.ui.interaction import Interaction
from apps.sdk.ui.misc import NotSet

__all__ = [
    "BooleanParameter",
    "DateTimeParameter",
    "NumericParameter",
    "Parameter",
    "TextParameter",
]


class Parameter(Interaction):
    """Base of the parameters."""


class NumericParameter(Parameter):
    """A number input, optionally bounded by ``min_val``/``max_val``."""

    type = "uiFloatParam"

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        min_val: float | None = None,
        max_val: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        # ``float_min``/``float_max`` are 0.x's older names. (pydoover wrote ``min_val or``,
        # which lost a bound of 0.)
        self.min = min_val if min_val is not None else kwargs.get("float_min")
        self.max = max_val if max_val is not None else kwargs.get("float_max")

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        if self.min is not None:
            result["min"] = self.min
        if self.max is not None:
            result["max"] = self.max
        return result


class TextParameter(Parameter):
    """A text input, one line or (``is_text_area``) a text area."""

    type = "uiTextParam"

    def __init__(
        self, name: str, display_name: str | None = None, is_text_area: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        self.is_text_area = is_text_area

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["isTextArea"] = self.is_text_area
        return result


class BooleanParameter(Parameter):
    """Refused, as in pydoover 0.x: the dashboard has no boolean input (use a
    ``StateCommand`` with two options)."""

    type = "uiBoolParam"

    def __init__(self, name: str, display_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, display_name, **kwargs)
        raise NotImplementedError("boolean parameter not implemented in doover site.")


class DateTimeParameter(Parameter):
    """A date (``include_time``: and time) picker. The value travels as Unix seconds;
    ``current_value`` reads it as a naive UTC datetime, as pydoover does."""

    type = "uiDatetimeParam"

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        include_time: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        self.include_time = include_time

    @property
    def current_value(self) -> datetime | None:
        value = self._current_value
        if isinstance(value, datetime):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
        return None

    @current_value.setter
    def current_value(self, new_value: Any) -> None:
        if isinstance(new_value, datetime):
            new_value = int(new_value.timestamp())
        self._current_value = new_value

    def _json_safe_current_value(self) -> Any:
        """The Unix seconds as kept (pydoover re-read its naive UTC datetime as local
        time here, shifting the value by the device's UTC offset)."""
        return None if self._current_value is NotSet else epoch_seconds(self._current_value)

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["includeTime"] = self.include_time
        return result
