"""`python -m bench`: every configuration side by side on one real server, then a scaling sweep."""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.env import ROOT, BenchEnv, bench_env_setup
from bench.load import WRK_INSTALL_HINT, LoadGenerator, LoadResult, Progress
from bench.report import results_write

RESULTS = Path(__file__).resolve().parent / "results"
DUALAUTH_MODES = ("session", "jwt-header", "jwt-cookie")
NOTE = (
    "Medians of interleaved repeats (A, B, C, A, B, C, ...) on one server; the load generator "
    "runs on the same machine. Absolute numbers depend on the machine and on what else runs "
    "on it: compare configurations within one run, not across runs."
)


def env_flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with quick-mode defaults."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", default=env_flag(os.environ.get("BENCH_QUICK"))
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    parser.add_argument("--duration", type=float, help="seconds per measurement")
    parser.add_argument("--repeats", type=int, help="interleaved repeats per configuration")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per configuration")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads (1: sync workers)")
    parser.add_argument("--calls", type=int, help="sequential logins/refreshes per operation")
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
    quick = args.quick
    args.duration = args.duration or (2.0 if quick else 10.0)
    args.repeats = args.repeats or (1 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if quick else 3.0)
    args.calls = args.calls or (3 if quick else 15)
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


def _medians(runs: list[LoadResult]) -> dict[str, Any]:
    return {
        "rps": statistics.median(r.rps for r in runs),
        "p50_ms": statistics.median(r.p50_ms for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "errors": sum(r.errors for r in runs),
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


def _run(args: argparse.Namespace, env: BenchEnv, started: datetime) -> dict[str, Any]:
    from django.conf import settings

    from bench.measure import login_refresh_costs, redis_per_request, sql_per_request
    from bench.seed import bench_user_create, configs_seed
    from bench.server import BenchServer

    load = LoadGenerator(
        connections=args.connections, threads=args.wrk_threads, force_python=args.python_load
    )
    if load.wrk is None:
        print(f"{WRK_INSTALL_HINT}\nfalling back to: {load.label}", file=sys.stderr)
    user = bench_user_create()
    server = BenchServer(env, workers=args.workers, threads=args.threads).start()
    try:
        configs = configs_seed(server.url, user)
        for config in configs:
            response = httpx.get(f"{server.url}{config.path}", headers=config.headers, timeout=30)
            if response.status_code != 200:
                raise SystemExit(f"{config.name}: {response.status_code} {response.text[:200]}")
        measured = [] if args.sweep == "only" else configs
        sizes, sweep_note = sweep_sizes(args, env)
        sweep_modes = [c for c in configs if c.name in DUALAUTH_MODES]
        sweep_steps = (
            len(sizes) * (1 + len(sweep_modes) * args.sweep_repeats) if args.sweep != "off" else 0
        )
        progress = Progress(
            len(measured) * (2 + args.repeats) + (1 if measured else 0) + sweep_steps
        )

        runs: dict[str, list[LoadResult]] = {c.name: [] for c in measured}
        for config in measured:
            progress.step(f"warm-up {config.name}")
            if args.warmup > 0:
                load.run(f"{server.url}{config.path}", config.headers, args.warmup)
        for repeat in range(args.repeats):
            for config in measured:
                progress.step(f"{config.name} (repeat {repeat + 1}/{args.repeats})")
                runs[config.name].append(
                    load.run(f"{server.url}{config.path}", config.headers, args.duration)
                )
        results: dict[str, dict[str, Any]] = {}
        for config in measured:
            progress.step(f"{config.name}: SQL and Redis per request")
            results[config.name] = {
                "description": config.description,
                "path": config.path,
                **_medians(runs[config.name]),
                "sql_per_request": sql_per_request(config, 10 if args.quick else 50),
                "redis_per_request": redis_per_request(
                    server.url, config, 10 if args.quick else 50
                ),
                "credential_bytes": config.credential_bytes,
            }
        baseline = results.get("baseline", {}).get("rps")
        for item in results.values():
            item["ratio_to_baseline"] = item["rps"] / baseline if baseline else None
        costs: dict[str, Any] = {}
        if measured:
            progress.step("login and refresh costs")
            costs = login_refresh_costs(server.url, args.calls)
        sweep = None
        if args.sweep != "off":
            sweep = _sweep(args, load, server.url, sweep_modes, sizes, progress)
            sweep["note"] = sweep_note
        progress.finish()
    finally:
        server.stop()
    return {
        "meta": {
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": "postgresql" if env.postgres else "sqlite",
            "cache": "redis" if env.redis_url else "locmem (per process)",
            "session_engine": settings.SESSION_ENGINE,
            "load_generator": load.label,
            "connections": args.connections,
            "workers": server.workers,
            "threads": server.threads,
            "worker_class": server.worker_class,
            "duration_s": args.duration,
            "repeats": args.repeats,
            "quick": args.quick,
            "cpus": os.cpu_count(),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "note": NOTE,
        },
        "configs": results,
        "costs": costs,
        "sweep": sweep,
    }


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
                runs[config.name].append(
                    load.run(f"{url}{config.path}", config.headers, args.sweep_duration)
                )
        for config in configs:
            point = _medians(runs[config.name])
            modes[config.name].append({"size": size, **point})
        cold.append(_cold_lookups(50 if args.quick else 200))
    return {
        "sizes": sizes,
        "modes": modes,
        "cold": cold,
        "ratio": {name: points[-1]["rps"] / points[0]["rps"] for name, points in modes.items()},
    }
