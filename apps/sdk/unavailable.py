"""Stand-ins for pydoover attributes whose revlink part does not exist yet.

An app that only touches ``self.ui_manager`` in passing still starts; the first call fails
with :class:`FeatureUnavailableError` naming what is missing, instead of an AttributeError
deep in ``setup()``.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["FeatureUnavailableError", "Unavailable"]


class FeatureUnavailableError(RuntimeError):
    """A pydoover feature revlink does not provide (yet); the message says what instead."""


class Unavailable:
    def __init__(self, name: str, instead: str) -> None:
        self._name = name
        self._instead = instead

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)

        def refuse(*args: Any, **kwargs: Any) -> NoReturn:
            raise FeatureUnavailableError(f"{self._name}.{attribute}(): {self._instead}")

        return refuse

    def __repr__(self) -> str:
        return f"<{self._name}: unavailable>"
