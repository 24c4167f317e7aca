"""Tags as pydoover keeps them, free of I/O: the ``tag_values`` aggregate known here, the
changes not yet committed, and who watches which tag.

An app's own tags live under its app key (``{APP_KEY: {tag: value}}``), global ones at the
top. A set is seen by ``get`` at once and committed once per loop as one merge patch; the
agent's later echoes of the aggregate are taken with the uncommitted changes kept on top.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from revlink.channels import merge_patch

__all__ = ["TAG_CHANNEL", "TagChange", "TagStore", "TagWatch"]

TAG_CHANNEL = "tag_values"


@dataclass(frozen=True)
class TagWatch:
    """``callback(key, value)`` when tag ``key`` changes; ``app_key`` None means global."""

    key: str
    app_key: str | None
    callback: Callable[[str, Any], Any]
    context: Any = None


@dataclass(frozen=True)
class TagChange:
    watch: TagWatch
    value: Any


class TagStore:
    def __init__(self, app_key: str) -> None:
        self.app_key = app_key
        self._values: dict[str, Any] = {}
        self._pending: dict[str, Any] = {}
        self._log_pending = False
        self._watches: list[TagWatch] = []
        self._lock = threading.Lock()  # sets come from the app's loop and from its threads

    def get(self, key: str, app_key: str | None = None, default: Any = None) -> Any:
        with self._lock:
            section = self._values.get(app_key or self.app_key)
            found = section.get(key, default) if isinstance(section, dict) else default
            return copy.deepcopy(found)

    def get_global(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return copy.deepcopy(self._values.get(key, default))

    def set(
        self,
        tags: Mapping[str, Any],
        app_key: str | None = None,
        *,
        is_global: bool = False,
        only_if_changed: bool = True,
        log: bool = False,
    ) -> bool:
        """Record ``tags`` for the next commit; False when ``only_if_changed`` found nothing
        new to write."""
        with self._lock:
            scope = None if is_global else (app_key or self.app_key)
            current = self._values if scope is None else self._values.get(scope, {})
            current = current if isinstance(current, dict) else {}
            changed = {
                key: copy.deepcopy(value)
                for key, value in tags.items()
                if not only_if_changed or key not in current or current[key] != value
            }
            if not changed:
                return False
            patch = changed if scope is None else {scope: changed}
            self._values = merge_patch(self._values, patch)
            self._pending = _merge_into(self._pending, patch)
            self._log_pending = self._log_pending or log
            return True

    def take_pending(self) -> tuple[dict[str, Any], bool]:
        """The changes to commit (a merge patch, empty for none) and whether to log them."""
        with self._lock:
            pending, log = self._pending, self._log_pending
            self._pending, self._log_pending = {}, False
            return pending, log

    def restore_pending(self, patch: Mapping[str, Any], log: bool) -> None:
        """A commit failed: its changes go out with the next one (newer sets win)."""
        with self._lock:
            self._pending = _merge_into(copy.deepcopy(dict(patch)), self._pending)
            self._log_pending = self._log_pending or log

    def watch(self, watch: TagWatch) -> None:
        with self._lock:
            self._watches.append(watch)

    def replace(self, aggregate: Mapping[str, Any]) -> list[TagChange]:
        """Take the agent's aggregate; the watched tags whose value it changed."""
        with self._lock:
            before = self._values
            self._values = merge_patch(dict(aggregate), self._pending)
            return [
                TagChange(w, copy.deepcopy(_lookup(self._values, w)))
                for w in self._watches
                if _lookup(before, w) != _lookup(self._values, w)
            ]


def _lookup(values: Mapping[str, Any], watch: TagWatch) -> Any:
    section = values if watch.app_key is None else values.get(watch.app_key, {})
    return section.get(watch.key) if isinstance(section, dict) else None


def _merge_into(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into a pending patch, keeping its nulls (they delete on commit)."""
    merged = dict(target)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_into(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
