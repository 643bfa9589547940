"""`python -m bench.profile`: where each configuration's time goes, against the baseline.

In-process, through each project's WSGI application (no server, no network but the
database's and Redis's): every configuration of `python -m bench`, in its own project's
settings, over the same users. For each, the time per request without a profiler, and
its split by layer measured under cProfile (bench/inproc.py), scaled to that time.
"""

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.configs import Config
from bench.env import RESULTS, BenchEnv, bench_env_setup, env_flag

# Credentials per configuration: more would only lengthen the warm-up pass.
PROFILE_USERS = 200

# Layers in the order a request crosses them, and their column titles.
LAYERS = {
    "django_middleware": "Django + middleware",
    "drf_request_response": "DRF request/response",
    "authentication": "authentication",
    "cache_round_trips": "of which Redis",
    "sql": "of which SQL",
    "permissions_negotiation": "permissions + negotiation",
    "view": "view (serializer)",
    "rendering": "rendering",
}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", default=env_flag(os.environ.get("BENCH_QUICK"))
    )
    parser.add_argument("--users", type=int, default=PROFILE_USERS, help="users (credentials)")
    parser.add_argument("--requests", type=int, help="requests per configuration and batch")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    args = parser.parse_args(argv)
    args.requests = args.requests or default_requests(args.quick)
    return args


def default_requests(quick: bool) -> int:
    """Requests per configuration and batch."""
    return 100 if quick else 500


def profile_configs(
    env: BenchEnv, configs: list[Config], tasks: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """`tasks` (a profile, and SQL counts if asked) of every configuration, a project at a time.

    Over at most PROFILE_USERS of its credentials: one process's memos hold them all,
    as they hold a thousand, and the warm-up pass stays short.
    """
    from bench.measure import in_each_project

    few = [replace(c, requests=c.requests[:PROFILE_USERS]) for c in configs]
    results = in_each_project(env, few, tasks, parallel=False)
    for config in configs:
        results["profile"][config.name]["project"] = config.project.settings
    return results


def scaled(profile: dict[str, Any]) -> dict[str, float]:
    """Each layer's µs per request: its share under the profiler, of the time without it."""
    profiled = profile["profiled"]
    factor = profile["us_per_request"] / profiled["total"] if profiled["total"] else 0.0
    return {layer: profiled[layer] * factor for layer in LAYERS}


def markdown(profiles: dict[str, Any], n: int) -> list[str]:
    """The profiles as a Markdown table, µs per request, with how they were measured."""
    baseline = profiles.get("baseline", {}).get("us_per_request")
    lines = [
        f"In-process, through each project's WSGI application, {n:,} requests per "
        "configuration and batch over its users in turn, after a warm-up pass. µs per request: "
        "without a profiler (median of 3 batches); each layer's share measured under cProfile, "
        "scaled to that total (the profiler inflates Python more than waiting on the network).",
        "",
        "| config | µs/req | x baseline | " + " | ".join(LAYERS.values()) + " |",
        "|---|---:|---:|" + "---:|" * len(LAYERS),
    ]
    for name, profile in profiles.items():
        total = profile["us_per_request"]
        ratio = f"{total / baseline:.2f}" if baseline else "n/a"
        cells = " | ".join(f"{value:,.0f}" for value in scaled(profile).values())
        lines.append(f"| {name} | {total:,.0f} | {ratio} | {cells} |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    """Seed, profile, print, and write profile.json and profile.md."""
    args = arguments(argv)
    env = bench_env_setup(suffix="profile")
    try:
        from bench.configs import configs_seed
        from bench.seed import USER_PREFIX, users_create

        configs = configs_seed(env, users_create(USER_PREFIX, args.users))
        result = {
            "database": "postgresql" if env.postgres else "sqlite",
            "cache": "redis" if env.redis_url else "locmem (per process)",
            "requests": args.requests,
            "configs": profile_configs(env, configs, {"profile": args.requests})["profile"],
        }
    finally:
        env.cleanup()
    text = "\n".join(
        [
            f"# Where the time goes ({result['database']} + {result['cache']})",
            "",
            *markdown(result["configs"], args.requests),
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "profile.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
