"""Fixtures of the common app's tests."""

from typing import Any

import pytest

from bench.processes import free_port


@pytest.fixture
def dead_cache() -> dict[str, Any]:
    """A cache alias's settings naming a Redis port where nothing listens: every call fails."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1},
    }
