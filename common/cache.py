"""The shared cache of revocation state and throttle counters: a failure is seen, never fatal.

Callers fall back to the database (revocation) or fail open (throttling). An
instance that saw the cache fail runs the recovery hooks before it next uses the
cache: they write again, from the database, every revocation that may have missed
it, so that an entry cached before the outage does not outlive the outage.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache import caches

from common.metrics import cache_failure_count, cache_recovery_count

logger = logging.getLogger("dualauth")

ALIAS = "dualauth"
# How far before the last success a revocation may have missed the cache unseen.
RECOVERY_MARGIN = 60.0

RecoveryHook = Callable[[float], None]
_recovery_hooks: list[RecoveryHook] = []
_lock = threading.Lock()
_state = {"last_ok": time.time(), "failed": False}


def cache_recovery_hook_add(hook: RecoveryHook) -> None:
    """Run `hook(since)` once the cache answers again after this instance saw it fail."""
    if hook not in _recovery_hooks:
        _recovery_hooks.append(hook)


def _failed(operation: str, error: Exception) -> None:
    logger.warning("cache %s failed: %s", operation, error)
    cache_failure_count(operation)
    _state["failed"] = True


def _recovered() -> bool:
    """Whether the cache may be used: it never failed, or the recovery hooks just ran."""
    if not _state["failed"]:
        return True
    with _lock:
        if not _state["failed"]:
            return True
        since = float(_state["last_ok"]) - RECOVERY_MARGIN
        _state["failed"] = False
        try:
            for hook in _recovery_hooks:
                hook(since)
        except Exception as e:  # a cache backend may raise anything on an outage
            _failed("recovery", e)
            return False
        logger.warning("cache recovered: revocations since %.0f written again", since)
        cache_recovery_count()
        return True


def _ok() -> None:
    _state["last_ok"] = time.time()


def cache_get(key: str) -> Any | None:
    """The cached value of `key`, or None when absent or when the cache cannot answer."""
    values = cache_get_many([key])
    return values.get(key) if values else None


def cache_get_many(keys: list[str]) -> dict[str, Any] | None:
    """The cached values of `keys`, or None when the cache cannot answer."""
    if not _recovered():
        return None
    try:
        values = caches[ALIAS].get_many(keys)
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("get", e)
        return None
    _ok()
    return values


def cache_add(key: str, value: Any, timeout: float) -> bool:
    """Store `value` unless `key` holds one already; False when it was not stored."""
    if not _recovered():
        return False
    try:
        return bool(caches[ALIAS].add(key, value, timeout=timeout))
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("add", e)
        return False


def cache_set(key: str, value: Any, timeout: float) -> None:
    """Store `value` under `key`; a failure leaves the key to be filled again later."""
    cache_set_many({key: value}, timeout)


def cache_set_many(values: dict[str, Any], timeout: float) -> None:
    """Store `values`; on failure the recovery hooks will write them again later."""
    try:
        caches[ALIAS].set_many(values, timeout=timeout)
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("set", e)


def cache_delete(key: str) -> None:
    """Forget `key`; a failure leaves the entry to expire on its own."""
    try:
        caches[ALIAS].delete(key)
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("delete", e)


def cache_count(key: str, delta: int, timeout: float) -> int:
    """Add `delta` to the counter `key` atomically and return its new value.

    A counter that does not exist starts at `delta` and lasts `timeout` seconds;
    taking from one that ended returns 0, and so does a cache that cannot answer.
    """
    cache = caches[ALIAS]
    try:
        if delta > 0 and cache.add(key, delta, timeout=timeout):
            return delta
        try:
            return int(cache.incr(key, delta))
        except ValueError:  # the counter ended between add and incr
            return delta if delta > 0 and cache.add(key, delta, timeout=timeout) else 0
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("count", e)
        return 0


def cache_probe() -> bool:
    """Whether the cache stores and returns a value right now."""
    if not _recovered():
        return False
    probe = f"health:{uuid.uuid4().hex}"
    try:
        cache = caches[ALIAS]
        cache.set(probe, "ok", timeout=5)
        stored = cache.get(probe) == "ok"
        cache.delete(probe)
    except Exception as e:  # a cache backend may raise anything on an outage
        _failed("probe", e)
        return False
    _ok()
    return stored
