"""Fixtures of the common app's tests."""

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from bench.processes import RedisServer, free_port
from common import throttling
from common.cache import cache_get
from common.conf import CACHE_ALIAS
from tests.conftest import require_service


@pytest.fixture
def dead_cache() -> dict[str, Any]:
    """A cache alias's settings naming a Redis port where nothing listens: every call fails."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1},
    }


@pytest.fixture
def cache_down(settings, dead_cache):
    """The revocation cache points at a Redis port where nothing listens."""
    working = settings.CACHES
    settings.CACHES = {**working, "dualauth": dead_cache}
    yield
    settings.CACHES = working
    # Pay what the outage owed the cache now, not in a later test.
    cache_get("anything")


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    """A Redis of this test's own holding the throttle counters, for the test to stop by PID."""
    require_service(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = RedisServer(free_port(), tmp_path / "redis.log").start()
    alias = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": [server.url],
        "KEY_PREFIX": caches.settings[CACHE_ALIAS].get("KEY_PREFIX", ""),
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 0.25,
            "SOCKET_TIMEOUT": 0.25,
            "CONNECTION_POOL_CLASS": "common.redis_breaker.BreakerPool",
        },
    }
    with override_settings(CACHES={**caches.settings, CACHE_ALIAS: alias}):
        yield server
    server.stop()


@pytest.fixture(params=["database", "process"])
def fallback(request, settings) -> Iterator[str]:
    """Each THROTTLE_FALLBACK, this process's counts forgotten before and after."""
    settings.DUALAUTH = {**settings.DUALAUTH, "THROTTLE_FALLBACK": request.param}
    throttling._process_counts.clear()
    yield request.param
    throttling._process_counts.clear()
