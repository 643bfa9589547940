"""`python -m bench`: stock Django, DRF and simplejwt against dualauth on real servers.

Stock rows run a stock project (bench/stock/); dualauth runs its production settings.
Every server has the same gunicorn flags; every row is loaded with one credential per
user, in turn, over the same connections; configurations are interleaved.
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.env import RESULTS, BenchEnv, env_flag, measured
from bench.load import LoadGenerator, Progress
from bench.profile import default_requests, profile_configs
from bench.report import results_write

# What each run measures, and its summary the medians of.
FIGURES = ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "backend_cpu_ms_per_request")
NOTE = (
    "Medians of interleaved repeats (A, B, C, A, B, C, ...); the load generator runs on the "
    "same machine. Absolute numbers depend on the machine and on what else runs on it: "
    "compare configurations within one run, not across runs. CPU ms/req is the user + "
    "system time of the gunicorn master and workers per request served; `x baseline` is "
    "req/s over the baseline's req/s, and for CPU the baseline's CPU per request over the "
    "row's (both: 1.00 is as cheap as the baseline, lower is dearer)."
)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with quick-mode defaults."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", default=env_flag(os.environ.get("BENCH_QUICK"))
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    parser.add_argument("--duration", type=float, help="seconds per measurement")
    parser.add_argument("--repeats", type=int, help="interleaved repeats per configuration")
    parser.add_argument("--users", type=int, default=1000, help="users, one credential each")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads (1: sync workers)")
    parser.add_argument("--calls", type=int, help="sequential logins per hasher")
    parser.add_argument(
        "--hashers", default="pbkdf2,argon2", help="password hashers to log in with ('' for none)"
    )
    parser.add_argument("--login-duration", type=float, help="seconds per login measurement")
    parser.add_argument("--flood-rate", type=float, default=20.0, help="logins/s of the flood")
    parser.add_argument("--profile-requests", type=int, help="profiled requests per config")
    parser.add_argument(
        "--sweep", default="on", help="on (default), off, or only; 1 and 0 mean on and off"
    )
    parser.add_argument("--sizes", help="comma-separated sweep sizes")
    args = parser.parse_args(argv)
    args.sweep = {"1": "on", "0": "off", "true": "on", "false": "off"}.get(args.sweep, args.sweep)
    if args.sweep not in {"on", "off", "only"}:
        parser.error("--sweep is on, off or only")
    args.hashers = [name for name in args.hashers.split(",") if name]
    quick = args.quick
    args.duration = args.duration or (2.0 if quick else 10.0)
    args.repeats = args.repeats or (1 if quick else 3)
    args.calls = args.calls or (3 if quick else 15)
    # A PBKDF2 login takes a good part of a second: a short run would see hardly any end.
    args.login_duration = args.login_duration or max(args.duration, 5.0)
    args.profile_requests = args.profile_requests or default_requests(quick)
    return args


def sweep_sizes(args: argparse.Namespace, env: BenchEnv) -> list[int]:
    """The sweep sizes: capped at 100k on SQLite."""
    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
    elif args.quick:
        sizes = [1_000, 5_000]
    else:
        sizes = [1_000, 10_000, 100_000, 1_000_000]
    return sizes if env.postgres else [size for size in sizes if size <= 100_000]


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of the runs' figures, their errors, and the runs."""
    medians = {f: _median([run[f] for run in runs]) for f in FIGURES}
    return {**medians, "errors": sum(run["errors"] for run in runs), "runs": runs}


def measure(load: LoadGenerator, server: Any, config: Any, duration: float) -> dict[str, Any]:
    """One pass over the users to warm up, then `duration` s of load, and the CPU it took."""
    from bench.cpu import cpu_sample, spent

    redis_url = server.env["REDIS_URL"]
    load.warm(server.url, config.requests)
    before = cpu_sample(server.pid, redis_url)
    result = load.run(server.url, config.requests, duration)
    after = cpu_sample(server.pid, redis_url)
    cpu: list[float | None] = [None, None]
    if before and after and result["requests"]:
        cpu = [spent(b, a) * 1000 / result["requests"] for b, a in zip(before, after, strict=True)]
    return {**result, **dict(zip(FIGURES[3:], cpu, strict=True))}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write its outputs."""
    args = arguments(argv)
    result, out = measured("bench", lambda env: _run(args, env), args.out)
    result["meta"]["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    for path in results_write(result, out):
        print(path)
    print((out / "latest.md").read_text())


def _run(args: argparse.Namespace, env: BenchEnv) -> dict[str, Any]:
    """Every server up at once, measured in turn, then stopped."""
    from bench.configs import configs_seed
    from bench.logins import login_server
    from bench.seed import USER_PREFIX, users_create
    from bench.server import (
        DUALAUTH,
        STOCK,
        STOCK_CACHE,
        STOCK_CACHED_DB,
        BenchServer,
        servers_start,
        servers_stop,
    )

    load = LoadGenerator(connections=args.connections, threads=args.wrk_threads)
    users = users_create(USER_PREFIX, args.users)
    flags = {"workers": args.workers, "threads": args.threads}
    projects = [DUALAUTH, STOCK, STOCK_CACHED_DB, *([STOCK_CACHE] if env.redis_url else [])]
    servers = {p: BenchServer(env, p, name=p.settings.replace(".", "-"), **flags) for p in projects}
    hashers = args.hashers if args.sweep != "only" else []
    login_servers = {name: login_server(env, name, **flags) for name in hashers}
    everything = [*servers.values(), *login_servers.values()]
    try:
        # The servers boot while the credentials are made.
        with ThreadPoolExecutor(1) as pool:
            booted = pool.submit(servers_start, everything)
            configs = configs_seed(env, users)
            booted.result()
        result = _measure_all(args, env, load, servers, login_servers, configs)
    finally:
        servers_stop(everything)
    dualauth = servers[DUALAUTH]
    result["meta"] = {
        **env.meta,
        "load_generator": load.label,
        "connections": args.connections,
        "users": args.users,
        "workers": dualauth.workers,
        "threads": dualauth.threads,
        "worker_class": dualauth.worker_class,
        "duration_s": args.duration,
        "repeats": args.repeats,
        "flood_rate": args.flood_rate,
        "login_duration_s": args.login_duration,
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "note": NOTE,
    }
    return result


def _measure_all(
    args: argparse.Namespace,
    env: BenchEnv,
    load: LoadGenerator,
    servers: dict[Any, Any],
    login_servers: dict[str, Any],
    configs: list[Any],
) -> dict[str, Any]:
    from bench.logins import hasher_measure

    loaded = [] if args.sweep == "only" else configs
    sizes = sweep_sizes(args, env) if args.sweep != "off" else []
    progress = Progress(len(loaded) * args.repeats + bool(loaded) + len(login_servers) + len(sizes))
    runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in loaded}
    for repeat in range(args.repeats):
        for config in loaded:
            progress.step(f"{config.name} (repeat {repeat + 1}/{args.repeats})")
            runs[config.name].append(measure(load, servers[config.project], config, args.duration))
    profile = None
    if loaded:
        progress.step("the in-process profile: time, SQL and Redis per request")
        profile = {
            "requests": args.profile_requests,
            "configs": profile_configs(env, loaded, args.profile_requests),
        }
    results: dict[str, dict[str, Any]] = {}
    for config in loaded:
        profiled = profile["configs"][config.name] if profile else {}
        results[config.name] = {
            "description": config.description,
            "revocation": config.revocation,
            "project": config.project.settings,
            "path": config.path,
            "users": len(config.requests),
            **_summary(runs[config.name]),
            "sql_per_request": profiled["sql_per_request"],
            "redis_per_request": profiled["redis_per_request"],
            "credential_header": config.credential_header,
            "credential_bytes": config.credential_bytes,
        }
    _ratios(results)
    reads = next(c for c in configs if c.name == "jwt-header").requests
    logins = {}
    for name, server in login_servers.items():
        progress.step(f"logins: {name}")
        logins[name] = hasher_measure(
            load,
            server,
            name,
            list(reads),
            calls=args.calls,
            duration=args.login_duration,
            flood_rate=args.flood_rate,
        )
    sweep = _sweep(sizes, 50 if args.quick else 200, progress) if sizes else None
    return {"configs": results, "logins": logins, "profile": profile, "sweep": sweep}


def _ratios(results: dict[str, dict[str, Any]]) -> None:
    """Each row's req/s and CPU per request as ratios to the baseline's, in place."""
    baseline = results.get("baseline", {})
    for item in results.values():
        rps, cpu = baseline.get("rps"), baseline.get("cpu_ms_per_request")
        item["ratio_to_baseline"] = item["rps"] / rps if rps else None
        mine = item["cpu_ms_per_request"]
        item["cpu_ratio_to_baseline"] = cpu / mine if cpu and mine else None


def _cold_lookups(samples: int) -> dict[str, float]:
    """Median µs of a family-state read and a `db` session load that miss every cache."""
    from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
    from django.contrib.sessions.models import Session

    from common.models import LoginFamily
    from common.selectors import family_state_get

    family_ids = list(LoginFamily.objects.order_by("?").values_list("pk", flat=True)[:samples])
    session_keys = list(Session.objects.order_by("?").values_list("pk", flat=True)[:samples])
    family_times, session_times = [], []
    for family_id in family_ids:
        start = time.perf_counter()
        family_state_get(family_id=family_id)
        family_times.append((time.perf_counter() - start) * 1e6)
    for key in session_keys:
        start = time.perf_counter()
        DbSessionStore(key).load()
        session_times.append((time.perf_counter() - start) * 1e6)
    return {
        "family_us": statistics.median(family_times),
        "session_us": statistics.median(session_times),
    }


def _sweep(sizes: list[int], samples: int, progress: Progress) -> list[dict[str, Any]]:
    """At each size, that many stored logins and sessions, and their cold lookups."""
    from bench.seed import filler_rows_add, users_create

    users = [user.pk for user in users_create("bench-filler-", 1000)]
    stored = 0
    points = []
    for size in sizes:
        progress.step(f"sweep: {size:,} logins stored, and their cold lookups")
        filler_rows_add(size - stored, users)
        stored = size
        points.append({"size": size, **_cold_lookups(samples)})
    return points
