"""The shared cache of revocation state and throttle counters: a failure is seen, never fatal.

Callers fall back to the database (revocation) or to THROTTLE_FALLBACK (throttling); the
failure makes this process owe the cache the revocations it may have missed
(common/cache_recovery.py), and the cache is used again once they are written there.
"""

import math
import uuid
from typing import Any

from django.core.cache import caches

from common.cache_recovery import cache_failure_record, cache_recovered, cache_success_record
from common.conf import CACHE_ALIAS


def cache_get(key: str) -> Any | None:
    """The cached value of `key`, or None when absent or when the cache cannot answer."""
    values = cache_get_many([key])
    return values.get(key) if values else None


def cache_get_many(keys: list[str], *, counters: bool = False) -> dict[str, Any] | None:
    """The cached values of `keys`, or None when the cache cannot answer.

    Values of `counters` (the throttles') are read while this process owes the cache
    revocations too: they are counted in the cache alone, so what it holds is whole. Were
    they not, the attempts of one burst would count in two places while the debt is paid.
    """
    if not counters and not cache_recovered():
        return None
    try:
        values = caches[CACHE_ALIAS].get_many(keys)
    except Exception as e:  # a cache backend may raise anything on an outage
        cache_failure_record("get", e)
        return None
    cache_success_record()
    return values


def cache_get_many_and_add(
    keys: list[str], *, add_key: str, add_value: Any, timeout: float
) -> tuple[dict[str, Any] | None, bool | None]:
    """The cached values of `keys`, and whether `add_key` was stored (it held nothing before).

    On Redis both go in one pipeline: one round trip, `MGET` and `SET NX EX`. (None, None)
    when the cache cannot answer.
    """
    if not cache_recovered():
        return None, None
    cache = caches[CACHE_ALIAS]
    client: Any = getattr(cache, "client", None)
    try:
        if hasattr(client, "get_client"):
            made = {client.make_key(key): key for key in keys}
            pipe = client.get_client(write=True).pipeline(transaction=False)
            pipe.mget(*made)
            pipe.set(
                client.make_key(add_key),
                client.encode(add_value),
                nx=True,
                ex=max(1, math.ceil(timeout)),
            )
            found, added = pipe.execute()
            values = {
                made[key]: client.decode(value)
                for key, value in zip(made, found, strict=True)
                if value is not None
            }
        else:
            values = cache.get_many(keys)
            added = cache.add(add_key, add_value, timeout=timeout)
    except Exception as e:  # a cache backend may raise anything on an outage
        cache_failure_record("get", e)
        return None, None
    cache_success_record()
    return values, bool(added)


def cache_add(key: str, value: Any, timeout: float, *, counters: bool = False) -> bool:
    """Store `value` unless `key` holds one already; False when it was not stored.

    `counters`: as `cache_get_many`'s.
    """
    if not counters and not cache_recovered():
        return False
    try:
        return bool(caches[CACHE_ALIAS].add(key, value, timeout=timeout))
    except Exception as e:  # a cache backend may raise anything on an outage
        cache_failure_record("add", e)
        return False


def cache_claim(key: str, timeout: float) -> bool | None:
    """Mark `key` taken unless it is already: True when this call took it, False when it was
    taken before, None when the cache cannot answer.
    """
    if not cache_recovered():
        return None
    try:
        return bool(caches[CACHE_ALIAS].add(key, 1, timeout=timeout))
    except Exception as e:  # a cache backend may raise anything on an outage
        cache_failure_record("add", e)
        return None


def cache_set(key: str, value: Any, timeout: float) -> None:
    """Store `value` under `key`; a failure leaves the key to be filled again later."""
    cache_set_many({key: value}, timeout)


def cache_set_many(values: dict[str, Any], timeout: float) -> bool:
    """Store `values`; False when the cache did not take them (the recovery will, later)."""
    try:
        caches[CACHE_ALIAS].set_many(values, timeout=timeout)
    except Exception as e:  # a cache backend may raise anything on an outage
        cache_failure_record("set", e)
        return False
    return True


def cache_delete(key: str) -> None:
    """Forget `key`; a failure leaves the entry to expire on its own."""
    try:
        caches[CACHE_ALIAS].delete(key)
    except Exception as e:  # a cache backend may raise anything on an outage
        cache_failure_record("delete", e)


def cache_count(key: str, delta: int, timeout: float) -> int:
    """Add `delta` to the counter `key` atomically and return its new value.

    A counter that does not exist starts at `delta` and lasts `timeout` seconds;
    taking from one that ended returns 0, and so does a cache that cannot answer.
    """
    cache = caches[CACHE_ALIAS]
    try:
        if delta > 0 and cache.add(key, delta, timeout=timeout):
            return delta
        try:
            return int(cache.incr(key, delta))
        except ValueError:  # the counter ended between add and incr
            return delta if delta > 0 and cache.add(key, delta, timeout=timeout) else 0
    except Exception as e:  # a cache backend may raise anything on an outage
        cache_failure_record("count", e)
        return 0


def cache_probe() -> bool:
    """Whether the cache stores and returns a value right now, whatever this process owes it."""
    probe = f"health:{uuid.uuid4().hex}"
    try:
        cache = caches[CACHE_ALIAS]
        cache.set(probe, "ok", timeout=5)
        stored = cache.get(probe) == "ok"
        cache.delete(probe)
    except Exception as e:  # a cache backend may raise anything on an outage
        cache_failure_record("probe", e)
        return False
    cache_success_record()
    return stored
