"""`python -m bench.profile`: where each configuration's time goes, against the baseline.

In-process, through each project's WSGI application (no server, no network but the
database's and Redis's): every configuration of `python -m bench`, in its own project's
settings, over the same users. For each, the time per request without a profiler, and
its split by layer measured under cProfile (bench/inproc.py), scaled to that time.
"""

import argparse
import json
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.configs import Config
from bench.env import (
    RESULTS,
    ROOT,
    BenchEnv,
    bench_env_setup,
    env_flag,
    results_dir,
    tree_label,
    tree_state,
)
from bench.server import Project

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


def _inproc(env: BenchEnv, project: Project, configs: list[Config], n: int) -> dict[str, Any]:
    """`python -m bench.inproc` over `configs`, in a process of `project`'s settings."""
    spec = {
        "requests": n,
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


def profile_configs(env: BenchEnv, configs: list[Config], n: int) -> dict[str, dict[str, Any]]:
    """The profile of every configuration, one project at a time (timings want the machine).

    Over at most PROFILE_USERS of its credentials: one process's memos hold them all,
    as they hold a thousand, and the warm-up pass stays short.
    """
    profiles: dict[str, dict[str, Any]] = {}
    for project in dict.fromkeys(c.project for c in configs):
        mine = [
            replace(c, requests=c.requests[:PROFILE_USERS]) for c in configs if c.project is project
        ]
        for name, measured in _inproc(env, project, mine, n).items():
            profiles[name] = {**measured, "project": project.settings}
    return profiles


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
    tree = tree_state()
    env = bench_env_setup(suffix="profile")
    try:
        from bench.configs import configs_seed
        from bench.seed import USER_PREFIX, users_create

        configs = configs_seed(env, users_create(USER_PREFIX, args.users))
        result = {
            "database": "postgresql" if env.postgres else "sqlite",
            "cache": "redis" if env.redis_url else "locmem (per process)",
            "requests": args.requests,
            "configs": profile_configs(env, configs, args.requests),
        }
    finally:
        env.cleanup()
    out, provenance = results_dir(args.out, tree)
    result |= provenance
    text = "\n".join(
        [
            f"# Where the time goes ({result['database']} + {result['cache']}, "
            f"{tree_label(result)})",
            "",
            *markdown(result["configs"], args.requests),
        ]
    )
    (out / "profile.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "profile.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
