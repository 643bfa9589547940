"""`python -m bench.inproc INPUT`: requests through one project's WSGI app, in-process.

Run with the settings module of the project to measure (DJANGO_SETTINGS_MODULE) and the
run's database and cache; INPUT is a JSON file: the number of requests per batch, and
the configurations' requests (method, path, headers, body) by name. For each,
after a warm-up pass over every request: the time per request without a profiler, then
under cProfile where it goes by layer, and the SQL queries and Redis round trips per
request (calls counted by the profiler); with a `counter` (bench/instructions.py), it
marks for callgrind the warm requests to count instead. Prints JSON, by configuration.
This module imports nothing but Django and the standard library, so that it can serve
the stock project untouched.
"""

import cProfile
import ctypes
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import django

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# (file, function) of the frames whose inclusive time makes each layer.
WSGI_CALL = ("django/core/handlers/wsgi.py", "__call__")
DISPATCH = ("rest_framework/views.py", "dispatch")
INITIALIZE = ("rest_framework/views.py", "initialize_request")
AUTHENTICATE = ("rest_framework/request.py", "_authenticate")
RENDER = ("rest_framework/response.py", "rendered_content")
SQL = ("django/db/backends/utils.py", "_execute")
REDIS = (("redis/client.py", "execute_command"), ("redis/client.py", "execute"))
# Overridden by subclasses that call up: the outermost (largest) frame of the name counts.
OUTERMOST = ("initial", "finalize_response")
BATCHES = 3
WARM_PASSES = 5
# Where the requests go, as a signed request names it.
INPROC_URL = "http://127.0.0.1"


def environ(method: str, path: str, headers: dict[str, str], body: str) -> dict[str, Any]:
    """The WSGI environ of this request, as Django's test client builds one."""
    from django.test import RequestFactory

    factory = RequestFactory(HTTP_HOST=INPROC_URL.split("//")[1], REMOTE_ADDR="127.0.0.1")
    return factory.generic(method, path, body, "application/json", headers=headers).environ


def call(app: WsgiApp, env: dict[str, Any]) -> int:
    """Serve one request; its status code."""
    statuses: list[str] = []
    result = app(env, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(statuses[0][:3])


def _environs(requests: Iterator[list[Any]], n: int) -> list[dict[str, Any]]:
    """The environs of the next `n` of `requests`."""
    return [environ(*request) for request in islice(requests, n)]


def _serve_all(app: WsgiApp, envs: list[dict[str, Any]], name: str) -> None:
    for env in envs:
        status = call(app, env)
        assert status == 200, f"{name}: {status} for {env['PATH_INFO']}"


@contextmanager
def round_trips() -> Iterator[dict[str, int]]:
    """Count SQL statements (reads, writes) and Redis round trips (a pipeline is one) within,
    made by this thread (not, say, a `push` channel's heartbeat).
    """
    import redis
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts, thread = {"sql_reads": 0, "sql_writes": 0, "redis": 0}, threading.get_ident()
    command, execute = redis.Redis.execute_command, redis.client.Pipeline.execute

    def counted(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            counts["redis"] += threading.get_ident() == thread
            return original(*args, **kwargs)

        return call

    redis.Redis.execute_command = counted(command)  # type: ignore[method-assign]
    redis.client.Pipeline.execute = counted(execute)  # type: ignore[method-assign]
    try:
        with CaptureQueriesContext(connection) as queries:
            yield counts
    finally:
        redis.Redis.execute_command = command  # type: ignore[method-assign]
        redis.client.Pipeline.execute = execute  # type: ignore[method-assign]
    for query in queries.captured_queries:
        verb = query["sql"].lstrip().split(" ", 1)[0].upper()
        if verb == "SELECT":
            counts["sql_reads"] += 1
        elif verb in {"INSERT", "UPDATE", "DELETE"}:
            counts["sql_writes"] += 1


def _inclusive(stats: dict[Any, Any], where: tuple[str, str]) -> float:
    """Seconds spent in the function `where` (a file suffix and a name), callees included."""
    return sum(
        value[3]
        for (filename, _, function), value in stats.items()
        if function == where[1] and filename.endswith(where[0])
    )


def _outermost(stats: dict[Any, Any], function: str) -> float:
    """Seconds in the outermost frame of `function`, whichever class defines it."""
    return max((value[3] for (_, _, name), value in stats.items() if name == function), default=0.0)


def layers(stats: dict[Any, Any], n: int) -> dict[str, float]:
    """Microseconds per request in each layer, under the profiler; they add up to `total`."""
    wheres = (WSGI_CALL, DISPATCH, AUTHENTICATE, INITIALIZE, RENDER)
    total, dispatch, authentication, initialize, render = (_inclusive(stats, w) for w in wheres)
    initial, finalize = (_outermost(stats, function) for function in OUTERMOST)
    seconds = {
        "total": total,
        "django_middleware": total - dispatch - render,
        "drf_request_response": initialize + finalize,
        "authentication": authentication,
        "permissions_negotiation": initial - authentication,
        "view": dispatch - initialize - initial - finalize,
        "rendering": render,
        "cache_round_trips": sum(_inclusive(stats, where) for where in REDIS),
        "sql": _inclusive(stats, SQL),
    }
    return {name: value / n * 1e6 for name, value in seconds.items()}


def warmed(app: WsgiApp, name: str, spec: dict[str, Any]) -> Iterator[list[Any]]:
    """The requests of `spec` in turn, after warm-up passes of `warm` of them (one per user)."""
    requests, before = cycle(spec["requests"]), None
    # Passes over the users until one asks the database and Redis what the one before did:
    # a `push` process serves from memory only once its channel is trusted.
    for _ in range(WARM_PASSES):
        with round_trips() as counts:
            _serve_all(app, _environs(requests, spec["warm"]), name)
        if counts == before:
            break
        before = counts
    return requests


def profile(app: WsgiApp, name: str, spec: dict[str, Any], n: int) -> dict[str, Any]:
    """Time per request without the profiler, then each layer's share under it, warm."""
    requests = warmed(app, name, spec)
    timings = []
    for _ in range(BATCHES):
        envs = _environs(requests, n)
        start = time.perf_counter()
        _serve_all(app, envs, name)
        timings.append((time.perf_counter() - start) / n * 1e6)
    envs = _environs(requests, n)
    with round_trips() as counts, cProfile.Profile() as profiler:
        _serve_all(app, envs, name)
    profiler.create_stats()
    stats = profiler.stats
    return {
        "us_per_request": statistics.median(timings),
        "profiled": layers(stats, n),
        "sql_per_request": (counts["sql_reads"] + counts["sql_writes"]) / n,
        "redis_per_request": counts["redis"] / n,
    }


def counted(
    app: WsgiApp, name: str, spec: dict[str, Any], n: int, counter: ctypes.CDLL
) -> dict[str, Any]:
    """Under callgrind, warm: `n` requests between zeroed counts and a dump named `name`
    (bench/instructions.py reads it), and their SQL and Redis round trips.
    """
    envs = _environs(warmed(app, name, spec), n)
    with round_trips() as counts:
        counter.counts_zero()
        _serve_all(app, envs, name)
        counter.counts_dump(name.encode())
    return {
        "sql_per_request": (counts["sql_reads"] + counts["sql_writes"]) / n,
        "redis_per_request": counts["redis"] / n,
    }


def main() -> None:
    """Profile every configuration of INPUT; print JSON."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    django.setup()
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    n = spec["requests"]
    if "counter" in spec:
        counter = ctypes.CDLL(spec["counter"])
        figures = {name: counted(app, name, c, n, counter) for name, c in spec["configs"].items()}
    else:
        figures = {name: profile(app, name, c, n) for name, c in spec["configs"].items()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
