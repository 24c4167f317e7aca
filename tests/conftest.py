"""Shared fixtures: real PostgreSQL (tests.rig.postgres) and real bridge processes."""

pytest_plugins = [
    "tests.rig.postgres",
    "tests.rig.agent",
    "tests.rig.platform",
    "tests.rig.cloud",
    "tests.rig.plugins",
]
