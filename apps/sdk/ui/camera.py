"""pydoover 0.x's camera elements: a live view of a stream and the history of snapshots.

revlink has no camera pipeline; the elements are here so a 0.x app that declares them
builds its UI unchanged (the dashboard shows what it can of them).
"""

from __future__ import annotations

from typing import Any

from apps.sdk.ui.element import Element

__all__ = ["CameraHistory", "CameraLiveView"]


class CameraLiveView(Element):
    type = "uiCameraLiveView"

    def __init__(
        self,
        camera_name: str,
        stream_name: str,
        allow_ptz_control: bool,
        display_name: str = "Live View",
        name: str = "History",
        **kwargs: Any,
    ) -> None:
        self.camera_name = camera_name
        self.stream_name = stream_name
        self.allow_ptz_control = allow_ptz_control
        self.presets: list[Any] = []
        self.active_preset: Any = None
        super().__init__(name=name, display_name=display_name, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["cameraName"] = self.camera_name
        result["streamName"] = self.stream_name
        result["ptzControl"] = self.allow_ptz_control
        result["presets"] = self.presets
        result["activePreset"] = self.active_preset
        return result


class CameraHistory(Element):
    type = "uiCameraHistory"

    def __init__(
        self,
        camera_name: str,
        display_name: str = "History",
        name: str = "history",
        **kwargs: Any,
    ) -> None:
        self.camera_name = camera_name
        self.presets: list[Any] = []
        self.active_preset: Any = None
        super().__init__(name=name, display_name=display_name, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["cameraName"] = self.camera_name
        result["ptzControl"] = True
        result["presets"] = self.presets
        result["activePreset"] = self.active_preset
        return result
