"""The breaker per Redis address: one command waits out a hung Redis, the next fail at once."""

import threading
from collections.abc import Callable, Iterator

import pytest
import redis
from django.core.cache import caches
from redis.connection import SSLConnection, UnixDomainSocketConnection, parse_url

from bench.processes import RedisServer, free_port
from common import redis_breaker
from common.conf import CACHE_ALIAS
from common.redis_breaker import OPEN_SECONDS, BreakerOpen, BreakerPool, breaker_bypass
from common.redis_cluster import ClusterAddress, cluster_node_url
from tests.conftest import require_shared_cache

TIMEOUTS = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}


class Clock:
    """The breaker's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(redis_breaker, "monotonic", clock)
    return clock


@pytest.fixture
def server(tmp_path) -> Iterator[RedisServer]:
    started = RedisServer(free_port(), tmp_path / "redis.log").start()
    yield started
    started.stop()


def _client(url: str) -> redis.Redis:
    return redis.Redis(connection_pool=BreakerPool.from_url(url, **TIMEOUTS))


@pytest.fixture
def hung(server: RedisServer, clock: Clock) -> Iterator[redis.Redis]:
    """A client of `server`, stopped (SIGSTOP) after one command timed out there."""
    client = _client(server.url)
    client.set("k", "v")
    server.pause()
    with pytest.raises(redis.TimeoutError):
        client.get("k")
    yield client
    server.resume()


def test_after_a_command_times_out_the_next_fail_without_being_sent(hung):
    with pytest.raises(BreakerOpen):
        hung.get("k")
    with pytest.raises(BreakerOpen):
        hung.set("k", "w")


def test_a_pipeline_and_a_script_fail_at_once_too(hung):
    with pytest.raises(BreakerOpen):
        hung.pipeline().get("k").set("k", "w").execute()
    with pytest.raises(BreakerOpen):
        hung.eval("return 1", 0)


def test_once_open_seconds_pass_a_command_tries_again(hung, server, clock):
    server.resume()
    clock.now += OPEN_SECONDS - 0.001
    with pytest.raises(BreakerOpen):
        hung.get("k")
    clock.now += 0.001
    assert hung.get("k") == b"v"


def test_a_redis_still_hung_after_open_seconds_opens_the_breaker_again(hung, clock):
    clock.now += OPEN_SECONDS
    with pytest.raises(redis.TimeoutError):
        hung.get("k")
    with pytest.raises(BreakerOpen):
        hung.get("k")


def _let_through(call: Callable[[], object]) -> object:
    """What `call()` returns, or raises, in a thread let through open breakers."""
    outcome: list[object] = []

    def probe() -> None:
        breaker_bypass()
        try:
            outcome.append(call())
        except redis.RedisError as e:
            outcome.append(e)

    prober = threading.Thread(target=probe)
    prober.start()
    prober.join()
    return outcome[0]


def test_the_thread_let_through_closes_the_breaker_for_every_thread(hung, server):
    server.resume()

    assert _let_through(lambda: hung.get("k")) == b"v"
    assert hung.get("k") == b"v"


def test_a_thread_let_through_sends_its_commands_while_the_breaker_is_open(hung):
    # Sent and timed out, where another thread's command is refused unsent.
    assert type(_let_through(lambda: hung.get("k"))) is redis.TimeoutError
    with pytest.raises(BreakerOpen):
        hung.get("k")


def test_a_failed_address_leaves_the_others_alone(server, clock):
    nowhere = _client(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(redis.ConnectionError) as refused:
        nowhere.get("k")
    assert not isinstance(refused.value, BreakerOpen)
    with pytest.raises(BreakerOpen):
        nowhere.get("k")
    assert _client(server.url).ping()


def test_the_cache_aliases_reach_redis_through_the_breaker(db):
    require_shared_cache()
    client = caches[CACHE_ALIAS].client.get_client()
    assert isinstance(client.connection_pool, BreakerPool)
    assert issubclass(client.connection_pool.connection_class, redis_breaker.Breaker)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("rediss://127.0.0.1:6380/0", SSLConnection),
        ("unix:///run/redis.sock?db=0", UnixDomainSocketConnection),
    ],
)
def test_a_tls_or_unix_socket_connection_keeps_its_kind_under_the_breaker(url, base):
    pool = BreakerPool.from_url(url)
    assert issubclass(pool.connection_class, base)
    assert issubclass(pool.connection_class, redis_breaker.Breaker)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (
            ClusterAddress(nodes=(("10.0.0.1", 7000),), username=None, password=None, ssl=False),
            {"host": "10.0.0.1", "port": 7000},
        ),
        (
            ClusterAddress(nodes=(("::1", 7000),), username="app", password="s@c:t/", ssl=True),
            {
                "host": "::1",
                "port": 7000,
                "username": "app",
                "password": "s@c:t/",
                "connection_class": SSLConnection,
            },
        ),
        (
            ClusterAddress(nodes=(("a", 1),), username=None, password="only", ssl=False),
            {"host": "a", "port": 1, "password": "only"},
        ),
    ],
)
def test_a_cluster_node_url_carries_the_credentials_and_tls_of_the_cluster(address, expected):
    assert parse_url(cluster_node_url(address.nodes[0], address)) == expected
