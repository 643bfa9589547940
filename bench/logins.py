"""Logins per second, and the CPU of one, under each password hasher.

Each hasher gets a dualauth server of its own, in production settings with
`PASSWORD_HASHERS` naming that hasher first (so that no login rehashes a password),
and users whose passwords it hashed.
"""

import json
import statistics
import time
from itertools import cycle, islice
from typing import Any

import httpx
from django.conf import global_settings

from bench.cpu import server_cpu, spent
from bench.env import BenchEnv
from bench.load import LoadGenerator, Request
from bench.seed import PASSWORD, users_create, users_named
from bench.server import DUALAUTH, BenchServer
from common.routes import JWT_HEADER, mode_path

HASHERS = {
    "pbkdf2": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "argon2": "django.contrib.auth.hashers.Argon2PasswordHasher",
}
LOGIN_USERS = 50
LOGIN_PREFIX = "bench-login-"


def _login_requests(prefix: str) -> list[Request]:
    from django.contrib.auth import get_user_model

    names = users_named(prefix)
    path, headers = mode_path(JWT_HEADER, "login"), {"Content-Type": "application/json"}
    return [
        Request(path, headers, "POST", json.dumps({"username": name, "password": PASSWORD}))
        for name in names.values_list(get_user_model().USERNAME_FIELD, flat=True)
    ]


def _sequential_ms(base_url: str, requests: list[Request], calls: int) -> float:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        times = []
        for r in islice(cycle(requests), calls):
            start = time.perf_counter()
            client.post(r.path, headers=r.headers, content=r.body).raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def login_server(env: BenchEnv, name: str, **flags: Any) -> BenchServer:
    """A dualauth server preferring hasher `name` (not started; `flags`: gunicorn's `workers`
    and `threads`), and users it hashed.
    """
    users_create(f"{LOGIN_PREFIX}{name}-", LOGIN_USERS, hasher=HASHERS[name])
    # That hasher first, then Django's defaults.
    order = ",".join(dict.fromkeys([HASHERS[name], *global_settings.PASSWORD_HASHERS]))
    return BenchServer(env, DUALAUTH, name=f"logins-{name}", PASSWORD_HASHERS=order, **flags)


def hasher_measure(
    load: LoadGenerator, server: BenchServer, name: str, args: Any
) -> dict[str, Any]:
    """Logins on `server` (of `login_server`): one at a time, and saturated; then stop it.

    `args` gives the sequential logins (`calls`) and the saturated load's seconds
    (`login_duration`).
    """
    logins = _login_requests(f"{LOGIN_PREFIX}{name}-")
    try:
        before = server_cpu(server.pid)
        sequential = _sequential_ms(server.url, logins, args.calls)
        after = server_cpu(server.pid)
        throughput = load.run(server.url, logins, args.login_duration)
    finally:
        server.stop()
    return {
        "hasher": HASHERS[name],
        "login_median_ms": sequential,
        "logins_per_s": throughput["rps"],
        "login_p50_ms": throughput["p50_ms"],
        "login_errors": throughput["errors"],
        # One login at a time, each complete: what the server spends on one.
        "cpu_ms_per_login": spent(before, after) * 1000 / args.calls if after else None,
    }
