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
from tests.common.test_push import round_trips
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
    # Their REVOCATION level.
    revocation: str = "strict"

    @property
    def urls(self) -> tuple[str, str]:
        """The base URL of each instance."""
        return (self.a.url, self.b.url)

    def health(self) -> list[httpx.Response]:
        """Each instance's answer to GET /api/health/."""
        return [httpx.get(f"{url}/api/health/", timeout=15) for url in self.urls]

    def round_trips(self, act: Callable[[], None]) -> int:
        """How many commands of the hot path the Redis ran while `act()` ran."""
        return round_trips(self.redis.client(), act)

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
    *,
    workers: int = 2,
    **env: str,
) -> Iterator[Stack]:
    """A private Redis and two gunicorn instances of `workers` on it with `env`; the Redis
    stopped after.
    """
    require_service(uses_postgres(), "the stack tests need PostgreSQL (DATABASE_URL)")
    require_service(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis_server = RedisServer(free_port(), tmp_path_factory.mktemp("redis") / "redis.log")
    redis_server.start()
    prefix = f"stack-{uuid.uuid4().hex[:8]}"
    try:
        a, b = (
            live_server_factory(
                workers=workers,
                REDIS_URL=redis_server.url,
                CACHE_KEY_PREFIX=prefix,
                # As deployed: the client closes idle connections before the server does.
                GUNICORN_CMD_ARGS="--keep-alive=75",
                **env,
            )
            for _ in range(2)
        )
        yield Stack(
            redis=redis_server,
            a=a,
            b=b,
            prefix=prefix,
            revocation=env.get("REVOCATION", "strict"),
        )
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
    # One worker each: what an instance keeps in memory is what every request to it sees,
    # whichever connection brings it (a worker that never read a login refuses it revoked
    # from Redis, and would pass a test of the invalidation without one).
    yield from stack_start(
        live_server_factory,
        tmp_path_factory,
        workers=1,
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
    # Their REVOCATION level.
    revocation: str = "strict"

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

    def sent_by(self, act: Callable[[], None]) -> dict[tuple[str, str], int]:
        """The commands each live node ran while `act()` ran, once the replicas caught up with
        what was written before, by node address and command name.
        """
        self.cluster.wait_replicated()
        before = self.cluster.commands()
        act()
        return self.cluster.commands_since(before)

    def round_trips(self, act: Callable[[], None]) -> int:
        """How many commands the nodes ran while `act()` ran, the replicas' included."""
        return sum(self.sent_by(act).values())

    def listeners(self) -> dict[str, int]:
        """How many subscribe to the instances' push channel, by the address of each live node
        that has any.
        """
        channel = push_channel_name(self.key_prefix)
        counts = {
            node.address: dict(node.client().pubsub_numsub(channel))[channel.encode()]
            for node in self.cluster.nodes
            if node.live
        }
        return {address: count for address, count in counts.items() if count}


def cluster_stack_start(
    cluster: ClusterServers, *, workers: int = 2, **env: str
) -> Iterator[ClusterStack]:
    """Two gunicorn instances of `workers` on `cluster` with `env`; stopped when the generator
    ends.
    """
    require_service(uses_postgres(), "the stack tests need PostgreSQL (DATABASE_URL)")
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"

    def instance() -> LiveServer:
        return LiveServer(
            workers=workers,
            threads=4,
            REDIS_URL=cluster.url,
            CACHE_KEY_PREFIX=prefix,
            GUNICORN_CMD_ARGS="--keep-alive=75",
            **env,
        ).start()

    a = instance()
    try:
        b = instance()
        try:
            # The instances inherit this process's environment, its xdist worker included.
            yield ClusterStack(
                cluster=cluster,
                a=a,
                b=b,
                key_prefix=cache_key_prefix(prefix),
                revocation=env.get("REVOCATION", "strict"),
            )
        finally:
            b.stop()
    finally:
        a.stop()


# Module-scoped, not session-scoped as the stacks on one Redis: the instances are stopped at
# the end of the module, so that their database connections do not outlive the tests that
# need them.
@pytest.fixture(scope="module")
def cluster_stack_servers(
    redis_cluster: ClusterServers, django_db_setup: None
) -> Iterator[ClusterStack]:
    """Two gunicorn instances on the test cluster; stopped at the end of the module."""
    yield from cluster_stack_start(redis_cluster)


@pytest.fixture(scope="module")
def cluster_push_stack_servers(
    redis_cluster: ClusterServers, django_db_setup: None
) -> Iterator[ClusterStack]:
    """Two gunicorn instances on the test cluster under the `push` revocation level, with the
    push stack's heartbeat; stopped at the end of the module.
    """
    # One worker each: what an instance keeps in memory is what every request to it sees,
    # whichever connection brings it.
    yield from cluster_stack_start(
        redis_cluster, workers=1, REVOCATION="push", PUSH_HEARTBEAT=PUSH_HEARTBEAT_SECONDS
    )


def cluster_stack_flush(stack: ClusterStack) -> ClusterStack:
    """Make the stack's cluster whole and empty it; under `push`, every instance forgets what
    it kept.
    """
    stack.cluster.heal()
    stack.cluster.flushall()
    # Published on every node, not on one that relays it: each node has queued the message to
    # its own subscribers before it answers, so no instance serves a kept entry after this.
    for node in stack.cluster.nodes:
        node.client().publish(push_channel_name(stack.key_prefix), FLUSH)
    return stack


@pytest.fixture
def cluster_stack(cluster_stack_servers: ClusterStack) -> ClusterStack:
    """The cluster stack, its cluster whole and empty: no counter or state of an earlier test."""
    return cluster_stack_flush(cluster_stack_servers)


@pytest.fixture
def cluster_push_stack(cluster_push_stack_servers: ClusterStack) -> ClusterStack:
    """The cluster stack under `push`, its cluster whole and empty, its instances' memory too."""
    return cluster_stack_flush(cluster_push_stack_servers)


@pytest.fixture(params=["strict", "push"])
def revoking_cluster(request: pytest.FixtureRequest) -> ClusterStack:
    """The cluster stack in each revocation level in turn, fresh as `cluster_stack`."""
    stack: ClusterStack = request.getfixturevalue(
        "cluster_push_stack" if request.param == "push" else "cluster_stack"
    )
    return stack
