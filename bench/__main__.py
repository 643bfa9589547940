"""`python -m bench`: stock Django, DRF and simplejwt against dualauth on real servers.

Stock rows run a stock project (bench/stock/); dualauth runs its production settings.
Every server has the same gunicorn flags; every row is loaded with one credential per
user, in turn, over the same connections; configurations are interleaved.
"""

import argparse
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.env import BenchEnv, arguments_parser, measured
from bench.load import LoadGenerator, progress
from bench.profile import REQUESTS, profile_configs
from bench.report import results_write
from bench.server import (
    DUALAUTH,
    DUALAUTH_PUSH,
    STOCK,
    STOCK_CACHE,
    STOCK_CACHED_DB,
    BenchServer,
    servers_start,
    servers_stop,
)

# What each run measures, and its summary the medians of.
FIGURES = ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "backend_cpu_ms_per_request")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with quick-mode defaults."""
    parser = arguments_parser("python -m bench", __doc__, quick=True)
    for flag, kind, default, what in (
        ("--duration", float, None, "seconds per measurement"),
        ("--repeats", int, None, "interleaved repeats per configuration"),
        ("--users", int, 1000, "users, one credential each"),
        ("--workers", int, 2, "gunicorn workers a server"),
        ("--threads", int, 4, "gunicorn threads a worker (1: sync workers)"),
        ("--calls", int, None, "sequential logins per hasher"),
        ("--hashers", str, "pbkdf2,argon2", "password hashers to log in with ('' for none)"),
        ("--login-duration", float, None, "seconds per login measurement"),
        ("--profile-requests", int, None, "profiled requests per config"),
        ("--configs", str, None, "comma-separated names (default: every one)"),
    ):
        parser.add_argument(flag, type=kind, default=default, help=what)
    args = parser.parse_args(argv)
    args.hashers = [name for name in args.hashers.split(",") if name]
    quick = args.quick
    args.duration = args.duration or (2.0 if quick else 10.0)
    args.repeats = args.repeats or (1 if quick else 3)
    args.calls = args.calls or (3 if quick else 15)
    # A PBKDF2 login takes a good part of a second: a short run would see hardly any end.
    args.login_duration = args.login_duration or max(args.duration, 5.0)
    args.profile_requests = args.profile_requests or REQUESTS[quick]
    return args


def measure(load: LoadGenerator, server: Any, config: Any, duration: float) -> dict[str, Any]:
    """One pass over the users, then `duration` s of load to warm up, then `duration` s of
    load, and the CPU it took (of the server, and of its database and Redis; None without
    /proc). Requests that work once are signed for each pass and run, and again, twice as
    many, for a run that used them all.
    """
    from bench.configs import PROOFS_PER_SECOND
    from bench.cpu import backends_cpu, server_cpu, spent

    signed, count = config.signed, round(duration * PROOFS_PER_SECOND)

    def requests_of(n: int) -> Any:
        """`n` fresh requests of ones that work once, else the configuration's own."""
        return signed(server.url, n) if signed else config.requests

    load.warm(server.url, requests_of(len(config.requests)))
    # The pass checked every credential, but left each worker cold for those another
    # worker served: a run as long as the measured one, discarded, warms every worker's
    # memory (push's entries, the per-process memos), as a server in service has it.
    load.run(server.url, requests_of(count), duration, once=signed is not None)
    while True:
        requests = requests_of(count)
        before = server_cpu(server.pid), backends_cpu(server.env["REDIS_URL"])
        result = load.run(server.url, requests, duration, once=signed is not None)
        after = server_cpu(server.pid), backends_cpu(server.env["REDIS_URL"])
        if not result.pop("exhausted", False):
            break
        count *= 2
    n = result["requests"] if before[0] else 0
    cpu = [spent(b, a) * 1000 / n if n else None for b, a in zip(before, after, strict=True)]
    return {**result, **dict(zip(FIGURES[3:], cpu, strict=True))}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write its outputs."""
    args = arguments(argv)
    result, out = measured("bench", lambda env: _run(args, env), args.out, "latest.json")
    for path in [out / "latest.json", *results_write(result, out)]:
        print(path)


def _run(args: argparse.Namespace, env: BenchEnv) -> dict[str, Any]:
    """Every server up at once, measured in turn, then stopped; the figures."""
    from bench.configs import configs_named, configs_seed
    from bench.logins import hasher_measure, login_server
    from bench.seed import USER_PREFIX, users_create

    load = LoadGenerator()
    users = users_create(USER_PREFIX, args.users)
    flags = {"workers": args.workers, "threads": args.threads}
    projects = [DUALAUTH, STOCK, STOCK_CACHED_DB]
    projects += [STOCK_CACHE, DUALAUTH_PUSH] if env.redis_url else []
    servers = {p: BenchServer(env, p, name=p.name, **flags) for p in projects}
    login_servers = {name: login_server(env, name, **flags) for name in args.hashers}
    everything = [*servers.values(), *login_servers.values()]
    try:
        # The servers boot while the credentials are made.
        with ThreadPoolExecutor(1) as pool:
            booted = pool.submit(servers_start, everything)
            configs = configs_named(configs_seed(env, users), args.configs)
            booted.result()
        step = progress(len(configs) * args.repeats + 1 + len(login_servers))
        runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in configs}
        for repeat in range(args.repeats):
            for c in configs:
                step(f"{c.name} (repeat {repeat + 1}/{args.repeats})")
                runs[c.name].append(measure(load, servers[c.project], c, args.duration))
        step("the in-process profile: time, SQL and Redis per request")
        profiled = profile_configs(env, configs, args.profile_requests)
        logins = {}
        for name, server in login_servers.items():
            step(f"logins: {name}")
            logins[name] = hasher_measure(load, server, name, args)
    finally:
        servers_stop(everything)
    results = {c.name: _row(c, runs[c.name], profiled[c.name]) for c in configs}
    profile = {"requests": args.profile_requests, "configs": profiled}
    baseline = results.get("baseline", {})
    for row in results.values():
        rps, cpu, mine = baseline.get("rps"), baseline.get("cpu_ms_per_request"), row[FIGURES[3]]
        row["ratio_to_baseline"] = row["rps"] / rps if rps else None
        row["cpu_ratio_to_baseline"] = cpu / mine if cpu and mine else None
    meta = {
        **env.meta,
        **{key: vars(args)[key] for key in ("users", "workers", "threads", "repeats", "quick")},
        "load_generator": load.label,
        "connections": load.connections,
        "worker_class": servers[DUALAUTH].worker_class,
        "duration_s": args.duration,
        "login_duration_s": args.login_duration,
        "cpus": os.cpu_count(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    return {"configs": results, "logins": logins, "profile": profile, "meta": meta}


def _row(config: Any, runs: list[dict[str, Any]], profiled: dict[str, Any]) -> dict[str, Any]:
    """A configuration's figures: the medians of its runs', its errors, every run."""
    headers = config.requests[0].headers
    medians = {
        f: statistics.median(v) if (v := [r[f] for r in runs if r[f] is not None]) else None
        for f in FIGURES
    }
    return {
        **{key: getattr(config, key) for key in ("description", "revocation", "path")},
        "project": config.project.settings,
        "users": len(config.requests),
        **medians,
        "errors": sum(run["errors"] for run in runs),
        "runs": runs,
        "sql_per_request": profiled["sql_per_request"],
        "redis_per_request": profiled["redis_per_request"],
        # The header that carries the credential, and its bytes per request as sent.
        "credential_header": next(iter(headers), None),
        "credential_bytes": sum(len(f"{name}: {value}\r\n") for name, value in headers.items()),
    }


if __name__ == "__main__":
    main()
