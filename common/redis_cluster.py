"""Redis Cluster under django-redis: `REDIS_URL=redis+cluster://host:port[,host:port...]`.

Neither django-redis nor Django's own Redis backend speaks Redis Cluster. Their cache
client works unchanged over redis-py's `RedisCluster` for every command dualauth
sends: each names one key, or keys of one hash slot (common/selectors.py's user_hash_tag),
or goes through a pipeline, which `RedisCluster` splits by node. This module gives
django-redis such a connection, shared by the threads of a process, and reads keys of
several slots slot by slot.

A failed node fails the command at once (no retries, as with one Redis and its short
socket timeouts; after a failure, its breaker fails the next ones without waiting): the
caller falls back to the database and the failure reaches common/cache_recovery.py,
which writes the recent revocations again to the cluster as it is after a failover.
"""

import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from django.core.exceptions import ImproperlyConfigured
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from django_redis.pool import ConnectionFactory
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

from common.redis_breaker import BreakerPool

SCHEMES = {"redis+cluster": False, "rediss+cluster": True}


@dataclass(frozen=True)
class ClusterAddress:
    """Where a cluster's seed nodes are, and how to log in to them."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    ssl: bool


def cluster_url(url: str) -> bool:
    """Whether `url` names a Redis Cluster rather than one Redis."""
    return url.partition("://")[0] in SCHEMES


def cluster_address_parse(url: str) -> ClusterAddress:
    """The seed nodes and credentials of a `redis+cluster://` URL; ValueError when malformed."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in SCHEMES:
        raise ValueError(f"the scheme is not one of {', '.join(sorted(SCHEMES))}")
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    credentials, _, hosts = authority.rpartition("@")
    username, has_password, password = credentials.partition(":")
    nodes = tuple(_node_parse(node) for node in hosts.split(","))
    return ClusterAddress(
        nodes=nodes,
        username=unquote(username) or None,
        password=unquote(password) if has_password else None,
        ssl=SCHEMES[scheme],
    )


def _node_parse(node: str) -> tuple[str, int]:
    host, separator, port = node.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{node!r} is not host:port")
    return host, int(port)


def cluster_node_url(node: tuple[str, int], address: ClusterAddress) -> str:
    """The `redis://` (or `rediss://`) URL of one node of the cluster at `address`."""
    host, port = node
    scheme = "rediss" if address.ssl else "redis"
    credentials = quote(address.username or "", safe="")
    if address.password is not None:
        credentials += ":" + quote(address.password, safe="")
    login = f"{credentials}@" if credentials else ""
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{login}{host}:{port}"


class Cluster(RedisCluster):
    """redis-py's cluster client, whose failures of the cluster as a whole (a slot without a
    node, a cluster that cannot be reached) are connection errors, as django-redis expects.
    """

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """Send a command to the node(s) it belongs to."""
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as e:
            raise RedisConnectionError(str(e)) from e


class ClusterConnectionFactory(ConnectionFactory):
    """Makes the one cluster client of each cluster URL in this process."""

    _clusters: dict[str, Cluster] = {}
    _lock = threading.Lock()

    def connect(self, url: str) -> Cluster:
        """The process's client of the cluster at `url`; a cluster out of reach is retried later."""
        with self._lock:
            if url not in self._clusters:
                try:
                    self._clusters[url] = self._cluster_make(url)
                except (RedisError, RedisClusterException, OSError) as e:
                    raise ConnectionInterrupted(connection=None) from e
            return self._clusters[url]

    def _cluster_make(self, url: str) -> Cluster:
        try:
            address = cluster_address_parse(url)
        except ValueError as e:
            raise ImproperlyConfigured(f"REDIS_URL: {e}") from e
        timeouts = {
            name: self.options[option]
            for name, option in (
                ("socket_timeout", "SOCKET_TIMEOUT"),
                ("socket_connect_timeout", "SOCKET_CONNECT_TIMEOUT"),
            )
            if option in self.options
        }
        first, *others = address.nodes
        return Cluster(
            # Given a URL, redis-py makes each node's pool a `connection_pool_class`: the
            # breaker's (common/redis_breaker.py), with the URL's credentials and TLS.
            url=cluster_node_url(first, address),
            startup_nodes=[ClusterNode(host, port) for host, port in others],
            connection_pool_class=BreakerPool,
            retry=Retry(NoBackoff(), 0),
            # A slot without a node fails the commands of that slot, not the client.
            require_full_coverage=False,
            **timeouts,
        )

    def disconnect(self, connection: Any) -> None:
        """Close the connections of every node; they open again on the next command."""
        connection.disconnect_connection_pools()


class ClusterClient(DefaultClient):
    """django-redis's client over a cluster: keys of several slots are read slot by slot."""

    def get_many(
        self, keys: Collection[str], version: int | None = None, client: Any = None
    ) -> dict[str, Any]:
        """The values of `keys` that are set: one MGET when they share a slot, else one per slot."""
        made = {str(self.make_key(key, version=version)): key for key in keys}
        if len({key_slot(key.encode()) for key in made}) <= 1:
            return super().get_many(keys, version=version, client=client)
        cluster = client if client is not None else self.get_client(write=False)
        try:
            values = cluster.mget_nonatomic(list(made))
        except (RedisError, RedisClusterException, OSError) as e:
            raise ConnectionInterrupted(connection=cluster) from e
        return {
            made[key]: self.decode(value)
            for key, value in zip(made, values, strict=True)
            if value is not None
        }
