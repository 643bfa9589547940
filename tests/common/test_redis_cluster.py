"""Redis Cluster under django-redis: the URL, one slot per login, every cache use dualauth makes."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from redis.crc import key_slot

from bench.processes import free_port
from common.cache import cache_count, cache_get_many
from common.conf import CACHE_ALIAS
from common.logins import families_revoke, login_authenticate
from common.models import LoginFamily
from common.redis_breaker import BreakerPool
from common.redis_cluster import ClusterAddress, cluster_address_parse, cluster_url
from common.selectors import family_cache_key, user_cache_key, user_hash_tag
from project.settings import redis_caches
from session_auth.sessions import SessionStore
from tests.conftest import PASSWORD, login_name
from tests.modes import MODES, ModeClient
from tests.stack.cluster import ClusterServers

ALICE = login_name("alice")

# What no request sends: the INFO that reads the counts, and a push channel's heartbeat and checks.
CHANNEL_HOUSEKEEPING = ("cmdstat_info", "cmdstat_ping", "cmdstat_cluster|slots")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        (
            "redis+cluster://10.0.0.1:7000",
            ClusterAddress(nodes=(("10.0.0.1", 7000),), username=None, password=None, ssl=False),
        ),
        (
            "rediss+cluster://app:s%40cret@a.example:7000,b.example:7001/",
            ClusterAddress(
                nodes=(("a.example", 7000), ("b.example", 7001)),
                username="app",
                password="s@cret",
                ssl=True,
            ),
        ),
        (
            "redis+cluster://:only-a-password@[::1]:7000,127.0.0.1:7001",
            ClusterAddress(
                nodes=(("::1", 7000), ("127.0.0.1", 7001)),
                username=None,
                password="only-a-password",
                ssl=False,
            ),
        ),
    ],
)
def test_a_cluster_url_names_its_seed_nodes_and_credentials(url, address):
    assert cluster_url(url)
    assert cluster_address_parse(url) == address


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://host",
        "redis+cluster://host:port",
        "redis+cluster://host:0",
        "redis+cluster://host:65536",
        "redis+cluster://a:7000,,b:7001",
        "redis+cluster://:7000",
        "redis://a:7000",
    ],
)
def test_a_malformed_cluster_url_is_refused_with_what_is_wrong(url):
    with pytest.raises(ValueError, match=r"host:port|scheme"):
        cluster_address_parse(url)


def test_one_redis_is_no_cluster():
    assert not cluster_url("redis://127.0.0.1:6379/0")
    assert not cluster_url("rediss://cache.example:6380/0")


@pytest.fixture
def cluster_cache(
    settings: Any, redis_cluster: ClusterServers, request: pytest.FixtureRequest
) -> Iterator[ClusterServers]:
    """Both cache aliases on the test cluster, as `REDIS_URL=redis+cluster://...` makes them."""
    prefix = f"t-{request.node.name[:40]}"
    settings.CACHES = redis_caches(redis_cluster.url, prefix)
    redis_cluster.flushall()
    yield redis_cluster
    redis_cluster.flushall()


def _slot(key: str) -> int:
    """The slot of `key` as the dualauth alias stores it (prefix and version included)."""
    return key_slot(str(caches[CACHE_ALIAS].make_key(key)).encode())


@pytest.mark.parametrize("mode", MODES)
def test_every_key_one_request_reads_lies_in_one_slot(mode, user, cluster_cache):
    client = ModeClient(mode)
    assert client.login(ALICE, PASSWORD).status_code == 200
    family = LoginFamily.objects.get(user=user)
    keys = [family_cache_key(family.pk, user.pk), user_cache_key(user.pk)]
    if mode == "session":
        store = SessionStore(client.client.cookies["sessionid"].value)
        keys.append(store.cache_key)
    assert len({_slot(key) for key in keys}) == 1


def test_users_are_spread_over_the_slots_by_their_tags():
    tags = {user_hash_tag(user_id) for user_id in range(1, 1001)}
    assert len({key_slot(f"{{{tag}}}".encode()) for tag in tags}) > 950


@pytest.mark.parametrize("mode", MODES)
def test_on_a_cluster_a_request_is_one_round_trip_and_no_sql(mode, user, cluster_cache):
    client = ModeClient(mode)
    assert client.login(ALICE, PASSWORD).status_code == 200
    assert client.request("get", client.profile_path).status_code == 200
    node = cluster_cache.node_of(str(caches[CACHE_ALIAS].make_key(user_cache_key(user.pk))))
    stats = node.client()
    before = stats.info("commandstats")
    with CaptureQueriesContext(connection) as queries:
        assert client.request("get", client.profile_path).status_code == 200
    after = stats.info("commandstats")
    # The node counts every client's commands: a push channel that an earlier test of this
    # process left behind pings it and checks its run id and slots meanwhile (and the INFO
    # that read `before` counts in `after`). None of those reads an entry.
    calls = {
        name: after[name]["calls"] - before.get(name, {}).get("calls", 0)
        for name in after
        if after[name]["calls"] != before.get(name, {}).get("calls", 0)
        and name not in CHANNEL_HOUSEKEEPING
    }
    assert calls == {"cmdstat_mget": 1}
    assert not queries.captured_queries


def test_a_revocation_reaches_every_reader_of_the_cluster(user, cluster_cache):
    client = ModeClient("jwt-header")
    assert client.login(ALICE, PASSWORD).status_code == 200
    assert client.request("get", client.profile_path).status_code == 200
    family = LoginFamily.objects.get(user=user)
    families_revoke(user_id=user.pk, reason="test")
    with CaptureQueriesContext(connection) as queries:
        assert login_authenticate(family_id=family.pk, user_id=user.pk) is None
    assert not queries.captured_queries
    assert client.request("get", client.profile_path).status_code == 401


def test_counters_count_on_a_cluster(cluster_cache):
    assert [cache_count("bucket:{a}", 1, timeout=60) for _ in range(3)] == [1, 2, 3]
    assert cache_count("bucket:{a}", -1, timeout=60) == 2
    assert cache_count("bucket:{b}", -1, timeout=60) == 0


def test_keys_of_several_slots_are_read_slot_by_slot(db, cluster_cache):
    values = {f"spread:{{{n}}}": n for n in range(40)}
    assert len({_slot(key) for key in values}) > 1
    caches[CACHE_ALIAS].set_many(values, timeout=60)
    assert cache_get_many([*values, "spread:{absent}"]) == values
    caches[CACHE_ALIAS].delete_many(list(values))
    assert cache_get_many(list(values)) == {}


def test_a_cluster_out_of_reach_falls_back_to_the_database_and_keeps_sessions_working(
    settings, user
):
    settings.CACHES = redis_caches(f"redis+cluster://127.0.0.1:{free_port()}", "unreachable")
    for mode in MODES:
        client = ModeClient(mode)
        assert client.login(ALICE, PASSWORD).status_code == 200, mode
        assert client.request("get", client.profile_path).status_code == 200, mode
    families_revoke(user_id=user.pk, reason="test")
    assert client.request("get", client.profile_path).status_code == 401


def test_a_malformed_cluster_url_is_a_configuration_error_on_use():
    with (
        override_settings(CACHES=redis_caches("redis+cluster://nowhere", "malformed")),
        pytest.raises(ImproperlyConfigured, match="REDIS_URL"),
    ):
        caches[CACHE_ALIAS].get("anything")


def test_every_node_of_the_cluster_is_reached_through_the_breaker(cluster_cache):
    caches[CACHE_ALIAS].set("anything", 1)
    client = caches[CACHE_ALIAS].client.get_client()
    # The harness's three primaries, besides any replica the client came to know.
    assert len(client.get_primaries()) == 3
    for node in client.get_nodes():
        assert isinstance(node.redis_connection.connection_pool, BreakerPool), node
