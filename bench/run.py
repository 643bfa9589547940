"""`python -m bench`: stock Django, DRF and simplejwt against dualauth on real servers; a sweep.

Stock rows run a stock project (bench/stock/); dualauth runs its production settings.
Every server has the same gunicorn flags; every row is loaded with one credential per
user, in turn, over the same connections; configurations are interleaved.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.env import RESULTS, ROOT, BenchEnv, bench_env_setup, env_flag
from bench.load import WRK_INSTALL_HINT, LoadGenerator, LoadResult, Progress
from bench.profile import default_requests, profile_configs
from bench.report import results_write

# Each dualauth mode and the stock rows it is compared with, the nearest first.
PEERS = {
    "session": ("stock-session-cache", "stock-session-cached-db", "stock-session-db"),
    "jwt-header": ("stock-jwt",),
    "jwt-cookie": ("stock-jwt",),
}
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
    parser.add_argument("--warmup", type=float, help="seconds of warm-up before each run")
    parser.add_argument(
        "--warmup-max", type=float, help="seconds of warm-up at most, until dualauth's memos warm"
    )
    parser.add_argument("--users", type=int, default=1000, help="users, one credential each")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads (1: sync workers)")
    parser.add_argument("--calls", type=int, help="sequential logins/refreshes per operation")
    parser.add_argument(
        "--hashers", default="pbkdf2,argon2", help="password hashers to log in with ('' for none)"
    )
    parser.add_argument("--login-duration", type=float, help="seconds per login measurement")
    parser.add_argument("--flood-rate", type=float, default=20.0, help="logins/s of the flood")
    parser.add_argument(
        "--profile", default="on", choices=["on", "off"], help="the in-process profile"
    )
    parser.add_argument("--profile-requests", type=int, help="profiled requests per config")
    parser.add_argument(
        "--sweep", default="on", help="on (default), off, or only; 1 and 0 mean on and off"
    )
    parser.add_argument("--sizes", help="comma-separated sweep sizes")
    parser.add_argument("--sweep-duration", type=float, help="seconds per sweep measurement")
    parser.add_argument("--sweep-repeats", type=int, help="interleaved repeats per sweep size")
    parser.add_argument("--python-load", action="store_true", help="use the httpx load generator")
    args = parser.parse_args(argv)
    args.sweep = {"1": "on", "0": "off", "true": "on", "false": "off"}.get(args.sweep, args.sweep)
    if args.sweep not in {"on", "off", "only"}:
        parser.error("--sweep is on, off or only")
    args.hashers = [name for name in args.hashers.split(",") if name]
    quick = args.quick
    args.duration = args.duration or (2.0 if quick else 10.0)
    args.repeats = args.repeats or (1 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if quick else 3.0)
    args.warmup_max = args.warmup_max or (20.0 if quick else 60.0)
    args.calls = args.calls or (3 if quick else 15)
    # A PBKDF2 login takes a good part of a second: a short run would see hardly any end.
    args.login_duration = args.login_duration or max(args.duration, 5.0)
    args.profile_requests = args.profile_requests or default_requests(quick)
    args.sweep_duration = args.sweep_duration or (args.duration if quick else 5.0)
    args.sweep_repeats = args.sweep_repeats or (1 if quick else 2)
    return args


def sweep_sizes(args: argparse.Namespace, env: BenchEnv) -> tuple[list[int], str]:
    """The sweep sizes, and what they mean."""
    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
    elif args.quick:
        sizes = [1_000, 5_000]
    elif env.postgres:
        sizes = [1_000, 10_000, 100_000, 1_000_000]
    else:
        sizes = [1_000, 10_000, 100_000]
    note = (
        "each size is that many LoginFamily rows (mixed modes, one in five revoked, 1000 filler "
        "users) and that many django_session rows"
    )
    if not env.postgres and max(sizes) > 100_000:
        sizes = [size for size in sizes if size <= 100_000]
    if not env.postgres:
        note += "; capped at 100k on SQLite"
    return sizes, note


@dataclass(frozen=True)
class Measurement:
    """One load run of one configuration, and what the servers spent on it."""

    load: LoadResult
    cpu_ms: float | None
    backend_cpu_ms: float | None
    memo: dict[str, dict[str, int]] | None
    warmup_s: float

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            **self.load.as_dict(),
            "cpu_ms_per_request": self.cpu_ms,
            "backend_cpu_ms_per_request": self.backend_cpu_ms,
            "memo": self.memo,
            "warmup_s": self.warmup_s,
        }


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _memo_rates(runs: list[Measurement]) -> dict[str, dict[str, Any]] | None:
    """Hits, misses and hit rate of each memo, over every run; None for a stock row."""
    counted = [run.memo for run in runs if run.memo is not None]
    if not counted:
        return None
    rates = {}
    for name in counted[0]:
        hits = sum(memo[name]["hits"] for memo in counted)
        misses = sum(memo[name]["misses"] for memo in counted)
        rate = hits / (hits + misses) if hits + misses else None
        rates[name] = {"hits": hits, "misses": misses, "rate": rate}
    return rates


def _summary(runs: list[Measurement]) -> dict[str, Any]:
    return {
        "rps": statistics.median(r.load.rps for r in runs),
        "p50_ms": _median([r.load.p50_ms for r in runs]),
        "p99_ms": _median([r.load.p99_ms for r in runs]),
        "cpu_ms_per_request": _median([r.cpu_ms for r in runs]),
        "backend_cpu_ms_per_request": _median([r.backend_cpu_ms for r in runs]),
        "errors": sum(r.load.errors for r in runs),
        "memo": _memo_rates(runs),
        "warmup_s": [r.warmup_s for r in runs],
        "runs": [r.as_dict() for r in runs],
    }


def git_commit() -> str:
    """The commit the run starts from, `+dirty` when the working tree differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit}+dirty" if git("status", "--porcelain", "--untracked-files=no") else commit


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write its outputs."""
    args = arguments(argv)
    started = datetime.now(UTC)
    commit = git_commit()
    env = bench_env_setup()
    try:
        result = _run(args, env, started)
    finally:
        env.cleanup()
    result["meta"]["commit"] = commit
    for path in results_write(result, args.out):
        print(path)
    print((args.out / "latest.md").read_text())


def servers_start(servers: list[Any]) -> None:
    """Start every server at once, and wait until each answers."""
    with ThreadPoolExecutor(len(servers)) as pool:
        for future in [pool.submit(server.start) for server in servers]:
            future.result()


def _run(args: argparse.Namespace, env: BenchEnv, started: datetime) -> dict[str, Any]:
    from bench.configs import configs_seed
    from bench.logins import login_server
    from bench.seed import USER_PREFIX, bench_user_create, users_create
    from bench.server import DUALAUTH, STOCK, STOCK_CACHE, STOCK_CACHED_DB, BenchServer

    load = LoadGenerator(
        connections=args.connections, threads=args.wrk_threads, force_python=args.python_load
    )
    if load.wrk is None:
        print(f"{WRK_INSTALL_HINT}\nfalling back to: {load.label}", file=sys.stderr)
    bench_user_create()
    users = users_create(USER_PREFIX, args.users)
    memo_dir = env.tmpdir / "memo"
    memo_dir.mkdir()
    flags = {"workers": args.workers, "threads": args.threads}
    projects = [STOCK, STOCK_CACHED_DB, *([STOCK_CACHE] if env.redis_url else [])]
    servers = {
        DUALAUTH: BenchServer(
            env, DUALAUTH, name="dualauth", BENCH_MEMO_DIR=str(memo_dir), **flags
        ),
        **{p: BenchServer(env, p, name=p.settings.rsplit(".", 1)[-1], **flags) for p in projects},
    }
    measuring = args.sweep != "only"
    login_servers = {
        name: login_server(env, name, **flags) for name in (args.hashers if measuring else [])
    }
    everything = [*servers.values(), *login_servers.values()]
    try:
        # The servers boot while the credentials are made.
        with ThreadPoolExecutor(1) as pool:
            booted = pool.submit(servers_start, everything)
            configs = configs_seed(env, users)
            booted.result()
        for config in configs:
            for request in (config.requests[0], config.requests[-1]):
                response = httpx.get(
                    f"{servers[config.project].url}{request.path}",
                    headers=request.headers,
                    timeout=30,
                )
                if response.status_code != 200:
                    raise SystemExit(f"{config.name}: {response.status_code} {response.text[:200]}")
        return _measure_all(args, env, load, servers, login_servers, configs, memo_dir, started)
    finally:
        for server in everything:
            server.stop()


def _measure_all(
    args: argparse.Namespace,
    env: BenchEnv,
    load: LoadGenerator,
    servers: dict[Any, Any],
    login_servers: dict[str, Any],
    configs: list[Any],
    memo_dir: Path,
    started: datetime,
) -> dict[str, Any]:
    from django.conf import settings

    from bench.cpu import cpu_sample
    from bench.logins import hasher_measure
    from bench.measure import login_refresh_costs, redis_per_request, sql_per_request
    from bench.memo_stats import counters_delta, counters_settled, warm_up
    from bench.server import DUALAUTH

    measured = [] if args.sweep == "only" else configs
    sizes, sweep_note = sweep_sizes(args, env)
    sweep_modes = [c for c in configs if c.dualauth]
    sweep_steps = (
        len(sizes) * (1 + len(sweep_modes) * args.sweep_repeats) if args.sweep != "off" else 0
    )
    profiling = bool(measured) and args.profile == "on"
    login_steps = len(args.hashers) if measured else 0
    progress = Progress(
        len(measured) * (1 + args.repeats)
        + (1 if measured else 0)
        + profiling
        + login_steps
        + sweep_steps
    )

    def measure(config: Any, duration: float) -> Measurement:
        server = servers[config.project]
        warmed = warm_up(
            load,
            server.url,
            config.requests,
            memo_dir if config.dualauth else None,
            slice_s=args.warmup,
            max_s=args.warmup_max,
        )
        memo_before = counters_settled(memo_dir) if config.dualauth else None
        before = cpu_sample(server.pid, env.redis_url)
        result = load.run(server.url, config.requests, duration)
        after = cpu_sample(server.pid, env.redis_url)
        cpu = backend = None
        if before and after and result.requests:
            spent, spent_backends = after.since(before)
            cpu, backend = (s * 1000 / result.requests for s in (spent, spent_backends))
        memo = counters_delta(memo_before, counters_settled(memo_dir)) if memo_before else None
        return Measurement(result, cpu, backend, memo, warmed)

    runs: dict[str, list[Measurement]] = {c.name: [] for c in measured}
    for repeat in range(args.repeats):
        for config in measured:
            progress.step(f"{config.name} (repeat {repeat + 1}/{args.repeats})")
            runs[config.name].append(measure(config, args.duration))
    n = 10 if args.quick else 50
    profile = None
    if profiling:
        progress.step("SQL per request, and the in-process profile")
        both = profile_configs(env, measured, {"sql": n, "profile": args.profile_requests})
        sql = both["sql"]
        profile = {"requests": args.profile_requests, "configs": both["profile"]}
    else:
        sql = sql_per_request(env, measured, n) if measured else {}
    results: dict[str, dict[str, Any]] = {}
    for config in measured:
        progress.step(f"{config.name}: SQL and Redis per request")
        results[config.name] = {
            "description": config.description,
            "revocation": config.revocation,
            "project": config.project.settings,
            "path": config.path,
            "users": len(config.requests),
            **_summary(runs[config.name]),
            "sql_per_request": sql[config.name],
            "redis_per_request": redis_per_request(
                servers[config.project].url,
                config.requests[0],
                env.redis_url,
                env.cache_prefix,
                n,
            ),
            "credential_bytes": config.credential_bytes,
        }
    _ratios(results)
    costs: dict[str, Any] = {}
    logins: dict[str, Any] = {}
    if measured:
        progress.step("login and refresh costs")
        costs = login_refresh_costs(servers[DUALAUTH].url, args.calls)
        reads = next(c for c in configs if c.name == "jwt-header").requests
        for name, server in login_servers.items():
            progress.step(f"logins: {name}")
            logins[name] = hasher_measure(
                load,
                server,
                name,
                list(reads),
                calls=args.calls,
                duration=args.login_duration,
                warmup=args.warmup,
                warmup_max=args.warmup_max,
                flood_rate=args.flood_rate,
            )
    sweep = None
    if args.sweep != "off":
        sweep = _sweep(args, load, servers[DUALAUTH].url, sweep_modes, sizes, progress)
        sweep["note"] = sweep_note
    progress.finish()
    dualauth = servers[DUALAUTH]
    return {
        "meta": {
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": "postgresql" if env.postgres else "sqlite",
            "cache": "redis" if env.redis_url else "locmem (per process)",
            "session_engine": settings.SESSION_ENGINE,
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
        },
        "configs": results,
        "peers": _peers(results),
        "costs": costs,
        "logins": logins,
        "profile": profile,
        "sweep": sweep,
    }


def _ratios(results: dict[str, dict[str, Any]]) -> None:
    """Each row's req/s and CPU per request as ratios to the baseline's, in place."""
    baseline = results.get("baseline", {})
    for item in results.values():
        rps, cpu = baseline.get("rps"), baseline.get("cpu_ms_per_request")
        item["ratio_to_baseline"] = item["rps"] / rps if rps else None
        mine = item["cpu_ms_per_request"]
        item["cpu_ratio_to_baseline"] = cpu / mine if cpu and mine else None


def _peers(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each dualauth mode against its nearest stock peer measured: both metrics, and p99."""
    peers = {}
    for mode, candidates in PEERS.items():
        peer = next((name for name in candidates if name in results), None)
        if mode not in results or peer is None:
            continue
        mine, theirs = results[mode], results[peer]
        cpu, peer_cpu = mine["cpu_ms_per_request"], theirs["cpu_ms_per_request"]
        peers[mode] = {
            "peer": peer,
            "rps_ratio": mine["rps"] / theirs["rps"],
            "cpu_ratio": peer_cpu / cpu if cpu and peer_cpu else None,
            "p99_ms": mine["p99_ms"],
            "peer_p99_ms": theirs["p99_ms"],
        }
    return peers


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


def _sweep(
    args: argparse.Namespace,
    load: LoadGenerator,
    url: str,
    configs: list[Any],
    sizes: list[int],
    progress: Progress,
) -> dict[str, Any]:
    from bench.seed import filler_rows_add, filler_users_create

    users = filler_users_create()
    stored = 0
    modes: dict[str, list[dict[str, Any]]] = {c.name: [] for c in configs}
    cold = []
    for size in sizes:
        progress.step(f"sweep: storing {size:,} logins")
        filler_rows_add(size - stored, users)
        stored = size
        runs: dict[str, list[LoadResult]] = {c.name: [] for c in configs}
        for repeat in range(args.sweep_repeats):
            for config in configs:
                progress.step(f"sweep {size:,}: {config.name} ({repeat + 1}/{args.sweep_repeats})")
                runs[config.name].append(load.run(url, config.requests, args.sweep_duration))
        for config in configs:
            points = runs[config.name]
            modes[config.name].append(
                {
                    "size": size,
                    "rps": statistics.median(r.rps for r in points),
                    "p50_ms": _median([r.p50_ms for r in points]),
                    "p99_ms": _median([r.p99_ms for r in points]),
                    "errors": sum(r.errors for r in points),
                    "runs": [r.as_dict() for r in points],
                }
            )
        cold.append(_cold_lookups(50 if args.quick else 200))
    return {
        "sizes": sizes,
        "modes": modes,
        "cold": cold,
        "ratio": {name: points[-1]["rps"] / points[0]["rps"] for name, points in modes.items()},
    }
