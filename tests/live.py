"""A real server process on a free port: gunicorn over the test database; what servers log."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from bench.processes import ServerProcess, free_port, http_answer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What a newcomer's configuration has none of: each server process keeps its own cache, and
# runserver gets a SQLite file of its own.
SHARED_SERVICES = ("DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX")
# What gunicorn serves in the tests: the project's application, checked as WSGI.
CHECKED_APPLICATION = "tests.wsgi:validated('project.wsgi')"
# A server's or worker's boot on a machine whose cores the suite saturates: seconds when
# quiet, tens of them when every core is busy (a process that fails to start fails sooner).
START_TIMEOUT = 60.0
# The log of every server a test started, and how much of it has been read for errors.
_watched_logs: dict[Path, int] = {}
# What a server writes when a request met an exception nothing handled: gunicorn's error log,
# Python's tracebacks outside a log record, and Django's record of a 500.
UNHANDLED_MARKS = (
    "Traceback (most recent call last):",
    "Error handling request",
    "Exception ignored",
)


def server_log_watch(log_path: Path) -> None:
    """Have the unhandled errors `log_path` gets from now on fail the test that caused them."""
    _watched_logs[log_path] = log_path.stat().st_size if log_path.exists() else 0


def server_logs_unhandled() -> list[str]:
    """The unhandled errors the watched servers logged since last asked, one text each."""
    found = []
    for log_path, read in _watched_logs.items():
        if not log_path.exists():
            continue
        with log_path.open("rb") as log:
            log.seek(read)
            text = log.read().decode(errors="replace")
        _watched_logs[log_path] = read + len(text.encode())
        found += [f"{log_path.name}: {line}" for line in text.splitlines() if _unhandled(line)]
    return found


def _unhandled(line: str) -> bool:
    """Whether a server's log line reports an exception that nothing handled."""
    if line.startswith(UNHANDLED_MARKS) or "Error handling request" in line:
        return True
    try:
        record = json.loads(line)
    except ValueError:
        return False
    if not isinstance(record, dict):
        return False
    # A JSON 500 (common/handlers.py and common/middleware.py log what they turned into one).
    return record.get("status_code") == 500 or str(record.get("message", "")).startswith(
        "unhandled error"
    )


def database_url(name: str | None = None) -> str:
    """A URL naming the database the tests use (the test database, once set up), or the
    database `name` on its PostgreSQL server.
    """
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{name or db['NAME']}"


@contextmanager
def database_of_its_own(suffix: str) -> Iterator[str]:
    """A fresh PostgreSQL database beside the test database, migrated; dropped at the end.

    For a server that lives through many tests: what its clients write over HTTP is
    committed, and would otherwise be there for the tests that count rows of their own.
    """
    name = f"{settings.DATABASES['default']['NAME']}_{suffix}"
    quoted = connection.ops.quote_name(name)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {quoted}")
    url = database_url(name)
    try:
        subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "--noinput", "--verbosity=0"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        yield url
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


class AppServer(ServerProcess):
    """This project served by a child process on a free port, its log watched for errors."""

    url: str
    env: dict[str, str]

    def _serve(self, args: list[str], *, accept: set[int], timeout: float) -> None:
        """Start `args` and wait until the health endpoint answers with a status in `accept`."""
        self._launch(
            args,
            lambda: http_answer(f"{self.url}/api/health/", accept=accept, timeout=1),
            timeout=timeout,
            cwd=ROOT,
            env=self.env,
        )
        server_log_watch(self.log_path)

    def log_text(self) -> str:
        """Everything the server wrote: its errors, the console's mail, the audit records."""
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """Kill the server and its worker processes at once (SIGKILL), as a crash would."""
        assert self.process is not None, "the server is running"
        for pid in [*children(self.process.pid), self.process.pid]:
            os.kill(pid, signal.SIGKILL)
        self.process.wait()
        self.process = None


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command's name, in parentheses, may hold spaces: the fields follow it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class TaskWorker(ServerProcess):
    """`manage.py db_worker`, sending the queued tasks of the test database; stopped by PID."""

    def __init__(self, **env: str) -> None:
        self.env = {**os.environ, "DATABASE_URL": database_url(), "TASK_BACKEND": "database", **env}
        fd, log_path = tempfile.mkstemp(prefix="dualauth-worker-", suffix=".log")
        os.close(fd)
        self.log_path = Path(log_path)

    def start(self, timeout: float = START_TIMEOUT) -> "TaskWorker":
        """Start the worker and wait until it says it runs."""
        args = [str(BIN / "python"), "manage.py", "db_worker", "--no-reload"]
        args += ["--no-startup-delay", "--interval=0.1"]
        self._launch(args, self._started, timeout=timeout, cwd=ROOT, env=self.env)
        server_log_watch(self.log_path)
        return self

    def _started(self) -> bool | None:
        return True if "Starting worker" in self.log_path.read_text(errors="replace") else None


class LiveServer(AppServer):
    """gunicorn serving this project, started and stopped by PID."""

    def __init__(self, *, workers: int = 2, threads: int = 4, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
            "DEBUG": "false",
            "FRONTEND_URL": f"{self.url}/",
            **env,
        }
        self.args = [
            str(BIN / "gunicorn"),
            CHECKED_APPLICATION,
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

    def start(self, timeout: float = START_TIMEOUT) -> "LiveServer":
        """Start the server and wait until its health endpoint answers."""
        self._serve(self.args, accept={200, 503}, timeout=timeout)
        return self


class RunServer(AppServer):
    """`make run`'s configuration: runserver (checked as WSGI: tests/runserver.py) on a fresh
    SQLite file, with the in-process cache; started and stopped by PID.

    Its settings are the project's (or DJANGO_SETTINGS_MODULE's), from this environment
    without the database, the cache and their prefix, with `env` over it.
    """

    def __init__(self, directory: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = directory / "db.sqlite3"
        self.log_path = directory / "runserver.log"
        self.env = {
            **{name: value for name, value in os.environ.items() if name not in SHARED_SERVICES},
            "DATABASE_URL": f"sqlite:///{self.database}",
            "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
            # As `make run` sets it.
            "FRONTEND_URL": f"{self.url}/",
            **env,
        }

    def start(self, timeout: float = 60.0) -> "RunServer":
        """Migrate its database, then serve until stopped; wait until its health answers."""
        python = str(BIN / "python")
        subprocess.run(
            [python, "manage.py", "migrate", "--noinput", "--verbosity=0"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        args = [python, "-m", "tests.runserver", f"127.0.0.1:{self.port}", "--noreload"]
        self._serve(args, accept={200}, timeout=timeout)
        return self


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
