"""The `push` revocation level: each process serves the hot path's cache entries from memory,
and Redis pushes every change of them to every process.

Mirrored are the entries the hot path reads in its one round trip: those whose key starts
with a registered prefix (the family states and principals, registered by common/apps.py;
the sessions, by session_auth). Throttle counters, DPoP `jti`s and the rest are never.

The cache client (`PushClient`, `PushClusterClient`: django-redis's, chosen by
project/settings.py when `DUALAUTH["REVOCATION"]` is "push") publishes the keys of each
write of a mirrored entry, whoever makes it, on one channel derived from the key prefix:
in the same pipeline as the write on one Redis (one round trip, `SET ...; PUBLISH`), right
after the write is acknowledged or failed on a cluster (which relays a plain PUBLISH to every
node: it goes through any node that takes it, the processes listening to the others being
none the wiser when a primary dies). On one Redis the write returns once Redis has written
the message to every subscriber's connection (one more round trip, `_delivered`): a
revocation's invalidation is thus in every process's socket before its answer is sent. On
a cluster, the relay to the other nodes is not waited for.

Each process subscribes on a connection of its own (`Channel`), with a daemon thread that
drains the messages and pings every PUSH_HEARTBEAT. The hot path drains pending messages
itself before it serves anything (a poll, no round trip), so the window is the delivery
time of the message, not the wait of the thread for the interpreter. Local entries are
served only while the channel is trusted: its subscription confirmed and its last pong
younger than two heartbeats, as the hot path sees it on its own clock (a thread late with
its ping has the request send it). Any doubt (an error, a lost subscription, a ping
unanswered for two heartbeats, another Redis behind the address, another cluster topology)
drops every local entry and reads Redis (`strict`) until the channel is subscribed again
and has answered a ping. A value read from Redis is kept only if no invalidation and no
doubt came since the read began; a miss is never kept; an entry lives PUSH_MAX_AGE at
most, and never longer than Redis keeps it.
"""

import hashlib
import math
import os
import select
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.cluster import RedisCluster
from redis.exceptions import RedisError
from redis.retry import Retry

from common.conf import dualauth_settings
from common.memo import BoundedMemo
from common.metrics import push_doubt_count, push_read_count, push_state_set
from common.redis_cluster import (
    ClusterClient,
    cluster_address_parse,
    cluster_node_url,
    cluster_url,
)

# The most entries a process keeps: the oldest is forgotten first. An entry is a few hundred
# bytes (a session's data is the largest), so a full memo stays within tens of megabytes.
MAX_ENTRIES = 65536
# The payload that invalidates every entry: `clear()` and `delete_pattern()`. No key is empty.
FLUSH = b""
# Keys in one message are separated by a newline, which no key of dualauth holds.
SEPARATOR = b"\n"

_prefixes: list[str] = []


def push_prefix_register(prefix: str) -> None:
    """Mirror the cache entries whose key (before the cache's prefix) starts with `prefix`."""
    if prefix not in _prefixes:
        _prefixes.append(prefix)


def push_mirrored(key: str) -> bool:
    """Whether the cache entry `key` is mirrored in each process under `push`."""
    return key.startswith(tuple(_prefixes))


# How a kept value is handed to a reader: as is (nothing in it can change), as a copy of a
# dict of such values (a session's data, a principal), else decoded again from Redis's bytes.
SHARED, COPIED, DECODED = range(3)
# Values no method changes (a datetime is a date). A principal holds dates: decoding one
# again for each request would cost a pickle load per request.
_SCALARS = (str, int, float, bool, bytes, type(None))
_IMMUTABLE = (*_SCALARS, date, time_of_day, timedelta, Decimal, uuid.UUID)


def _shared(value: Any) -> bool:
    """Whether `value` can be handed to every reader as is: no reader can change it."""
    return isinstance(value, _IMMUTABLE) or (
        type(value) is tuple and all(_shared(item) for item in value)
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """A value kept in memory: read from Redis at `stored`, used until `until` (epoch seconds)."""

    stored: float
    until: float
    raw: bytes
    value: Any
    kind: int

    def served(self, decode: Callable[[bytes], Any]) -> Any:
        """The value for one reader, which may change what it gets."""
        if self.kind == SHARED:
            return self.value
        if self.kind == COPIED:
            return dict(self.value)
        return decode(self.raw)


def entry_make(raw: bytes, value: Any, *, ttl: float, now: float) -> Entry:
    """The entry of `value` (`raw` in Redis, which keeps it `ttl` more seconds), read at `now`."""
    if _shared(value):
        kind = SHARED
    elif type(value) is dict and all(_shared(item) for item in value.values()):
        kind, value = COPIED, dict(value)
    else:
        kind = DECODED
    max_age = dualauth_settings.PUSH_MAX_AGE.total_seconds()
    return Entry(stored=now, until=now + min(max_age, ttl), raw=raw, value=value, kind=kind)


class Doubt(Exception):
    """The channel can no longer be trusted, for the reason given."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Channel:
    """One process's subscription to the invalidations of one cache, and its local entries.

    Every field below is read and changed under `lock`, by the subscriber thread and by the
    requests alike; a fork (gunicorn's workers) starts the child with a new lock and nothing.
    """

    def __init__(self, *, location: str, name: str, heartbeat: float) -> None:
        self.location = location
        self.name = name
        self.heartbeat = heartbeat
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self.lock = threading.Lock()
        self.entries: BoundedMemo[str, Entry] = BoundedMemo(MAX_ENTRIES)
        # Counts of invalidations and of doubts: a value read before either changed is stale.
        self.invalidations = 0
        self.generation = 0
        self.pubsub: PubSub | None = None
        # Whether the subscriber's socket has anything to read: the hot path's own poll.
        self.pending: select.poll | None = None
        self.subscribed = False
        self.last_pong = -math.inf
        # When the oldest ping not answered yet was sent (monotonic), if one is.
        self.ping_sent: float | None = None
        self.thread: threading.Thread | None = None

    # The hot path.

    def trusted(self) -> bool:
        """Whether this process serves mirrored entries from memory right now."""
        return self.snapshot() is not None

    def snapshot(self) -> tuple[int, int] | None:
        """Drain what Redis pushed; None when the channel is in doubt, else the counts to
        hand `entries_put` with what is read from Redis from now on.
        """
        if self.thread is None:
            self._start()
        with self.lock:
            self._drain()
            if not self._trusted():
                return None
            return self.invalidations, self.generation

    def entries_get(self, keys: Iterable[str]) -> dict[str, Entry]:
        """The local entries of the made `keys` that are young enough (call after `snapshot`)."""
        now = time.time()
        found = {}
        for key in keys:
            entry = self.entries.get(key)
            if entry is not None and entry.stored <= now < entry.until:
                found[key] = entry
        return found

    def entries_put(self, snapshot: tuple[int, int], entries: dict[str, "Entry"]) -> None:
        """Keep `entries` (by made key), read after `snapshot`, unless an invalidation or a
        doubt came since.
        """
        with self.lock:
            if snapshot != (self.invalidations, self.generation) or not self._trusted():
                return
            for key, entry in entries.items():
                self.entries.put(key, entry)

    def forget(self, keys: Collection[str] | None) -> None:
        """Drop the entries of the made `keys` (None: every entry): this process wrote them."""
        with self.lock:
            self._invalidate(keys)

    # Under the lock.

    def _trusted(self) -> bool:
        """Whether the channel answered a ping less than two heartbeats ago. A pong follows
        every message published before its ping: the entries are as fresh as the last pong.
        """
        if not self.subscribed or self.last_pong == -math.inf:
            # Not trusted yet: subscribed, but waiting for its first pong.
            return False
        now = time.monotonic()
        if self.ping_sent is not None and now - self.ping_sent >= 2 * self.heartbeat:
            self._doubt("heartbeat")
            return False
        if now - self.last_pong < 2 * self.heartbeat:
            return True
        # No ping went unanswered, but none was sent lately (the thread waits for the
        # interpreter): this request reads Redis, and asks for the pong that trusts it again.
        if self.ping_sent is None:
            self._ping()
        return False

    def _ping(self) -> None:
        if self.pubsub is None:
            return
        try:
            self.pubsub.ping()
        except (RedisError, OSError):
            self._doubt("connection")
            return
        if self.ping_sent is None:
            self.ping_sent = time.monotonic()

    def _invalidate(self, keys: Collection[str] | None) -> None:
        self.invalidations += 1
        if keys is None:
            self.entries.clear()
            return
        for key in keys:
            self.entries.discard(key)

    def _drain(self) -> None:
        pubsub = self.pubsub
        # Each drain reads until nothing is left, so nothing waits in the parser's buffer:
        # a socket with nothing to read is a channel with nothing pending.
        if pubsub is None or self.pending is None or not self.pending.poll(0):
            return
        try:
            while (message := pubsub.get_message(timeout=0)) is not None:
                self._receive(message)
        except Doubt as e:
            self._doubt(e.reason)
        except (RedisError, OSError):
            self._doubt("connection")

    def _receive(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "message":
            data = message["data"]
            self._invalidate(None if data == FLUSH else data.decode().split(SEPARATOR.decode()))
        elif kind == "pong":
            self.last_pong = time.monotonic()
            self.ping_sent = None
        elif kind == "subscribe":
            # Whatever was kept before the subscription was confirmed may have missed a push.
            self.subscribed = True
            self.generation += 1
            self.entries.clear()
        else:
            raise Doubt("subscription")

    def _doubt(self, reason: str) -> None:
        if self.pubsub is not None:
            push_doubt_count(reason)
            push_state_set(trusted=False)
        self.pubsub = None
        self.pending = None
        self.subscribed = False
        self.last_pong = -math.inf
        self.ping_sent = None
        self.generation += 1
        self.entries.clear()

    # The subscriber thread.

    def _start(self) -> None:
        with self.lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=self._run, name=f"push {self.name}", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        attempt = 0
        while True:
            pubsub: PubSub | None = None
            try:
                client = self._client(attempt)
                identity = self._identity(client)
                pubsub = client.pubsub()
                # Connects: outside the lock, which requests wait for.
                pubsub.subscribe(self.name)
                with self.lock:
                    self.pubsub = pubsub
                    # Its own poll object: one poll() at a time each, the thread's or a request's.
                    self.pending = select.poll()
                    self.pending.register(_socket_of(pubsub), select.POLLIN)
                    self._ping()
                self._serve(client, pubsub, identity)
            except Doubt as e:
                reason = e.reason
            except Exception:  # whatever failed, the channel starts again
                reason = "connection"
            with self.lock:
                if self.pubsub is pubsub:
                    self._doubt(reason)
            if pubsub is not None:
                pubsub.reset()
            attempt += 1
            time.sleep(self.heartbeat)

    def _serve(self, client: redis.Redis, pubsub: PubSub, identity: str) -> None:
        """Drain and ping until the channel is in doubt."""
        started = time.monotonic()
        next_ping = started + self.heartbeat
        while True:
            select.select([_socket_of(pubsub)], [], [], max(0.0, next_ping - time.monotonic()))
            with self.lock:
                if self.pubsub is not pubsub:
                    raise Doubt("connection")
                self._drain()
                if self.pubsub is not pubsub:
                    raise Doubt("connection")
            now = time.monotonic()
            if now < next_ping:
                continue
            ping_sent = self.ping_sent
            if ping_sent is not None and now - ping_sent >= 2 * self.heartbeat:
                raise Doubt("heartbeat")
            if self._identity(client) != identity:
                raise Doubt("topology")
            with self.lock:
                if self.pubsub is not pubsub:
                    raise Doubt("connection")
                self._ping()
                if self.subscribed and self.last_pong > started:
                    push_state_set(trusted=True)
            next_ping = now + self.heartbeat

    def _client(self, attempt: int) -> redis.Redis:
        """A client of its own (not the cache's pool), which never reconnects by itself: a
        connection that failed may have missed a push, so the channel starts again instead.
        """
        url = self.location
        if cluster_url(url):
            # Any node relays the cluster's plain PUBLISHes: the seeds are tried in turn.
            address = cluster_address_parse(url)
            url = cluster_node_url(address.nodes[attempt % len(address.nodes)], address)
        timeout = max(self.heartbeat, 0.05)
        return redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0, supported_errors=()),
        )

    def _identity(self, client: redis.Redis) -> str:
        """What changes when another Redis answers at the address, or the cluster's slots
        move: the server's run id, and the slots of each primary.
        """
        identity = str(client.info("server")["run_id"])
        if cluster_url(self.location):
            slots = client.execute_command("CLUSTER", "SLOTS")
            owners = sorted((int(s[0]), int(s[1]), _text(s[2][2])) for s in slots)
            identity += hashlib.sha256(repr(owners).encode()).hexdigest()
        return identity


def _socket_of(pubsub: PubSub) -> Any:
    """The socket of a subscription's connection; Doubt once it is closed."""
    sock = getattr(pubsub.connection, "_sock", None)
    if sock is None:
        raise Doubt("connection")
    return sock


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_channels: dict[tuple[str, str, float], Channel] = {}
_channels_lock = threading.Lock()


def _channels_lock_reset() -> None:
    # A fork while another thread held the lock would leave it held in the child for good.
    global _channels_lock
    _channels_lock = threading.Lock()


os.register_at_fork(after_in_child=_channels_lock_reset)


def push_channel_name(key_prefix: str) -> str:
    """The channel the invalidations of the cache with `key_prefix` are published on."""
    return f"{key_prefix}:invalidations"


def push_channel(*, location: str, key_prefix: str) -> Channel:
    """This process's channel of the cache at `location` with `key_prefix`."""
    name = push_channel_name(key_prefix)
    heartbeat = dualauth_settings.PUSH_HEARTBEAT.total_seconds()
    key = (location, name, heartbeat)
    found = _channels.get(key)
    if found is not None:
        return found
    with _channels_lock:
        if key not in _channels:
            _channels[key] = Channel(location=location, name=name, heartbeat=heartbeat)
        return _channels[key]


class PushMixin(DefaultClient):
    """django-redis's client, reading mirrored entries from this process's memory while the
    channel is trusted, and publishing every write of them.
    """

    _push: Channel | None = None

    @property
    def push(self) -> Channel:
        """This process's channel of this cache."""
        if self._push is None:
            self._push = push_channel(
                location=str(self._server[0]), key_prefix=str(self._backend.key_prefix)
            )
        return self._push

    # Reads.

    def get(
        self, key: str, default: Any = None, version: int | None = None, client: Any = None
    ) -> Any:
        """The value of `key`, from memory when it is mirrored and kept there."""
        if client is not None or not push_mirrored(key):
            return super().get(key, default, version=version, client=client)
        return self.get_many([key], version=version).get(key, default)

    def get_many(
        self, keys: Collection[str], version: int | None = None, client: Any = None
    ) -> dict[str, Any]:
        """The values of `keys` that are set: the mirrored ones kept in memory from there, the
        others from Redis, in one round trip.
        """
        mirrored = {str(self.make_key(key, version=version)): key for key in keys}
        mirrored = {made: key for made, key in mirrored.items() if push_mirrored(key)}
        snapshot = self.push.snapshot() if client is None and mirrored else None
        if snapshot is None:
            if mirrored:
                push_read_count(local=False)
            return super().get_many(keys, version=version, client=client)
        local = self.push.entries_get(mirrored)
        values = {mirrored[made]: entry.served(self.decode) for made, entry in local.items()}
        rest = [key for key in keys if key not in values]
        if not rest:
            push_read_count(local=True)
            return values
        push_read_count(local=False)
        made = {str(self.make_key(key, version=version)): key for key in rest}
        now = time.time()
        read = {
            key: entry_make(raw, self.decode(raw), ttl=ttl, now=now)
            for key, (raw, ttl) in self._read(list(made)).items()
        }
        self.push.entries_put(snapshot, {key: e for key, e in read.items() if key in mirrored})
        values.update({made[key]: entry.served(self.decode) for key, entry in read.items()})
        return values

    def _read(self, made: list[str]) -> dict[str, tuple[bytes, float]]:
        """The values Redis holds under the made keys `made`, and for how many more seconds."""
        client = self.get_client(write=False)
        try:
            # GET and PTTL of each key: a cluster's pipeline sends them to the node of its slot.
            pipe = client.pipeline(transaction=False)
            for key in made:
                pipe.get(key)
                pipe.pttl(key)
            replies = pipe.execute()
        except (RedisError, OSError) as e:
            raise ConnectionInterrupted(connection=client) from e
        values, ttls = replies[::2], replies[1::2]
        return {
            key: (value, _seconds_kept(ttl))
            for key, value, ttl in zip(made, values, ttls, strict=True)
            if value is not None
        }

    # Writes.

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        client: Any = None,
        nx: bool = False,
        xx: bool = False,
    ) -> bool:
        """Store `value` under `key`; a mirrored key's change is published with it."""
        if client is not None or not push_mirrored(key):
            return super().set(key, value, timeout, version=version, client=client, nx=nx, xx=xx)
        if timeout is DEFAULT_TIMEOUT:
            timeout = self._backend.default_timeout
        made = str(self.make_key(key, version=version))
        if timeout is not None and timeout <= 0:
            # django-redis deletes the key instead: published after it.
            parent = super().set
            return bool(
                self._published_after([made], lambda: parent(key, value, timeout, version, nx=nx))
            )
        encoded = self.encode(value)
        milliseconds = None if timeout is None else max(1, int(timeout * 1000))
        results = self._published_with(
            [made], lambda pipe: pipe.set(made, encoded, nx=nx, xx=xx, px=milliseconds)
        )
        return bool(results[0])

    def set_many(
        self,
        data: dict[str, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        client: Any = None,
    ) -> None:
        """Store `data`; the changes of mirrored keys are published with them."""
        made = [str(self.make_key(key, version=version)) for key in data if push_mirrored(key)]
        if client is not None or not made:
            return super().set_many(data, timeout, version=version, client=client)

        def write(pipe: Any) -> None:
            for key, value in data.items():
                super(PushMixin, self).set(key, value, timeout, version=version, client=pipe)

        self._published_with(made, write)
        return None

    def delete(
        self,
        key: str,
        version: int | None = None,
        prefix: str | None = None,
        client: Any = None,
    ) -> int:
        """Remove `key`; a mirrored key's removal is published with it."""
        if client is not None or not push_mirrored(key):
            return super().delete(key, version=version, prefix=prefix, client=client)
        made = str(self.make_key(key, version=version, prefix=prefix))
        return int(self._published_with([made], lambda pipe: pipe.delete(made))[0])

    def delete_many(
        self, keys: Iterable[str], version: int | None = None, client: Any = None
    ) -> int:
        """Remove `keys`; the removals of mirrored keys are published with them."""
        keys = list(keys)
        made = [str(self.make_key(key, version=version)) for key in keys if push_mirrored(key)]
        if client is not None or not made:
            return super().delete_many(keys, version=version, client=client)
        every = [str(self.make_key(key, version=version)) for key in keys]

        def write(pipe: Any) -> None:
            # One DEL per key: a cluster's pipeline sends each to the node of its slot.
            for key in every:
                pipe.delete(key)

        return sum(int(n) for n in self._published_with(made, write))

    def clear(self, client: Any = None) -> None:
        """Empty the database; every process forgets its entries."""
        self._published_after(None, lambda: super(PushMixin, self).clear(client=client))

    def delete_pattern(
        self,
        pattern: str,
        version: int | None = None,
        prefix: str | None = None,
        client: Any = None,
        itersize: int | None = None,
    ) -> int:
        """Remove the keys matching `pattern`; every process forgets its entries."""
        parent = super().delete_pattern
        return int(
            self._published_after(
                None, lambda: parent(pattern, version, prefix, client=client, itersize=itersize)
            )
        )

    def _incr(
        self,
        key: str,
        delta: int = 1,
        version: int | None = None,
        client: Any = None,
        ignore_key_check: bool = False,
    ) -> int:
        """Add `delta` to the counter `key` (`incr`, `decr`); a mirrored key's change is
        published after it.
        """
        parent = super()._incr
        if client is not None or not push_mirrored(key):
            return int(parent(key, delta, version, client, ignore_key_check))
        made = str(self.make_key(key, version=version))
        return int(
            self._published_after(
                [made], lambda: parent(key, delta, version, ignore_key_check=ignore_key_check)
            )
        )

    def touch(
        self,
        key: str,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        client: Any = None,
    ) -> bool:
        """Give `key` a new lifetime; a mirrored key's is published after it (the entries
        kept in memory bear the lifetime Redis gave when they were read).
        """
        parent = super().touch
        if client is not None or not push_mirrored(key):
            return parent(key, timeout, version=version, client=client)
        made = str(self.make_key(key, version=version))
        return bool(self._published_after([made], lambda: parent(key, timeout, version=version)))

    def _published_with(self, made: list[str], write: Callable[[Any], Any]) -> list[Any]:
        """The results of the commands `write` queues on a pipeline, sent with the
        invalidation of the made keys `made`: in one round trip on one Redis, where the
        invalidation follows the write on the same connection; on a cluster, once the
        nodes of the keys acknowledged the write or failed it.
        """
        client = self.get_client(write=True)
        payload = SEPARATOR.join(k.encode() for k in made)
        try:
            pipe = client.pipeline(transaction=False)
            write(pipe)
            if isinstance(client, RedisCluster):
                try:
                    results = list(pipe.execute())
                finally:
                    self._publish(client, payload)
            else:
                pipe.publish(self.push.name, payload)
                results = list(pipe.execute())[:-1]
                _delivered(client)
        except (RedisError, OSError) as e:
            raise ConnectionInterrupted(connection=client) from e
        finally:
            # This process's own entries go at once, whether its message comes back or not.
            self.push.forget(made)
        return results

    def _published_after(self, made: list[str] | None, write: Callable[[], Any]) -> Any:
        """`write()`'s result, once it is done and the invalidation of the made keys `made`
        (None: of every key) is published: a second round trip, for the rare writes. On a
        cluster, the invalidation is published when `write()` fails too.
        """
        payload = FLUSH if made is None else SEPARATOR.join(k.encode() for k in made)
        try:
            client = self.get_client(write=True)
            if isinstance(client, RedisCluster):
                try:
                    return write()
                finally:
                    self._publish(client, payload)
            result = write()
            self._publish(client, payload)
            return result
        finally:
            self.push.forget(made)

    def _publish(self, client: Any, payload: bytes) -> None:
        """Publish `payload` on the channel: on one Redis, until every subscriber's connection
        has it; on a cluster, through the first node that takes it (any node relays it to the
        others), even after a write that failed: the write may
        have reached some nodes, and the processes listening to the nodes that live still
        serve what they kept until they hear of it.
        """
        try:
            if not isinstance(client, RedisCluster):
                client.publish(self.push.name, payload)
                _delivered(client)
                return
            default = client.get_default_node()
            nodes = [default, *(node for node in client.get_nodes() if node is not default)]
            for node in nodes[:-1]:
                try:
                    client.publish(self.push.name, payload, target_nodes=node)
                    return
                except (RedisError, OSError):
                    continue
            client.publish(self.push.name, payload, target_nodes=nodes[-1])
        except (RedisError, OSError) as e:
            raise ConnectionInterrupted(connection=client) from e


def _delivered(client: redis.Redis) -> None:
    """Return once Redis has handed every subscriber the messages it answered a PUBLISH for.

    Redis writes the replies of one turn of its event loop one client after the other, the
    last queued first: the publisher's reply goes before the message to a subscriber whose
    own reply (a heartbeat's pong) was queued earlier in the turn, and a starved Redis can
    lose the CPU in between for milliseconds. The publisher would answer its client while
    that process's socket still lacks the invalidation, and the process would serve the
    revoked entry meanwhile. Redis reads no command before it has written every reply of
    the turn (as far as each socket takes it), so the answer to one sent now comes after.
    """
    client.ping()


def _seconds_kept(ttl: int) -> float:
    """How long Redis keeps a key whose PTTL is `ttl`: -1 is forever."""
    return math.inf if ttl == -1 else max(0, ttl) / 1000


class PushClient(PushMixin):
    """The push client on one Redis."""


class PushClusterClient(PushMixin, ClusterClient):
    """The push client on a Redis Cluster (common/redis_cluster.py)."""
