"""The plugin host: device plugins found by entry point, run as instances, fed to the agent."""
