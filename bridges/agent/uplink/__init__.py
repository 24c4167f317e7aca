"""The agent's uplink: a pure session core, backoff policy and the WebSocket loop."""
