"""The shared cache of revocation state and throttle counters: a failure is seen, never fatal.

Callers fall back to the database (revocation) or fail open (throttling). A
revocation that could not reach the cache is kept here and written at the next
chance, so that an entry cached before the outage cannot outlive it.
"""

import logging
import math
import time
import uuid
from typing import Any

from django.core.cache import caches

logger = logging.getLogger("dualauth")

ALIAS = "dualauth"
_unwritten: dict[str, tuple[Any, float]] = {}


def _failed(operation: str, error: Exception) -> None:
    logger.warning("cache %s failed: %s", operation, error)


def cache_get(key: str) -> Any | None:
    """The cached value of `key`, or None when absent or when the cache cannot answer."""
    values = cache_get_many([key])
    return values.get(key) if values else None


def cache_probe() -> bool:
    """Whether the cache stores and returns a value right now."""
    probe = f"health:{uuid.uuid4().hex}"
    try:
        cache = caches[ALIAS]
        cache.set(probe, "ok", timeout=5)
        stored = cache.get(probe) == "ok"
        cache.delete(probe)
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("probe", e)
        return False
    return stored


def cache_get_many(keys: list[str]) -> dict[str, Any] | None:
    """The cached values of `keys`, or None when the cache cannot answer."""
    try:
        return caches[ALIAS].get_many(keys)
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("get", e)
        return None


def cache_add(key: str, value: Any, timeout: float) -> bool:
    """Store `value` unless `key` holds one already; False when it was not stored."""
    try:
        return bool(caches[ALIAS].add(key, value, timeout=timeout))
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("add", e)
        return False


def cache_delete(key: str) -> None:
    """Forget `key`; a failure leaves the entry to expire on its own."""
    try:
        caches[ALIAS].delete(key)
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("delete", e)


def cache_incr(key: str, timeout: float) -> None:
    """Count one more under `key`, starting a window of `timeout` seconds."""
    cache = caches[ALIAS]
    try:
        if not cache.add(key, 1, timeout=timeout):
            try:
                cache.incr(key)
            except ValueError:  # the window ended between add and incr
                cache.add(key, 1, timeout=timeout)
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("incr", e)


def cache_set_many_until(values: dict[str, Any], expires_at: float) -> None:
    """Store `values` until `expires_at`; what cannot be stored now is retried later."""
    _unwritten.update({key: (value, expires_at) for key, value in values.items()})
    cache_flush_unwritten()


def cache_flush_unwritten() -> None:
    """Write what an earlier outage kept from the cache; cheap when there is nothing."""
    if not _unwritten:
        return
    now = time.time()
    pending = {key: entry for key, entry in _unwritten.items() if entry[1] > now}
    if not pending:
        _unwritten.clear()
        return
    timeout = math.ceil(max(expires_at for _, expires_at in pending.values()) - now)
    try:
        caches[ALIAS].set_many({key: value for key, (value, _) in pending.items()}, timeout=timeout)
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("set", e)
        return
    for key in pending:
        _unwritten.pop(key, None)
