"""Finding plugins: every entry point in the group ``revlink.plugins`` is one plugin.

A package that declares ``[project.entry-points."revlink.plugins"] my_id = "pkg:MyPlugin"``
appears here once installed, without any change to the host. A plugin that fails to load is
listed with its error instead of taking the others down.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from bridges.plugin_host.sdk import DevicePlugin

__all__ = ["ENTRY_POINT_GROUP", "DiscoveredPlugin", "discover"]

ENTRY_POINT_GROUP = "revlink.plugins"


@dataclass(frozen=True, slots=True)
class DiscoveredPlugin:
    id: str
    entry_point: str
    distribution: str
    plugin_class: type[DevicePlugin] | None
    load_error: str = ""


def discover() -> dict[str, DiscoveredPlugin]:
    found: dict[str, DiscoveredPlugin] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        distribution = point.dist.name if point.dist is not None else ""
        try:
            loaded = point.load()
            if not (isinstance(loaded, type) and issubclass(loaded, DevicePlugin)):
                raise TypeError(f"{point.value} is not a DevicePlugin subclass")
            if loaded.meta.id != point.name:
                raise ValueError(f"meta.id {loaded.meta.id!r} differs from the entry point name")
            found[point.name] = DiscoveredPlugin(point.name, point.value, distribution, loaded)
        except Exception as exc:  # any import error of a third-party plugin is its own problem
            found[point.name] = DiscoveredPlugin(
                point.name, point.value, distribution, None, f"{type(exc).__name__}: {exc}"
            )
    return dict(sorted(found.items()))
