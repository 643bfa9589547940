"""The `push` revocation level on the test's own Redis: entries served from memory, every write
published, and `strict` whenever the channel is in doubt."""

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import time_machine
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from prometheus_client import REGISTRY

from bench.processes import RedisServer, free_port
from common.conf import CACHE_ALIAS, dualauth_settings
from common.push import Channel, PushMixin
from common.redis_breaker import breakers_reset
from project.settings import redis_caches
from tests.conftest import PASSWORD, eventually
from tests.modes import ModeClient
from tests.stack.cluster import ClusterServers

# Commands of the subscriber, of the test, of a new connection and of replication (a replica
# acknowledges every second): not the hot path's.
CHANNEL_COMMANDS = {
    "ping",
    "info",
    "cluster",
    "subscribe",
    "client",
    "config",
    "flushall",
    "hello",
    "select",
    "replconf",
}
FAMILY = "family:{ab12}:0123"
HEARTBEAT = timedelta(milliseconds=100)
# Other processes' channels (Redis writes to them one after the other), and the revocations
# each sees.
LISTENERS, ROUNDS = 500, 3
MESSAGE = b"$7\r\nmessage\r\n"


def redis_commands(server: redis.Redis) -> int:
    """How many commands the server ran, but the push channel's and the test's own."""
    stats = server.info("commandstats")
    return sum(
        int(stat["calls"])
        for name, stat in stats.items()
        if name.removeprefix("cmdstat_").split("|")[0] not in CHANNEL_COMMANDS
    )


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of these tests alone: they count its commands, kill its clients, stop it."""
    server = RedisServer(free_port(), tmp_path_factory.mktemp("push") / "redis.log").start()
    yield server
    server.stop()


@pytest.fixture
def raw(own_redis: RedisServer) -> redis.Redis:
    """A plain client of the test's Redis: it writes behind the cache's back."""
    if own_redis.process is None:
        own_redis.start()
    own_redis.resume()
    client = own_redis.client()
    client.flushall()
    client.config_resetstat()
    return client


@pytest.fixture
def pushed(settings: Any, raw: redis.Redis, own_redis: RedisServer) -> Channel:
    """The caches on the test's Redis under `push`, and this process's channel, trusted."""
    prefix = settings.CACHES[CACHE_ALIAS]["KEY_PREFIX"]
    settings.CACHES = redis_caches(own_redis.url, prefix, push=True)
    settings.DUALAUTH = {**settings.DUALAUTH, "REVOCATION": "push", "PUSH_HEARTBEAT": HEARTBEAT}
    client = getattr(caches[CACHE_ALIAS], "client", None)
    assert isinstance(client, PushMixin)
    channel = client.push
    assert eventually(channel.trusted, within=5)
    return channel


@pytest.fixture
def cache(pushed: Channel) -> BaseCache:
    """The revocation cache, under `push`."""
    return caches[CACHE_ALIAS]


def made(cache: BaseCache, key: str) -> str:
    """What Redis holds `key` under."""
    return str(cache.make_key(key))


def round_trips(server: redis.Redis, act: Callable[[], Any]) -> int:
    """How many commands of the hot path's `server` ran while `act()` ran."""
    before = redis_commands(server)
    act()
    return redis_commands(server) - before


def written_behind(raw: redis.Redis, cache: BaseCache, key: str, value: Any) -> None:
    """Store `value` under `key` as the cache would, but publish nothing: a lost push."""
    client = cache.client  # type: ignore[attr-defined]
    raw.set(made(cache, key), client.encode(value), ex=60)


def test_a_mirrored_entry_is_served_from_memory_without_a_round_trip(
    cache: BaseCache, raw: redis.Redis
) -> None:
    # Written behind the cache's back: no push of its own write comes back to this process.
    written_behind(raw, cache, FAMILY, ("live", 1))
    assert cache.get(FAMILY) == ("live", 1)
    before = redis_commands(raw)
    for _ in range(10):
        assert cache.get_many([FAMILY]) == {FAMILY: ("live", 1)}
    assert redis_commands(raw) == before


@pytest.mark.parametrize(
    "value",
    [
        {"data": 1},
        # A principal's shape: its dates are handed out as they are, the dict copied.
        {"data": 1, "joined": datetime(2026, 1, 2, tzinfo=UTC), "id": uuid.UUID(int=7)},
    ],
)
def test_a_value_served_from_memory_is_a_copy(cache: BaseCache, value: dict[str, Any]) -> None:
    cache.set(FAMILY, value, 60)
    cache.get(FAMILY)
    cache.get(FAMILY)["data"] = 2
    assert cache.get(FAMILY) == value


def test_a_value_holding_a_list_is_served_from_memory_as_a_copy_of_the_list_too(
    cache: BaseCache,
) -> None:
    cache.set(FAMILY, {"data": [1]}, 60)
    cache.get(FAMILY)
    cache.get(FAMILY)["data"].append(2)
    assert cache.get(FAMILY) == {"data": [1]}


@pytest.mark.parametrize("key", ["throttle:login:abc", "dpop:{ab12}:jti"])
def test_entries_the_hot_path_does_not_read_are_never_kept_nor_published(
    cache: BaseCache, raw: redis.Redis, key: str
) -> None:
    cache.set(key, 1, 60)
    assert cache.incr(key) == 2
    before = redis_commands(raw)
    for _ in range(3):
        assert cache.get(key) == 2
    assert redis_commands(raw) == before + 3
    assert int(raw.info("commandstats").get("cmdstat_publish", {}).get("calls", 0)) == 0


def test_a_miss_is_not_kept(cache: BaseCache, raw: redis.Redis) -> None:
    assert cache.get(FAMILY) is None
    written_behind(raw, cache, FAMILY, "revoked")
    assert cache.get(FAMILY) == "revoked"


def test_a_write_elsewhere_is_seen_once_its_push_arrives(
    cache: BaseCache, raw: redis.Redis, pushed: Channel
) -> None:
    cache.set(FAMILY, "live", 60)
    assert cache.get(FAMILY) == "live"
    written_behind(raw, cache, FAMILY, "revoked")
    assert cache.get(FAMILY) == "live", "served from memory until the push"
    raw.publish(pushed.name, made(cache, FAMILY))
    assert eventually(lambda: cache.get(FAMILY) == "revoked", within=2)


def test_each_write_publishes_its_keys_right_after_it_on_its_connection(
    cache: BaseCache, own_redis: RedisServer, pushed: Channel
) -> None:
    with own_redis.client().monitor() as monitor:
        cache.set(FAMILY, "revoked", 60)
        cache.set("throttle:x", 1, 60)
        seen: list[dict[str, Any]] = []
        while len(seen) < 3:
            command = next(monitor.listen())
            if command["command"].split()[0].lower() not in CHANNEL_COMMANDS:
                seen.append(command)
    key = made(cache, FAMILY)
    assert seen[0]["command"].startswith(f"SET {key} ")
    assert seen[1]["command"] == f"PUBLISH {pushed.name} {key}"
    assert seen[1]["client_port"] == seen[0]["client_port"]
    assert not seen[2]["command"].startswith("PUBLISH")


@pytest.mark.parametrize(
    "write",
    [
        lambda cache: cache.set_many({FAMILY: "revoked"}, 60),
        lambda cache: cache.delete(FAMILY),
        lambda cache: cache.delete_many([FAMILY]),
        lambda cache: cache.add(FAMILY, "revoked", 60),
        lambda cache: cache.touch(FAMILY, 60),
        lambda cache: cache.set(FAMILY, 1, 60) and cache.incr(FAMILY),
        lambda cache: cache.delete_pattern("*"),
        lambda cache: cache.clear(),
    ],
    ids=["set_many", "delete", "delete_many", "add", "touch", "incr", "delete_pattern", "clear"],
)
def test_every_write_of_a_mirrored_entry_invalidates_it_in_every_process(
    cache: BaseCache, raw: redis.Redis, pushed: Channel, write: Callable[[BaseCache], Any]
) -> None:
    cache.set(FAMILY, "live", 60)
    cache.get(FAMILY)
    with raw.pubsub() as listener:
        listener.subscribe(pushed.name)
        confirmed = listener.get_message(timeout=2)
        assert confirmed is not None
        assert confirmed["type"] == "subscribe"
        write(cache)
        message = listener.get_message(timeout=2)
    assert message is not None
    assert message["data"] in (made(cache, FAMILY).encode(), b"")


def listeners(server: RedisServer, channel: str) -> list[socket.socket]:
    """LISTENERS connections subscribed to `channel`, their subscriptions confirmed."""
    connections = [
        socket.create_connection(("127.0.0.1", server.port), timeout=2) for _ in range(LISTENERS)
    ]
    for connection in connections:
        connection.sendall(f"SUBSCRIBE {channel}\r\n".encode())
    for connection in connections:
        assert connection.recv(4096).startswith(b"*3\r\n$9\r\nsubscribe")
    return connections


def invalidated(connection: socket.socket) -> bool:
    """Whether a message waits on `connection` right now, left unread."""
    connection.setblocking(False)
    try:
        return MESSAGE in connection.recv(65536, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    finally:
        connection.settimeout(2)


def invalidation_read(connection: socket.socket) -> None:
    """Read what `connection` received, up to its message."""
    received = b""
    while MESSAGE not in received:
        received += connection.recv(65536)


def largest_unread_request(server: RedisServer) -> int:
    """The most bytes waiting to be read on one of the server's connections, as the kernel
    counts them (a paused server reads nothing).
    """
    unread = [0]
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == server.port:
            unread.append(int(fields[4].split(":")[1], 16))
    return max(unread)


def test_a_write_returns_once_every_subscriber_has_its_invalidation(
    cache: BaseCache, own_redis: RedisServer, pushed: Channel
) -> None:
    # Its connection made beforehand: a paused Redis would not answer a new one's handshake.
    cache.set_many({FAMILY: "live"}, 60)
    connections = listeners(own_redis, pushed.name)
    seen: list[int] = []

    def revoke() -> None:
        cache.set_many({FAMILY: "revoked"}, 60)
        seen.append(sum(1 for connection in connections if invalidated(connection)))

    try:
        for _ in range(ROUNDS):
            # Each listener's PING, then the revocation, reach Redis in one turn of its loop
            # (as push's heartbeats do): Redis queues the listeners' answers first, and writes
            # the revocation's reply before them.
            own_redis.pause()
            for connection in connections:
                connection.sendall(b"PING\r\n")
            writer = threading.Thread(target=revoke)
            writer.start()
            # The listeners' PINGs are 6 bytes each; the revocation's SET and PUBLISH, more.
            assert eventually(lambda: largest_unread_request(own_redis) > 64, within=5)
            own_redis.resume()
            writer.join(timeout=5)
            for connection in connections:
                invalidation_read(connection)
    finally:
        own_redis.resume()
        for connection in connections:
            connection.close()
    assert seen == [LISTENERS] * ROUNDS


def test_a_value_read_before_an_invalidation_is_never_kept_after_it(
    cache: BaseCache, raw: redis.Redis, pushed: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.set(FAMILY, "live", 60)
    client = cache.client  # type: ignore[attr-defined]
    read = client._read

    def read_then_revoked_elsewhere(keys: list[str]) -> Any:
        values = read(keys)
        # Another process revokes between this read and its keeping; its push arrives first.
        seen = pushed.invalidations
        written_behind(raw, cache, FAMILY, "revoked")
        raw.publish(pushed.name, made(cache, FAMILY))
        assert eventually(lambda: pushed.invalidations > seen, within=2)
        return values

    monkeypatch.setattr(client, "_read", read_then_revoked_elsewhere)
    assert cache.get(FAMILY) == "live"
    monkeypatch.setattr(client, "_read", read)
    assert cache.get(FAMILY) == "revoked"


def test_an_entry_older_than_the_maximum_age_is_read_again(
    cache: BaseCache, raw: redis.Redis
) -> None:
    max_age = dualauth_settings.PUSH_MAX_AGE
    with time_machine.travel(time.time(), tick=False) as clock:
        cache.set(FAMILY, "live", 3600)
        assert cache.get(FAMILY) == "live"
        written_behind(raw, cache, FAMILY, "revoked")
        clock.shift(max_age - timedelta(seconds=1))
        assert cache.get(FAMILY) == "live"
        clock.shift(timedelta(seconds=1))
        assert cache.get(FAMILY) == "revoked"


def test_an_entry_is_kept_no_longer_than_redis_keeps_it(cache: BaseCache, raw: redis.Redis) -> None:
    with time_machine.travel(time.time(), tick=False) as clock:
        cache.set(FAMILY, "live", 5)
        assert cache.get(FAMILY) == "live"
        written_behind(raw, cache, FAMILY, "revoked")
        clock.shift(timedelta(seconds=5))
        assert cache.get(FAMILY) == "revoked"


def _kill_subscription(server: RedisServer, raw: redis.Redis) -> Callable[[], None]:
    raw.client_kill_filter(_type="pubsub")
    return lambda: None


def _miss_heartbeats(server: RedisServer, raw: redis.Redis) -> Callable[[], None]:
    server.pause()
    return server.resume


def _restart(server: RedisServer, raw: redis.Redis) -> Callable[[], None]:
    server.stop()

    def start() -> None:
        server.start()

    return start


@pytest.mark.parametrize(
    "doubt",
    [_kill_subscription, _miss_heartbeats, _restart],
    ids=["lost-subscription", "missed-heartbeat", "restart"],
)
def test_a_doubt_reads_redis_until_the_channel_is_back_and_forgets_what_it_kept(
    cache: BaseCache,
    raw: redis.Redis,
    own_redis: RedisServer,
    pushed: Channel,
    doubt: Callable[[RedisServer, redis.Redis], Callable[[], None]],
) -> None:
    cache.set(FAMILY, "live", 60)
    assert cache.get(FAMILY) == "live"
    # A revocation whose push is lost: only a read of Redis sees it.
    written_behind(raw, cache, FAMILY, "revoked")
    generation = pushed.generation
    recover = doubt(own_redis, raw)
    try:
        assert eventually(lambda: pushed.generation > generation, within=2)
        try:
            during = cache.get(FAMILY)
        except Exception:  # a paused or stopped Redis answers nothing: no value at all
            during = None
        # Whether the channel is back already (a lost subscription) or not (a Redis paused
        # or stopped), nothing kept before the doubt is served.
        assert during != "live"
    finally:
        recover()
        # The read that waited out a paused Redis opened its breaker.
        breakers_reset()
    assert eventually(pushed.trusted, within=5)
    assert cache.get(FAMILY) != "live"


def test_a_stuck_subscriber_thread_cannot_keep_the_channel_trusted(
    cache: BaseCache,
    raw: redis.Redis,
    own_redis: RedisServer,
    pushed: Channel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stuck, release = threading.Event(), threading.Event()

    def identity_stuck(channel: Channel, client: redis.Redis) -> str:
        stuck.set()
        release.wait()
        return "released"

    monkeypatch.setattr(Channel, "_identity", identity_stuck)
    assert stuck.wait(timeout=2), "the thread is stuck at its next heartbeat"
    generation = pushed.generation
    own_redis.pause()
    try:
        # The requests ping in the thread's stead, and see no pong come back.
        assert eventually(lambda: not pushed.trusted() and pushed.generation > generation, within=2)
    finally:
        own_redis.resume()
        release.set()
        breakers_reset()
    assert eventually(pushed.trusted, within=5)


@pytest.mark.parametrize("mode", ["session", "jwt-header", "jwt-cookie"])
def test_an_authenticated_request_in_the_steady_state_makes_no_round_trip(
    pushed: Channel, raw: redis.Redis, user: User, mode: str
) -> None:
    client = ModeClient(mode)
    assert client.login(user.get_username(), PASSWORD).status_code == 200

    def profile(times: int = 1) -> None:
        for _ in range(times):
            response = client.request("get", client.profile_path)
            assert response.status_code == 200, response.content

    # The pushes of the login's own writes come back and drop what they wrote: once they
    # are in, the login's entries are read once more, and then kept.
    assert eventually(lambda: round_trips(raw, profile) == 0, within=5)
    # The server counts every client's commands: a thread another test of this process left
    # may send one meanwhile. A request that read Redis would never let three go by with none.
    assert eventually(lambda: round_trips(raw, lambda: profile(times=3)) == 0, within=5)
    assert client.logout().status_code == 204
    assert client.request("get", client.profile_path).status_code == 401


@pytest.fixture
def cluster_cache(settings: Any, redis_cluster: ClusterServers) -> BaseCache:
    """The revocation cache on the test cluster under `push`, its channel trusted."""
    redis_cluster.heal()
    redis_cluster.flushall()
    prefix = settings.CACHES[CACHE_ALIAS]["KEY_PREFIX"]
    settings.CACHES = redis_caches(redis_cluster.url, prefix, push=True)
    settings.DUALAUTH = {**settings.DUALAUTH, "REVOCATION": "push", "PUSH_HEARTBEAT": HEARTBEAT}
    cache = caches[CACHE_ALIAS]
    assert eventually(channel_of(cache).trusted, within=5)
    return cache


def channel_of(cache: BaseCache) -> Channel:
    """This process's push channel of `cache`."""
    client = getattr(cache, "client", None)
    assert isinstance(client, PushMixin)
    return client.push


def cluster_commands(cluster: ClusterServers) -> int:
    """How many commands the cluster's nodes ran, but the push channel's and the test's own."""
    return sum(redis_commands(node.client()) for node in cluster.nodes if node.live)


def test_on_a_cluster_an_entry_is_served_from_memory_and_a_write_elsewhere_reaches_it(
    cluster_cache: BaseCache, redis_cluster: ClusterServers
) -> None:
    key = made(cluster_cache, FAMILY)
    holder = redis_cluster.node_of(key)
    written_behind(holder.client(), cluster_cache, FAMILY, "live")
    assert cluster_cache.get(FAMILY) == "live"
    before = cluster_commands(redis_cluster)
    assert cluster_cache.get(FAMILY) == "live"
    assert cluster_commands(redis_cluster) == before
    written_behind(holder.client(), cluster_cache, FAMILY, "revoked")
    # Published on another node than the one holding the key: the cluster relays it.
    other = next(node for node in redis_cluster.seeds if node is not holder)
    other.client().publish(channel_of(cluster_cache).name, key)
    assert eventually(lambda: cluster_cache.get(FAMILY) == "revoked", within=2)


def test_on_a_cluster_a_write_its_dead_primary_fails_is_published_through_a_live_node(
    cluster_cache: BaseCache, redis_cluster: ClusterServers
) -> None:
    cluster = cluster_cache.client.get_client(write=True)  # type: ignore[attr-defined]
    # The node a client sends the commands without a key to, as it takes it again after any
    # failure: that one dies, holding the entry written.
    cluster.nodes_manager.initialize()
    default = cluster.get_default_node()
    primary = next(node for node in redis_cluster.nodes if node.port == default.port)
    key = next(
        key
        for key in (f"family:{{{n}}}:0123" for n in range(1000))
        if redis_cluster.node_of(made(cluster_cache, key)) is primary
    )
    replica = redis_cluster.replica_of(primary)
    listener = next(node for node in redis_cluster.seeds if node is not primary)
    subscriber = listener.client().pubsub()
    subscriber.subscribe(channel_of(cluster_cache).name)
    assert subscriber.get_message(timeout=2)["type"] == "subscribe"
    # The slot stays without a primary: no failover, no change of its owner, to doubt.
    replica.client().config_set("cluster-replica-no-failover", "yes")
    try:
        redis_cluster.kill(primary)
        # django-redis raises the client's error, as the cache does on any outage.
        with pytest.raises(redis.ConnectionError):
            cluster_cache.set(key, "revoked", 60)
        message = subscriber.get_message(ignore_subscribe_messages=True, timeout=2)
        assert message is not None, "the invalidation of the failed write was not published"
        assert message["data"] == made(cluster_cache, key).encode()
    finally:
        subscriber.close()
        redis_cluster.heal()
        replica.client().config_set("cluster-replica-no-failover", "no")


def test_a_cluster_topology_change_reads_the_cluster_and_forgets_what_it_kept(
    cluster_cache: BaseCache, redis_cluster: ClusterServers
) -> None:
    channel = channel_of(cluster_cache)
    cluster_cache.set(FAMILY, "live", 60)
    assert cluster_cache.get(FAMILY) == "live"
    key = made(cluster_cache, FAMILY)
    written_behind(redis_cluster.node_of(key).client(), cluster_cache, FAMILY, "revoked")
    generation = channel.generation
    primary = redis_cluster.seeds[-1]
    replica = redis_cluster.replica_of(primary)
    replica.client().execute_command("CLUSTER", "FAILOVER")
    try:
        redis_cluster.wait_promoted(replica)
        assert eventually(lambda: channel.generation > generation, within=2)
        assert eventually(channel.trusted, within=5)
        assert cluster_cache.get(FAMILY) == "revoked"
    finally:
        # The seeds are the primaries again, as the other tests expect, and so says the
        # process's shared cluster client, which learnt the failover from a redirection.
        primary.client().execute_command("CLUSTER", "FAILOVER")
        redis_cluster.wait_promoted(primary)
        cluster_cache.client.get_client().nodes_manager.initialize()  # type: ignore[attr-defined]


def test_reads_from_memory_and_doubts_are_counted(
    cache: BaseCache, raw: redis.Redis, pushed: Channel
) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    local, doubts = (
        sample("dualauth_push_reads_total", source="local"),
        sample("dualauth_push_doubts_total", reason="connection"),
    )
    cache.set(FAMILY, "live", 60)
    cache.get(FAMILY)
    cache.get(FAMILY)
    assert sample("dualauth_push_reads_total", source="local") == local + 1
    generation = pushed.generation
    raw.client_kill_filter(_type="pubsub")
    assert eventually(lambda: pushed.generation > generation, within=2)
    assert sample("dualauth_push_doubts_total", reason="connection") == doubts + 1
    assert eventually(pushed.trusted, within=5)
