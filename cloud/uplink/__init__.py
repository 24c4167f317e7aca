"""The device uplink: its pure protocol core, connection registry and WebSocket door."""
