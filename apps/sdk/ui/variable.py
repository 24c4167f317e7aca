"""pydoover 0.x's variables: read-only values the app shows (a level, a state, a time).

The app sets ``current_value`` (or ``update(value)``); the next push publishes it to
``ui_state`` if it changed. ``precision`` rounds what is shown; ``ranges`` colour the scale.
A variable created without a value takes the one ``ui_state`` kept, so a restarted app
shows its last value until it sets a new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.sdk.ui.element import Element, epoch_seconds
from apps.sdk.ui.misc import NotSet, Range

__all__ = [
    "BooleanVariable",
    "DateTimeVariable",
    "NumericVariable",
    "TextVariable",
    "Timestamp",
    "Variable",
]


class Variable(Element):
    """A value shown in the UI; ``var_type`` tells the dashboard how to render it."""

    type = "uiVariable"

    def __init__(
        self,
        name: str,
        display_name: str | None,
        var_type: str,
        curr_val: Any = NotSet,
        precision: int | None = None,
        ranges: list[Range | dict[str, Any]] | None = None,
        earliest_data_time: datetime | int | None = None,
        default_zoom: str | None = None,
        log_threshold: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        self.var_type = var_type
        self._curr_val = curr_val
        self.precision = precision if precision is not None else kwargs.get("dec_precision")
        self.earliest_data_time = earliest_data_time
        self.default_zoom = default_zoom
        self.log_threshold = log_threshold
        self._log_request_pending = False
        self.ranges: list[Range] = []
        self.add_ranges(*(ranges or []))

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["type"] = self.type
        result["varType"] = self.var_type
        value = self.current_value
        if value is not None:
            result["currentValue"] = epoch_seconds(value)
        if self.precision is not None:
            result["decPrecision"] = self.precision
        if self.earliest_data_time is not None:
            result["earliestDataDate"] = epoch_seconds(self.earliest_data_time)
        if self.default_zoom is not None:
            result["defaultZoom"] = self.default_zoom
        result["ranges"] = [r.to_dict() for r in self.ranges]
        return result

    @property
    def current_value(self) -> Any:
        return None if self._curr_val is NotSet else self._curr_val

    @current_value.setter
    def current_value(self, value: Any) -> None:
        self.update(value)

    def update(self, new_value: Any, force_log: bool = False) -> None:
        """Set the value (rounded to ``precision``); a change past ``log_threshold`` (or
        ``force_log``) asks for the next push to be kept as a message."""
        if force_log or self.assess_log_threshold(new_value):
            self._log_request_pending = True
        if self.precision is not None and isinstance(new_value, int | float):
            new_value = round(new_value, self.precision)
        self._curr_val = new_value

    def assess_log_threshold(self, new_value: Any) -> bool:
        """True when ``log_threshold`` is set and the value moved by more than it."""
        if self.log_threshold is None:
            return False
        old = self._curr_val
        numbers = int | float | bool
        if isinstance(old, numbers) and isinstance(new_value, numbers):
            if type(old) is not type(new_value):
                return True
            return bool(abs(new_value - old) > self.log_threshold)
        if isinstance(old, str) and isinstance(new_value, str):
            return new_value != old
        return old in (None, NotSet) and new_value not in (None, NotSet)

    def has_pending_log_request(self) -> bool:
        return self._log_request_pending

    def clear_log_request(self) -> None:
        self._log_request_pending = False

    def recv_ui_state_update(self, state: dict[str, Any]) -> None:
        if self._curr_val is NotSet and "currentValue" in state:
            self.current_value = state["currentValue"]

    def add_ranges(self, *ranges: Range | dict[str, Any]) -> None:
        for r in ranges:
            if isinstance(r, Range):
                self.ranges.append(r)
            elif isinstance(r, dict):  # 0.x apps still pass ranges as dicts
                self.ranges.append(Range.from_dict(r))


class NumericVariable(Variable):
    """A number (``varType`` ``float``); ``form`` may draw it as a gauge (``Widget``)."""

    def __init__(
        self,
        name: str,
        display_name: str | None,
        curr_val: float | None = None,
        precision: int | None = None,
        ranges: list[Range | dict[str, Any]] | None = None,
        form: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name,
            display_name,
            var_type="float",
            curr_val=curr_val,
            precision=precision,
            ranges=ranges,
            **kwargs,
        )
        self.form = form


class TextVariable(Variable):
    """A text (``varType`` ``string``)."""

    def __init__(
        self, name: str, display_name: str | None, curr_val: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name, display_name, var_type="string", curr_val=curr_val, **kwargs)


class BooleanVariable(Variable):
    """A yes/no (``varType`` ``bool``); every change asks for a logged push by default."""

    def __init__(
        self,
        name: str,
        display_name: str | None,
        curr_val: bool | None = None,
        log_threshold: float | None = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name,
            display_name,
            var_type="bool",
            curr_val=curr_val,
            log_threshold=log_threshold,
            **kwargs,
        )


class DateTimeVariable(Variable):
    """A date/time (``varType`` ``time``), published as Unix seconds."""

    def __init__(
        self,
        name: str,
        display_name: str | None,
        curr_val: datetime | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, var_type="time", curr_val=curr_val, **kwargs)


class Timestamp(Variable):
    """A moment shown as a time (``uiTimestamp``); its value is a datetime, published in
    milliseconds."""

    type = "uiTimestamp"

    def __init__(
        self, name: str, display_name: str | None, curr_val: datetime | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name, display_name, curr_val=curr_val, var_type="timestamp", **kwargs)

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        value = self.current_value
        result["currentValue"] = int(value.timestamp() * 1000) if value else value
        return result
