"""The stack: a private Redis and two gunicorn instances sharing it and the test database."""

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from django.contrib.auth.models import User

from bench.processes import ServerProcess, free_port
from tests.conftest import require_service, uses_postgres
from tests.live import LiveServer
from tests.stack.clients import StackClient


class RedisServer(ServerProcess):
    """A throwaway redis-server on a port of its own, without persistence, stopped by PID."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log_path = log_path

    def client(self) -> redis.Redis:
        """A client of this server."""
        return redis.Redis(port=self.port, socket_timeout=2)

    def start(self, timeout: float = 10.0) -> "RedisServer":
        """Start the server (again, on the same port) and wait until it answers."""
        self._launch(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            self._pong,
            timeout=timeout,
            interval=0.05,
        )
        return self

    def _pong(self) -> bool | None:
        """True once the server answers a PING; None before."""
        try:
            return True if self.client().ping() else None
        except redis.ConnectionError:
            return None


@dataclass(frozen=True)
class Stack:
    """Two instances behind no proxy, sharing one Redis and the test database."""

    redis: RedisServer
    a: LiveServer
    b: LiveServer

    @property
    def urls(self) -> tuple[str, str]:
        """The base URL of each instance."""
        return (self.a.url, self.b.url)

    def health(self) -> list[httpx.Response]:
        """Each instance's answer to GET /api/health/."""
        return [httpx.get(f"{url}/api/health/", timeout=15) for url in self.urls]

    def wait_until_healthy(self, timeout: float = 20.0) -> None:
        """Poll both instances until both report every check ok."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(r.status_code == httpx.codes.OK for r in self.health()):
                return
            time.sleep(0.2)
        raise AssertionError(f"not healthy: {[r.text for r in self.health()]}")


@pytest.fixture(scope="session")
def stack(
    live_server_factory: Callable[..., LiveServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A private Redis and two gunicorn instances; stopped at the end of the session."""
    require_service(uses_postgres(), "the stack tests need PostgreSQL (DATABASE_URL)")
    require_service(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis_server = RedisServer(free_port(), tmp_path_factory.mktemp("redis") / "redis.log")
    redis_server.start()
    prefix = f"stack-{uuid.uuid4().hex[:8]}"
    try:
        a, b = (
            live_server_factory(
                REDIS_URL=redis_server.url,
                CACHE_KEY_PREFIX=prefix,
                # As deployed: the client closes idle connections before the server does.
                GUNICORN_CMD_ARGS="--keep-alive=75",
            )
            for _ in range(2)
        )
        yield Stack(redis=redis_server, a=a, b=b)
    finally:
        redis_server.stop()


@pytest.fixture(autouse=True)
def _fresh_stack_cache(stack: Stack) -> None:
    # Throttle counters and cached states of earlier tests' users start from nothing.
    if stack.redis.process is None:
        stack.redis.start()
    stack.redis.client().flushall()


@pytest.fixture
def stack_user(transactional_db: None, make_user: Callable[..., User]) -> User:
    """Alice, committed so that the instances see her."""
    return make_user("alice")


@pytest.fixture
def agents() -> Iterator[list[StackClient]]:
    """Agents made by a test; closed at its end."""
    made: list[StackClient] = []
    yield made
    for agent in made:
        agent.close()
