"""Device-side gRPC bridges: the platform I/O bridge, the device agent and the plugin host."""
