"""Per-request counts (SQL in-process, Redis on the real server), and login and refresh costs."""

import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis

from bench.configs import Config
from bench.env import ROOT, BenchEnv
from bench.load import Request
from bench.seed import PASSWORD, USERNAME, csrf_client, token_login
from bench.server import Project
from common.routes import JWT_COOKIE, JWT_HEADER, SESSION, mode_path


def inproc(
    env: BenchEnv, project: Project, tasks: dict[str, int], configs: Sequence[Config]
) -> dict[str, dict[str, Any]]:
    """Run `python -m bench.inproc` over `configs` in a process of `project`'s settings.

    `tasks` maps each task (`sql`, `profile`) to its number of requests.
    """
    spec = {
        "tasks": tasks,
        "configs": [
            {
                "name": c.name,
                "requests": [[r.method, r.path, r.headers, r.body] for r in c.requests],
            }
            for c in configs
        ],
    }
    path = env.tmpdir / f"inproc-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(spec))
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.inproc", str(path)],
        cwd=ROOT,
        env=env.server_env(project.settings),
        capture_output=True,
        text=True,
        check=False,
    )
    path.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"bench.inproc ({project.settings}):\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout))


def in_each_project(
    env: BenchEnv, configs: Sequence[Config], tasks: dict[str, int], *, parallel: bool
) -> dict[str, dict[str, Any]]:
    """`tasks` over `configs`, one process per project: at once if `parallel`, else in turn.

    Counts do not depend on the machine's load; timings want the machine to themselves.
    """
    projects = list(dict.fromkeys(c.project for c in configs))
    with ThreadPoolExecutor(len(projects) if parallel else 1) as pool:
        futures = [
            pool.submit(inproc, env, p, tasks, [c for c in configs if c.project is p])
            for p in projects
        ]
        results: dict[str, dict[str, Any]] = {task: {} for task in tasks}
        for future in futures:
            for task, measured in future.result().items():
                results[task].update(measured)
    return results


def sql_per_request(env: BenchEnv, configs: Sequence[Config], n: int) -> dict[str, float]:
    """SQL queries per request of each configuration, steady state, in its project's settings."""
    return in_each_project(env, configs, {"sql": n}, parallel=True)["sql"]


def redis_per_request(
    base_url: str, request: Request, redis_url: str, prefix: str, n: int
) -> float | None:
    """Redis commands per request naming this run's `prefix`, on the real server (MONITOR).

    None without Redis. After 3 warm-up requests, N sequential ones; the commands are
    counted until an `ECHO` marker comes through.
    """
    if not redis_url:
        return None
    marker = f"bench-end-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    counted = [0]
    with httpx.Client(base_url=base_url, headers=request.headers, timeout=30) as http:
        for _ in range(3):
            http.get(request.path).raise_for_status()
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
                http.get(request.path).raise_for_status()
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
    """Median ms of N sequential logins and refreshes in each mode, on a dualauth server."""
    costs: dict[str, dict[str, float | int]] = {}
    body = {"username": USERNAME, "password": PASSWORD}

    for name, path in (
        ("login-session", mode_path(SESSION, "login")),
        ("login-jwt-cookie", mode_path(JWT_COOKIE, "login")),
    ):
        elapsed: list[float] = []
        for _ in range(calls):
            with csrf_client(base_url) as (client, csrf):
                start = time.perf_counter()
                client.post(path, json=body, headers={"X-CSRFToken": csrf}).raise_for_status()
                elapsed.append((time.perf_counter() - start) * 1000)
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
