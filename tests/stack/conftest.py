"""The stack: a private Redis and two gunicorn instances sharing it and the test database."""

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.test import override_settings

from bench.processes import RedisServer, free_port
from common.conf import CACHE_ALIAS
from common.push import FLUSH, push_channel_name
from project.settings import cache_key_prefix, redis_caches
from tests.conftest import require_service, uses_postgres
from tests.live import LiveServer
from tests.stack.clients import StackClient
from tests.stack.cluster import ClusterServers, NodeServer


@dataclass(frozen=True)
class Stack:
    """Two instances behind no proxy, sharing one Redis and the test database."""

    redis: RedisServer
    a: LiveServer
    b: LiveServer
    # CACHE_KEY_PREFIX of both instances: another instance given it shares their entries.
    prefix: str

    @property
    def urls(self) -> tuple[str, str]:
        """The base URL of each instance."""
        return (self.a.url, self.b.url)

    def health(self) -> list[httpx.Response]:
        """Each instance's answer to GET /api/health/."""
        return [httpx.get(f"{url}/api/health/", timeout=15) for url in self.urls]

    def wait_until_healthy(self, timeout: float = 20.0) -> None:
        """Poll both instances until both report every check ok."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(r.status_code == httpx.codes.OK for r in self.health()):
                return
            time.sleep(0.2)
        raise AssertionError(f"not healthy: {[r.text for r in self.health()]}")


def stack_start(
    live_server_factory: Callable[..., LiveServer],
    tmp_path_factory: pytest.TempPathFactory,
    **env: str,
) -> Iterator[Stack]:
    """A private Redis and two gunicorn instances on it with `env`; the Redis stopped after."""
    require_service(uses_postgres(), "the stack tests need PostgreSQL (DATABASE_URL)")
    require_service(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis_server = RedisServer(free_port(), tmp_path_factory.mktemp("redis") / "redis.log")
    redis_server.start()
    prefix = f"stack-{uuid.uuid4().hex[:8]}"
    try:
        a, b = (
            live_server_factory(
                REDIS_URL=redis_server.url,
                CACHE_KEY_PREFIX=prefix,
                # As deployed: the client closes idle connections before the server does.
                GUNICORN_CMD_ARGS="--keep-alive=75",
                **env,
            )
            for _ in range(2)
        )
        yield Stack(redis=redis_server, a=a, b=b, prefix=prefix)
    finally:
        redis_server.stop()


@pytest.fixture(scope="session")
def stack(
    live_server_factory: Callable[..., LiveServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A private Redis and two gunicorn instances; stopped at the end of the session."""
    yield from stack_start(live_server_factory, tmp_path_factory)


# The push channel of the push stack's instances: a short heartbeat, so that a doubt is quick.
PUSH_HEARTBEAT_SECONDS = "0.1"


@pytest.fixture(scope="session")
def push_stack(
    live_server_factory: Callable[..., LiveServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The stack under the `push` revocation level; stopped at the end of the session."""
    yield from stack_start(
        live_server_factory,
        tmp_path_factory,
        REVOCATION="push",
        PUSH_HEARTBEAT=PUSH_HEARTBEAT_SECONDS,
    )


@pytest.fixture(autouse=True)
def _fresh_stack_cache(request: pytest.FixtureRequest) -> None:
    # Throttle counters and cached states of earlier tests' users start from nothing.
    # Only for the tests of this Redis: the others do not start it.
    for name in ("stack", "push_stack"):
        if name in request.fixturenames:
            stack_flush(request.getfixturevalue(name))


def stack_flush(stack: Stack) -> None:
    """Start the stack's Redis if a test stopped it, and empty it; under `push`, every
    instance forgets what it kept.
    """
    if stack.redis.process is None:
        stack.redis.start()
    client = stack.redis.client()
    client.flushall()
    client.publish(push_channel_name(cache_key_prefix(stack.prefix)), FLUSH)


@pytest.fixture
def stack_user(transactional_db: None, make_user: Callable[..., User]) -> User:
    """Alice, committed so that the instances see her."""
    return make_user("alice")


@pytest.fixture
def agents() -> Iterator[list[StackClient]]:
    """Agents made by a test; closed at its end."""
    made: list[StackClient] = []
    yield made
    for agent in made:
        agent.close()


@dataclass(frozen=True)
class ClusterStack:
    """Two instances sharing one Redis Cluster and the test database."""

    cluster: ClusterServers
    a: LiveServer
    b: LiveServer
    # The KEY_PREFIX the instances' settings make of their CACHE_KEY_PREFIX.
    key_prefix: str

    @property
    def urls(self) -> tuple[str, str]:
        """The base URL of each instance."""
        return (self.a.url, self.b.url)

    @contextmanager
    def cache(self) -> Iterator[BaseCache]:
        """The instances' cache of revocations and counters, as this process reaches it."""
        with override_settings(CACHES=redis_caches(self.cluster.url, self.key_prefix)):
            yield caches[CACHE_ALIAS]

    def node_of(self, key: str) -> NodeServer:
        """The primary holding the instances' cache entry `key`."""
        with self.cache() as cache:
            return self.cluster.node_of(str(cache.make_key(key)))


@pytest.fixture(scope="module")
def cluster_stack_servers(
    redis_cluster: ClusterServers, django_db_setup: None
) -> Iterator[ClusterStack]:
    """Two gunicorn instances on the test cluster; stopped at the end of the module, so that
    their database connections do not outlive the tests that need them.
    """
    require_service(uses_postgres(), "the stack tests need PostgreSQL (DATABASE_URL)")
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"

    def instance() -> LiveServer:
        return LiveServer(
            REDIS_URL=redis_cluster.url,
            CACHE_KEY_PREFIX=prefix,
            GUNICORN_CMD_ARGS="--keep-alive=75",
        ).start()

    a = instance()
    try:
        b = instance()
        try:
            # The instances inherit this process's environment, its xdist worker included.
            yield ClusterStack(cluster=redis_cluster, a=a, b=b, key_prefix=cache_key_prefix(prefix))
        finally:
            b.stop()
    finally:
        a.stop()


@pytest.fixture
def cluster_stack(cluster_stack_servers: ClusterStack) -> ClusterStack:
    """The cluster stack, its cluster whole and empty: no counter or state of an earlier test."""
    cluster_stack_servers.cluster.heal()
    cluster_stack_servers.cluster.flushall()
    return cluster_stack_servers
