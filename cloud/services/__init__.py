"""Domain services: what the routers and WebSocket doors do, without HTTP in it."""
