"""The adopting project: migrated into a fresh SQLite file, with a user, served by gunicorn."""

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bench.processes import ServerProcess, free_port, http_answer
from common.routes import MODE_ROUTES, SHARED_ROUTES
from tests.conftest import require_service
from tests.live import BIN, ROOT, TaskWorker, server_log_watch
from tests.mail import SmtpServer

SETTINGS = "tests.adoption.settings"
# Where the adopting project mounts dualauth's URLs (tests/adoption/urls.py): its paths are the
# route table's under it.
PREFIX = "/auth/v1/"
EMAIL = "ada@example.com"
PASSWORD = "an adopted passphrase 7"


def adoption_path(mode: str, endpoint: str) -> str:
    """Where the adopting project serves `endpoint` of `mode`."""
    return PREFIX + MODE_ROUTES[mode][endpoint]


def manage(env: dict[str, str], *args: str) -> str:
    """Run a management command of the adopting project; its output, or fail with it."""
    result = subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


class AdoptionServer(ServerProcess):
    """gunicorn serving the adopting project on a free port, stopped by PID."""

    def __init__(self, env: dict[str, str], log_path: Path, *, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path
        self.workers = workers

    def start(self, timeout: float = 20.0) -> "AdoptionServer":
        """Start the server and wait until dualauth's health endpoint under the prefix is ok."""
        self._launch(
            [
                str(BIN / "gunicorn"),
                "tests.wsgi:validated('tests.adoption.wsgi')",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={self.workers}",
                "--threads=4",
                "--worker-class=gthread",
                "--timeout=30",
                "--graceful-timeout=2",
            ],
            lambda: http_answer(f"{self.url}{PREFIX}{SHARED_ROUTES['health']}", accept={200}),
            timeout=timeout,
            cwd=ROOT,
            env=self.env,
        )
        server_log_watch(self.log_path)
        return self


@pytest.fixture(scope="module")
def adoption_database(
    tmp_path_factory: pytest.TempPathFactory, smtp_server: SmtpServer
) -> dict[str, str]:
    """The environment of the adopting project, whose fresh database is migrated and has Ada."""
    env = {
        key: value
        for key, value in os.environ.items()
        # This process's settings, cache and database are not the adopting project's.
        if key not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL", "DATABASE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        SECRET_KEY=secrets.token_urlsafe(50),
        JWT_SIGNING_KEY=secrets.token_urlsafe(48),
        SQLITE_PATH=str(tmp_path_factory.mktemp("adoption") / "db.sqlite3"),
        **smtp_server.env,
    )
    manage(env, "migrate", "--noinput")
    # A user made the project's own way, as its users were before it adopted dualauth.
    manage(
        {**env, "DJANGO_SUPERUSER_EMAIL": EMAIL, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        "createsuperuser",
        "--noinput",
    )
    return env


@pytest.fixture(scope="module", params=["redis", "process-local"])
def adoption_env(
    request: pytest.FixtureRequest, adoption_database: dict[str, str]
) -> Iterator[dict[str, str]]:
    """The environment of the adopting project with Redis as its cache, or with none."""
    if request.param == "process-local":
        yield adoption_database
        return
    url = os.environ.get("REDIS_URL", "")
    require_service(
        bool(url), "needs REDIS_URL: the cache an adopting project shares between processes"
    )
    prefix = f"adoption-{os.environ.get('CACHE_KEY_PREFIX', '')}-{uuid.uuid4().hex[:8]}"
    yield {**adoption_database, "REDIS_URL": url, "CACHE_KEY_PREFIX": prefix}
    # Others share this Redis: leave none of the project's keys behind.
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def adoption_server(
    adoption_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AdoptionServer]:
    """The adopting project served by gunicorn (two workers sharing Redis, or one on its own),
    with a task worker sending its mail.
    """
    workers = 2 if "REDIS_URL" in adoption_env else 1
    log_path = tmp_path_factory.mktemp("adoption-server") / "gunicorn.log"
    server = AdoptionServer(adoption_env, log_path, workers=workers).start()
    # Sends the account mail the server queues.
    worker = TaskWorker(**adoption_env).start()
    yield server
    worker.stop()
    server.stop()
