"""The device agent: channels, the durable queue and the uplink to the cloud."""
