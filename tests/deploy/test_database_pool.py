"""DATABASE_POOL: Django's psycopg pool, and the refresh rotation still atomic through it."""

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from django.contrib.auth.models import User
from django.db.models import F

from common.conf import dualauth_settings
from common.models import LoginFamily
from tests.conftest import PASSWORD, require_service, uses_postgres
from tests.deploy.conftest import ROOT
from tests.live import LiveServer, database_url, refresh_race, refresh_rounds

pytestmark = pytest.mark.server
WORKERS = 2
THREADS = 8
# Fewer connections than threads: requests queue for them, and the bound shows.
POOL_MAX_SIZE = 2
RACERS = 16
ROUNDS = 3
POSTGRES_URL = "postgres://dualauth@db.example:5432/dualauth"


def connection_count(conn: psycopg.Connection[Any], application_name: str) -> int:
    """How many connections to PostgreSQL `application_name` holds now."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
    ).fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class PooledServer:
    """A gunicorn server on a connection pool, its connections named for pg_stat_activity."""

    server: LiveServer
    application_name: str

    def connections(self) -> int:
        """How many connections to PostgreSQL the server holds now."""
        with psycopg.connect(database_url(), autocommit=True) as conn:
            return connection_count(conn, self.application_name)


@pytest.fixture
def pooled(live_server_factory: Callable[..., LiveServer], live_user: User) -> PooledServer:
    """Two workers of eight threads, each worker on a pool of two connections at most."""
    require_service(uses_postgres(), "the pool is PostgreSQL's (set DATABASE_URL)")
    name = f"dualauth-pool-{uuid.uuid4().hex[:8]}"
    server = live_server_factory(
        workers=WORKERS,
        threads=THREADS,
        DATABASE_URL=f"{database_url()}?application_name={name}",
        DATABASE_POOL="true",
        DATABASE_POOL_MIN_SIZE="1",
        DATABASE_POOL_MAX_SIZE=str(POOL_MAX_SIZE),
    )
    return PooledServer(server=server, application_name=name)


def login(url: str) -> str:
    """Alice's refresh token from a fresh token login."""
    response = httpx.post(f"{url}/api/jwt/token/", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["refresh"])


@pytest.fixture
def peak_connections(pooled: PooledServer) -> Iterator[Callable[[], int]]:
    """The most connections the pooled server held at once while the test ran, sampled."""
    stop = threading.Event()
    peak = [0]

    def sample() -> None:
        with psycopg.connect(database_url(), autocommit=True) as conn:
            while not stop.is_set():
                peak[0] = max(peak[0], connection_count(conn, pooled.application_name))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield lambda: peak[0]
    finally:
        stop.set()
        sampler.join()


def test_many_refreshes_of_one_token_through_the_pool_yield_one_new_refresh_token(
    pooled: PooledServer,
) -> None:
    refresh = refresh_rounds(
        pooled.server.url, login(pooled.server.url), racers=RACERS, rounds=ROUNDS
    )
    family = LoginFamily.objects.get()
    assert family.revoked_at is None
    assert family.refresh_jti == jwt.decode(refresh, options={"verify_signature": False})["jti"]


def test_a_reuse_after_the_grace_window_through_the_pool_revokes_the_family(
    pooled: PooledServer,
) -> None:
    url = pooled.server.url
    old = login(url)
    current = httpx.post(f"{url}/api/jwt/token/refresh/", json={"refresh": old}).json()["refresh"]
    # The grace window has passed, as far as the database can tell.
    grace = dualauth_settings.REFRESH_GRACE_PERIOD
    LoginFamily.objects.update(
        refresh_issued_at=F("refresh_issued_at") - grace - timedelta(seconds=1)
    )
    responses = refresh_race(url, old, RACERS)
    assert {r.status_code for r in responses} == {401}, [r.text for r in responses]
    assert "token_reused" in {r.json()["code"] for r in responses}
    family = LoginFamily.objects.get()
    assert family.revoked_at is not None
    assert family.revoke_reason == "reuse"
    after = httpx.post(f"{url}/api/jwt/token/refresh/", json={"refresh": current})
    assert after.status_code == 401
    assert after.json()["code"] == "token_revoked"


def test_each_worker_holds_no_more_connections_than_its_pool_allows_under_load(
    pooled: PooledServer, peak_connections: Callable[[], int]
) -> None:
    refresh_rounds(pooled.server.url, login(pooled.server.url), racers=RACERS, rounds=ROUNDS)
    assert 1 <= peak_connections() <= WORKERS * POOL_MAX_SIZE
    assert 1 <= pooled.connections() <= WORKERS * POOL_MAX_SIZE


def database_settings(**env: str) -> dict[str, Any]:
    """DATABASES["default"] as project/settings.py makes it from `env`, in a new process."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from project import settings; "
            "print(json.dumps(settings.DATABASES['default'], default=str))",
        ],
        env={**os.environ, "DATABASE_URL": POSTGRES_URL, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = json.loads(result.stdout)
    assert isinstance(loaded, dict)
    return loaded


def test_database_pool_sets_what_djangos_pool_requires() -> None:
    database = database_settings(DATABASE_POOL="true", GUNICORN_THREADS="6", DATABASE_TIMEOUT="2")
    # Django refuses persistent connections beside a pool.
    assert database["CONN_MAX_AGE"] == 0
    # A server-side cursor is session state, which a pooled connection must not carry.
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert database["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 6, "timeout": 2}


def test_the_pool_sizes_are_read_from_the_environment() -> None:
    database = database_settings(
        DATABASE_POOL="true", DATABASE_POOL_MIN_SIZE="3", DATABASE_POOL_MAX_SIZE="9"
    )
    pool = database["OPTIONS"]["pool"]
    assert (pool["min_size"], pool["max_size"]) == (3, 9)


def test_without_a_pool_connections_persist_and_server_side_cursors_follow_the_setting() -> None:
    database = database_settings(DATABASE_POOL="false")
    assert database["CONN_MAX_AGE"] == 600
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert "pool" not in database["OPTIONS"]
    # Behind PgBouncer in transaction mode.
    database = database_settings(DATABASE_POOL="false", DATABASE_SERVER_SIDE_CURSORS="false")
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_a_pool_on_a_database_other_than_postgresql_fails_the_checks(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
            "DATABASE_POOL": "true",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "dualauth.E039" in result.stderr
