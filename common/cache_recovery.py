"""The recovery of the shared cache: what a process owes it after a failure, and who pays.

An instance that saw the cache fail owes it the revocations it may have missed: the
recovery hooks write them again, from the database, before the instance next uses the
cache (`cache_recovered`), and, in a serving process, from a thread the moment the cache
answers again (`cache_recovery_serve`), whether or not a request comes. In one serving
process of each host, the same thread runs the poll hooks, which write the revocations
other processes could not.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, close_old_connections, connection

from common.conf import CACHE_ALIAS, dualauth_settings
from common.metrics import cache_failure_count, cache_recovery_count
from common.redis_breaker import breaker_bypass

logger = logging.getLogger("dualauth")

# How far before the last success a revocation may have missed the cache unseen.
RECOVERY_MARGIN = 60.0
# How often the recovery thread asks a failed cache whether it answers again.
RECOVERY_RETRY_SECONDS = 0.02
PROBE_KEY = "recovery-probe"

RecoveryHook = Callable[[float], None]
_recovery_hooks: list[RecoveryHook] = []
_poll_hooks: list[Callable[[], None]] = []


@dataclass
class _CacheStatus:
    """What this process owes the cache."""

    # When the cache last answered (epoch).
    last_ok: float
    # Since when (epoch) the revocations made are owed to the cache, or None.
    owed_since: float | None = None
    # How many times a debt was incurred: a payment clears only the debts it began with.
    debts: int = 0


_status = _CacheStatus(last_ok=time.time())
_status_lock = threading.Lock()
# Held by the one thread that pays: the others read the database meanwhile.
_paying = threading.Lock()
_owing = threading.Event()


def cache_recovery_hook_add(hook: RecoveryHook) -> None:
    """Run `hook(since)` once the cache answers again after this instance saw it fail."""
    if hook not in _recovery_hooks:
        _recovery_hooks.append(hook)


def cache_poll_hook_add(hook: Callable[[], None]) -> None:
    """Run `hook()` every CACHE_PENDING_POLL, from the recovery thread of the polling process."""
    if hook not in _poll_hooks:
        _poll_hooks.append(hook)


def cache_recovery_owe(since: float) -> None:
    """Owe the cache every revocation made since `since` (epoch): the hooks write them again."""
    with _status_lock:
        owed = _status.owed_since
        _status.owed_since = since if owed is None else min(owed, since)
        _status.debts += 1
    _owing.set()


class CacheRecovery(threading.Thread):
    """A thread that pays what this process owes the cache the moment the cache answers again,
    and, in one process of the host, runs the poll hooks every CACHE_PENDING_POLL.
    """

    def __init__(self) -> None:
        super().__init__(name="dualauth-cache-recovery", daemon=True)
        self._stopping = threading.Event()
        self._lock_path = _poll_lock_path()
        # Where the poller says the cache refused a revocation: beside its lock.
        self._owed_file = self._lock_path.with_suffix(".owed")
        self._poll_lock: TextIO | None = None
        # The owed file's mtime, as last seen: what came before this process is no news to it.
        self._owed_file_seen = self._owed_file_mtime()

    def run(self) -> None:
        """Poll if elected, every CACHE_PENDING_POLL, owing or not; on a debt, try every
        RECOVERY_RETRY_SECONDS until it is paid.
        """
        # This thread finds the cache answering again, and its success lets the others in.
        breaker_bypass()
        interval = dualauth_settings.CACHE_PENDING_POLL.total_seconds()
        next_poll = time.monotonic()
        while not self._stopping.is_set():
            owing = _status.owed_since is not None and not (_answers() and cache_recovered())
            # Even while this process owes: a cache that answers reads but holds writes (a
            # paused Redis) keeps it owing, and the poller's owed file is how the host's other
            # processes, reading that cache, learn that it lacks a revocation.
            if time.monotonic() >= next_poll:
                if self.elected():
                    self._poll()
                else:
                    self._owed_file_read()
                    # Only the poller keeps a database connection: the others pay a debt seldom.
                    connection.close()
                next_poll = time.monotonic() + interval
            _owing.wait(RECOVERY_RETRY_SECONDS if owing else next_poll - time.monotonic())
            _owing.clear()
        connection.close()
        if self._poll_lock is not None:
            self._poll_lock.close()

    def elected(self) -> bool:
        """Whether this process polls for its host: the first to lock the host's poll file.

        The operating system releases the lock of a process that ends, and the next
        process to try takes it over.
        """
        if self._poll_lock is None:
            handle = self._lock_path.open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # another process of this host polls
                handle.close()
                return False
            self._poll_lock = handle
        return True

    def _poll(self) -> None:
        # As Django does around a request: a connection broken or too old is not reused.
        close_old_connections()
        try:
            for hook in _poll_hooks:
                hook()
        except DatabaseError as e:
            logger.warning("cache poll: database unavailable: %s", e)
        except Exception as e:  # a cache backend may raise anything on an outage
            cache_failure_record("poll", e)
            # The others of this host read that cache too: it may vouch for what it lacks.
            self.owed_file_write(_status.last_ok - RECOVERY_MARGIN)
        close_old_connections()

    def owed_file_write(self, since: float) -> None:
        """Write the owed file: this host's other processes then owe the cache every revocation
        since `since`.
        """
        draft = self._owed_file.with_suffix(f".{os.getpid()}")
        draft.write_text(repr(since))
        draft.replace(self._owed_file)

    def _owed_file_read(self) -> None:
        """Owe the cache what the host's poller wrote in the owed file, once per write."""
        stamp = self._owed_file_mtime()
        if stamp == self._owed_file_seen:
            return
        self._owed_file_seen = stamp
        with contextlib.suppress(OSError, ValueError):  # a file being replaced: the next one
            cache_recovery_owe(float(self._owed_file.read_text()))

    def _owed_file_mtime(self) -> int | None:
        """When the poller last wrote the owed file (ns), or None."""
        try:
            return self._owed_file.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stopping.set()
        _owing.set()
        self.join()


def cache_identity() -> str:
    """The name of the cache entries this process writes: its cache key prefix, hashed.

    A revocation pending in the database is pending for the entries of one deployment,
    whichever address its processes reach Redis by; processes of another deployment on
    the same database (as tests have) leave it to those of its own.
    """
    prefix = str(settings.CACHES[CACHE_ALIAS].get("KEY_PREFIX", ""))
    return hashlib.sha256(prefix.encode()).hexdigest()[:16]


def _poll_lock_path() -> Path:
    """The file whose lock elects the poller among this host's processes that share the
    database, and reach the cache by the same address for the same deployment.
    """
    database, cache = settings.DATABASES["default"], settings.CACHES[CACHE_ALIAS]
    identity = [database.get(name) for name in ("HOST", "PORT", "NAME")]
    identity += [cache.get("LOCATION"), cache_identity()]
    digest = hashlib.sha256(repr(identity).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dualauth-poll-{digest}.lock"


def cache_recovery_serve() -> CacheRecovery:
    """Start the recovery of a process that serves requests; call it from its WSGI or ASGI module.

    A process that died owing the cache a revocation is paid for by its successor: the new
    process owes every revocation of the last FAMILY_CACHE_TTL, the longest a live family
    stays cached. The module must load after the server forks its workers (gunicorn's
    default; not `--preload`): a thread does not cross a fork.
    """
    longest_cached = dualauth_settings.FAMILY_CACHE_TTL.total_seconds()
    return cache_recovery_start(owed_since=time.time() - longest_cached)


def cache_recovery_start(*, owed_since: float | None = None) -> CacheRecovery:
    """Start paying this process's debts to the cache in the background, as soon as it answers.

    `owed_since` makes a new process owe the revocations since then: those a process
    before it may have owed when it died.
    """
    if owed_since is not None:
        cache_recovery_owe(owed_since)
    recovery = CacheRecovery()
    recovery.start()
    return recovery


def _answers() -> bool:
    """Whether the cache answers a read right now: no database work for a cache still down."""
    try:
        caches[CACHE_ALIAS].get(PROBE_KEY)
    except Exception:  # a cache backend may raise anything on an outage
        return False
    return True


def cache_failure_record(operation: str, error: Exception) -> None:
    """Log and count a failed cache `operation`; owe the cache what it may have missed since."""
    logger.warning("cache %s failed: %s", operation, error)
    cache_failure_count(operation)
    cache_recovery_owe(_status.last_ok - RECOVERY_MARGIN)


def cache_recovered() -> bool:
    """Whether the cache may be used: nothing is owed to it, or this thread just paid it.

    While another thread pays, or after a payment failed, the database answers instead.
    """
    if _status.owed_since is None:
        return True
    if not _paying.acquire(blocking=False):
        return False
    try:
        with _status_lock:
            since, debts = _status.owed_since, _status.debts
        if since is None:
            return True
        try:
            for hook in _recovery_hooks:
                hook(since)
        except DatabaseError as e:
            logger.warning("cache recovery: database unavailable: %s", e)
            return False
        except Exception as e:  # a cache backend may raise anything on an outage
            cache_failure_record("recovery", e)
            return False
        with _status_lock:
            # A failure seen while the hooks ran is a debt they may not have paid.
            if _status.debts == debts:
                _status.owed_since = None
            paid = _status.owed_since is None
    finally:
        _paying.release()
    if paid:
        logger.warning("cache recovered: revocations since %.0f written again", since)
        cache_recovery_count()
    return paid


def cache_success_record() -> None:
    """Note that the cache just answered."""
    _status.last_ok = time.time()
