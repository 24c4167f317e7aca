"""The Redis on 127.0.0.1:6379 that replica tests share (each under a prefix of its own)."""

from __future__ import annotations

import os

import pytest
import redis

__all__ = ["REDIS_URL", "require_redis"]

REDIS_URL = "redis://127.0.0.1:6379/0"


def _answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def require_redis() -> None:
    """Skip the test without Redis, or fail it when ``REVLINK_REQUIRE_REDIS=1`` (CI)."""
    if _answers():
        return
    if os.environ.get("REVLINK_REQUIRE_REDIS") == "1":
        pytest.fail(f"no Redis at {REDIS_URL} (REVLINK_REQUIRE_REDIS=1)")
    pytest.skip(f"no Redis at {REDIS_URL} [REVLINK_REQUIRE_REDIS=1 fails]")
