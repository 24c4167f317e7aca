"""Shared fixtures: real PostgreSQL (tests.rig.postgres) and real bridge processes."""

import os

# Before anything imports grpc: the tests fork processes while in-process clients are busy
# (see revlink/__init__.py and tests/test_fork_safety.py).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

pytest_plugins = [
    "tests.rig.postgres",
    "tests.rig.agent",
    "tests.rig.platform",
    "tests.rig.cloud",
    "tests.rig.plugins",
]
