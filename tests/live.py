"""A real server process on a free port: gunicorn over the test database."""

import os
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from django.conf import settings

from bench.processes import ServerProcess, free_port, http_answer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def database_url() -> str:
    """A URL naming the database the tests use (the test database, once set up)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class LiveServer(ServerProcess):
    """gunicorn serving this project, started and stopped by PID."""

    def __init__(self, *, workers: int = 2, threads: int = 4, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
            "DEBUG": "false",
            **env,
        }
        self.args = [
            str(BIN / "gunicorn"),
            "project.wsgi",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={workers}",
            f"--threads={threads}",
            "--worker-class=gthread",
            "--timeout=30",
            "--graceful-timeout=2",
        ]
        fd, log_path = tempfile.mkstemp(prefix="dualauth-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(log_path)

    def start(self, timeout: float = 20.0) -> "LiveServer":
        """Start the server and wait until its health endpoint answers."""
        self._launch(
            self.args,
            lambda: http_answer(f"{self.url}/api/health/", accept={200, 503}, timeout=1),
            timeout=timeout,
            cwd=ROOT,
            env=self.env,
        )
        return self

    def log_text(self) -> str:
        """Everything the server wrote, audit records included."""
        return self.log_path.read_text(errors="replace")


def refresh_race(url: str, refresh: str, racers: int) -> list[httpx.Response]:
    """`racers` refreshes of one refresh token at the server `url`, released at one instant."""
    barrier = threading.Barrier(racers)

    def refresh_once(_: int) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            return client.post(f"{url}/api/jwt/token/refresh/", json={"refresh": refresh})

    with ThreadPoolExecutor(racers) as executor:
        return list(executor.map(refresh_once, range(racers)))


def refresh_rounds(url: str, refresh: str, *, racers: int, rounds: int) -> str:
    """`rounds` races of `racers` refreshes, each of the token the round before yielded:
    every refresh succeeds and each round yields exactly one new refresh token, the last
    of which is returned.
    """
    for _ in range(rounds):
        responses = refresh_race(url, refresh, racers)
        assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
        successors = {r.json()["refresh"] for r in responses}
        assert len(successors) == 1
        (refresh,) = successors
    return refresh
