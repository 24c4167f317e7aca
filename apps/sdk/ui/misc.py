"""pydoover 0.x's small UI value types: ``NotSet``, ``Colour``, ``Range``, ``Option``,
``Widget`` and ``ApplicationVariant``.

They only carry what the dashboard renders; ``Colour`` and ``Widget`` are string constants
(the site takes any HTML colour name or hex string), kept as classes because 0.x apps write
``ui.Colour.red`` and ``ui.Colour.from_hex("#ff8800")``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApplicationVariant", "Colour", "NotSet", "Option", "Range", "Widget"]


class NotSet:
    """The class itself is the sentinel for "no value given" (``value is NotSet``), as in
    pydoover: ``None`` is a real value for an interaction (and "remove" in a diff)."""


class Colour:
    """Colour names the dashboard knows; any HTML colour name or hex string works too."""

    blue = "blue"
    yellow = "yellow"
    red = "red"
    green = "green"
    magenta = "magenta"
    limegreen = "limegreen"
    tomato = "tomato"
    orange = "orange"
    purple = "purple"
    grey = "grey"

    @classmethod
    def from_hex(cls, hex_string: str) -> str:
        """A hex colour (``"#FF5733"``) where a colour is accepted; it is used as it is."""
        return hex_string

    @classmethod
    def from_string(cls, value: str) -> str:
        """An HTML colour name (``"brown"``) where a colour is accepted."""
        return value


class Range:
    """A coloured band of a variable's scale (``min``..``max``), drawn on its gauge and,
    with ``show_on_graph``, on its plot."""

    def __init__(
        self,
        label: str | None = None,
        min_val: float | None = None,
        max_val: float | None = None,
        colour: str = Colour.blue,
        show_on_graph: bool = True,
    ) -> None:
        self.label = label
        self.min = min_val
        self.max = max_val
        self.colour = colour
        self.show_on_graph = show_on_graph

    def to_dict(self) -> dict[str, Any]:
        """pydoover's shape; note ``show_on_graph`` stays snake_case there."""
        result: dict[str, Any] = {
            "min": self.min,
            "max": self.max,
            "colour": self.colour,
            "show_on_graph": self.show_on_graph,
        }
        if self.label:
            result["label"] = self.label
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Range:
        """A range from its dict (0.x apps still pass ranges as dicts)."""
        return cls(
            data.get("label"),
            data["min"],
            data["max"],
            Colour.from_string(data["colour"]),
            data["show_on_graph"],
        )


class Option:
    """One choice of a state command (a dropdown): ``name`` is the value it sets."""

    def __init__(self, name: str, display_name: str) -> None:
        self.name = name
        self.display_name = display_name

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "displayString": self.display_name, "type": "uiElement"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Option:
        """An option from pydoover's legacy dict form (``display_str``, not the wire key)."""
        return cls(data["name"], data["display_str"])


class Widget:
    """How a numeric variable is drawn (its ``form``): a linear or a radial gauge."""

    linear = "linearGauge"
    radial = "radialGauge"

    @classmethod
    def from_string(cls, value: str) -> str:
        return value


class ApplicationVariant:
    """How the dashboard frames an app: in its own submodule, or stacked with the others."""

    submodule = "submodule"
    stacked = "stacked"
