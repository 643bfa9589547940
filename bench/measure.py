"""Per-request counts (SQL in-process, Redis on the real server), and login and refresh costs."""

import statistics
import threading
import time
import uuid
from collections.abc import Callable
from http.cookies import SimpleCookie

import httpx
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.seed import PASSWORD, USERNAME, Config, csrf_client, token_login
from common.routes import JWT_COOKIE, JWT_HEADER, SESSION, mode_path

HOST = "127.0.0.1"


def _django_client(config: Config) -> Client:
    client = Client(HTTP_HOST=HOST)
    for name, value in config.headers.items():
        if name == "Cookie":
            client.cookies = SimpleCookie(value)
        else:
            client.defaults[f"HTTP_{name.upper().replace('-', '_')}"] = value
    return client


def sql_per_request(config: Config, n: int) -> float:
    """SQL queries per request of `config`, steady state, through Django in this process."""
    client = _django_client(config)
    for _ in range(3):
        response = client.get(config.path)
        assert response.status_code == 200, (config.name, response.content)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(n):
            client.get(config.path)
    return len(queries.captured_queries) / n


def redis_per_request(base_url: str, config: Config, n: int) -> float | None:
    """Redis commands per request of `config` on the real server (MONITOR), None without Redis."""
    redis_url = settings.CACHES["default"].get("LOCATION") if settings.REDIS_URL else None
    if not redis_url:
        return None
    prefix = f"{settings.CACHE_KEY_PREFIX}:"
    marker = f"bench-end-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    counted = [0]
    with httpx.Client(base_url=base_url, headers=config.headers, timeout=30) as http:
        for _ in range(3):
            http.get(config.path).raise_for_status()
        with client.monitor() as monitor:

            def read() -> None:
                while True:
                    command = monitor.next_command()["command"]
                    if marker in command:
                        return
                    counted[0] += prefix in command

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            for _ in range(n):
                http.get(config.path).raise_for_status()
            client.echo(marker)
            reader.join(timeout=30)
    client.close()
    return counted[0] / n


def _timed(calls: int, call: Callable[[], object]) -> dict[str, float | int]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    return {"median_ms": median, "per_s": 1000 / median, "n": calls}


def login_refresh_costs(base_url: str, calls: int) -> dict[str, dict[str, float | int]]:
    """Median ms of N sequential logins and refreshes in each mode (PBKDF2 as in production)."""
    costs: dict[str, dict[str, float | int]] = {}
    body = {"username": USERNAME, "password": PASSWORD}

    def timed_with_csrf(path: str) -> Callable[[], None]:
        def prepared() -> None:
            with csrf_client(base_url) as (client, csrf):
                start = time.perf_counter()
                client.post(path, json=body, headers={"X-CSRFToken": csrf}).raise_for_status()
                elapsed.append((time.perf_counter() - start) * 1000)

        return prepared

    for name, path in (
        ("login-session", mode_path(SESSION, "login")),
        ("login-jwt-cookie", mode_path(JWT_COOKIE, "login")),
    ):
        elapsed: list[float] = []
        run = timed_with_csrf(path)
        for _ in range(calls):
            run()
        median = statistics.median(elapsed)
        costs[name] = {"median_ms": median, "per_s": 1000 / median, "n": calls}

    with httpx.Client(base_url=base_url, timeout=30) as http:
        costs["login-jwt"] = _timed(
            calls, lambda: http.post(mode_path(JWT_HEADER, "login"), json=body).raise_for_status()
        )
        refresh = [token_login(base_url)["refresh"]]

        def rotate() -> None:
            response = http.post(mode_path(JWT_HEADER, "refresh"), json={"refresh": refresh[0]})
            response.raise_for_status()
            refresh[0] = response.json()["refresh"]

        costs["refresh-jwt"] = _timed(calls, rotate)

    with csrf_client(base_url) as (client, csrf):
        client.post(
            mode_path(JWT_COOKIE, "login"), json=body, headers={"X-CSRFToken": csrf}
        ).raise_for_status()

        def rotate_cookie() -> None:
            # A login may rotate the CSRF cookie: send whatever the browser now holds.
            headers = {"X-CSRFToken": client.cookies["csrftoken"]}
            client.post(mode_path(JWT_COOKIE, "refresh"), headers=headers).raise_for_status()

        costs["refresh-jwt-cookie"] = _timed(calls, rotate_cookie)
    return costs
