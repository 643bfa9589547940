"""Logins per second under each password hasher, and authenticated reads during a login flood.

Each hasher gets a dualauth server of its own, in production settings with
`PASSWORD_HASHERS` naming that hasher first (so that no login rehashes a password),
and users whose passwords it hashed.
"""

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle, islice
from typing import Any

import httpx
from django.conf import global_settings

from bench.cpu import server_cpu, server_idle_wait, spent
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
FLOOD_THREADS = 256


class Flood:
    """Logins sent at a fixed rate whatever the server's pace (an open loop), while in `with`."""

    def __init__(self, base_url: str, requests: list[Request], rate: float) -> None:
        self.requests = requests
        self.rate = rate
        self.sent = 0
        self.started = self.ended = 0.0
        self.done: list[tuple[float, float, bool]] = []
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(FLOOD_THREADS, thread_name_prefix="flood")
        self._client = httpx.Client(
            base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=FLOOD_THREADS)
        )

    def _login(self, r: Request) -> None:
        start = time.monotonic()
        try:
            ok = self._client.post(r.path, headers=r.headers, content=r.body).status_code == 200
        except httpx.HTTPError:
            ok = False
        self.done.append((start, time.monotonic(), ok))

    def _send(self) -> None:
        while not self._stop.wait(max(0, self.started + self.sent / self.rate - time.monotonic())):
            self._pool.submit(self._login, self.requests[self.sent % len(self.requests)])
            self.sent += 1

    def __enter__(self) -> "Flood":
        self.started = time.monotonic()
        self._sender = self._pool.submit(self._send)
        return self

    def __exit__(self, *exc: object) -> None:
        self.ended = time.monotonic()
        self._stop.set()
        self._sender.result()

    def close(self) -> None:
        """Let the logins still in flight end (their server is gone by now) and forget them."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def summary(self) -> dict[str, Any]:
        """What the flood offered and what the server answered within the window."""
        window = self.ended - self.started
        answered = [(s, e) for s, e, ok in self.done if ok and e <= self.ended]
        latencies = [(e - s) * 1000 for s, e in answered]
        return {
            "offered_per_s": self.sent / window,
            "answered_per_s": len(answered) / window,
            "login_p50_ms": statistics.median(latencies) if latencies else None,
            "failed": sum(1 for _, e, ok in self.done if not ok and e <= self.ended),
        }


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
    load: LoadGenerator, server: BenchServer, name: str, reads: list[Request], args: Any
) -> dict[str, Any]:
    """Logins/s on `server` (of `login_server`), reads/s alone and in a flood; then stop it.

    `args` gives the sequential logins (`calls`), each load's seconds (`login_duration`) and
    the flood's rate. The reads are warmed up as the main table's are (one pass over the
    users). The server is stopped before the flood's logins still queued are waited for:
    they die with it.
    """
    logins = _login_requests(f"{LOGIN_PREFIX}{name}-")
    flood = Flood(server.url, logins, args.flood_rate)
    duration = args.login_duration
    try:
        before = server_cpu(server.pid)
        sequential = _sequential_ms(server.url, logins, args.calls)
        after = server_cpu(server.pid)
        throughput = load.run(server.url, logins, duration)
        # The logins the load generator abandoned are still being hashed: let them finish.
        server_idle_wait(server.pid)
        load.warm(server.url, reads)
        alone = load.run(server.url, reads, duration)
        with flood:
            flooded = load.run(server.url, reads, duration)
    finally:
        server.stop()
        flood.close()
    return {
        "hasher": HASHERS[name],
        "login_median_ms": sequential,
        "logins_per_s": throughput["rps"],
        "login_p50_ms": throughput["p50_ms"],
        "login_errors": throughput["errors"],
        # One login at a time, each complete: what the server spends on one.
        "cpu_ms_per_login": spent(before, after) * 1000 / args.calls if after else None,
        "reads_alone": alone,
        "reads_flooded": flooded,
        "reads_ratio": flooded["rps"] / alone["rps"] if alone["rps"] else None,
        "flood": flood.summary(),
    }
