"""Configuration and security primitives shared by the cloud's routers and services."""
