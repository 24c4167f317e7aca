"""The router carrying both WebMACS-compatible WebSocket doors, at WebMACS's paths."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.ws.stream import stream_door
from cloud.ws.telemetry import telemetry_door

__all__ = ["STREAM_PATH", "TELEMETRY_PATH", "router"]

TELEMETRY_PATH = "/ws/controller/telemetry"
STREAM_PATH = "/ws/datapoints/stream"

router = APIRouter()
router.add_api_websocket_route(TELEMETRY_PATH, telemetry_door, name="webmacs_telemetry")
router.add_api_websocket_route(STREAM_PATH, stream_door, name="webmacs_stream")
