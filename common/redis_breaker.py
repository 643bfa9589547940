"""A circuit breaker per Redis address: after a command there fails, the next ones fail at once.

A Redis that hangs (stopped, cut off, overloaded) costs each command its socket timeout,
and a request sends several: during such an outage every request would wait seconds.
Once a command to an address fails on the connection, commands to that address fail
without being sent (`BreakerOpen`, a connection error) for OPEN_SECONDS; the first one
after that tries again. The cache recovery thread (common/cache_recovery.py) is let through at
once, so it finds the cache answering within its own retry interval, and its success
closes the breaker for every thread. Every caller already treats a failed command as an
outage, so the breaker changes when the outage is noticed, never what happens then.
"""

import threading
from time import monotonic
from typing import Any

from redis.connection import AbstractConnection, Connection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# How long after a failure commands to the address fail without being tried.
OPEN_SECONDS = 1.0

# When the breaker of each address (host and port, or socket path) opened (monotonic).
_opened: dict[tuple[str, int | str], float] = {}
_through = threading.local()


class BreakerOpen(RedisConnectionError):
    """A command not sent: a command to the same address failed less than OPEN_SECONDS ago."""


def breaker_bypass() -> None:
    """Let this thread's commands through open breakers: the thread that probes a failed Redis."""
    _through.active = True


def breakers_reset() -> None:
    """Close every breaker of this process."""
    _opened.clear()


class Breaker(AbstractConnection):
    """A connection that fails at once while its address's breaker is open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A Unix socket's path, else the TCP host and port.
        path = getattr(self, "path", None)
        self._address: tuple[str, int | str] = (
            (str(path), "") if path else (str(getattr(self, "host", "")), getattr(self, "port", ""))
        )

    def _breaker_check(self) -> None:
        opened = _opened.get(self._address)
        if (
            opened is not None
            and monotonic() - opened < OPEN_SECONDS
            and not getattr(_through, "active", False)
        ):
            raise BreakerOpen(f"Redis at {self._address[0]}:{self._address[1]} failed just now")

    def _breaker_trip(self) -> None:
        _opened[self._address] = monotonic()

    def connect(self) -> None:
        """Connect, unless the address failed just now."""
        self._breaker_check()
        try:
            super().connect()
        except (RedisConnectionError, RedisTimeoutError):
            self._breaker_trip()
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send a command, unless the address failed just now."""
        self._breaker_check()
        try:
            super().send_packed_command(command, check_health)
        except (RedisConnectionError, RedisTimeoutError):
            self._breaker_trip()
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; a reply closes the address's breaker, a failure opens it."""
        try:
            response = super().read_response(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError):
            self._breaker_trip()
            raise
        if _opened:
            _opened.pop(self._address, None)
        return response


_classes: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def breaker_connection_class(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """`base` (TCP, TLS or Unix socket connection) with the breaker."""
    if base not in _classes:
        _classes[base] = type(f"Breaker{base.__name__}", (Breaker, base), {})
    return _classes[base]


class BreakerPool(ConnectionPool):
    """redis-py's connection pool, whose connections have the breaker."""

    def __init__(
        self, connection_class: type[AbstractConnection] = Connection, **kwargs: Any
    ) -> None:
        super().__init__(connection_class=breaker_connection_class(connection_class), **kwargs)
