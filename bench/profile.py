"""`python -m bench.profile`: where each configuration's time goes, against the baseline.

In-process, through each project's WSGI application (no server, no network but the
database's and Redis's): every configuration of `python -m bench`, in its own project's
settings, over the same users. For each, the time per request without a profiler, and
its split by layer measured under cProfile (bench/inproc.py), scaled to that time.
"""

import argparse
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.configs import Config
from bench.env import BenchEnv, arguments_parser, measured, tree_label
from bench.inproc import BATCHES, INPROC_URL, WARM_PASSES
from bench.report import md_write, profile_markdown

# Credentials per configuration: more would only lengthen the warm-up pass.
PROFILE_USERS = 200
# Requests per configuration and batch, in quick mode and not.
REQUESTS = {True: 100, False: 500}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = arguments_parser("python -m bench.profile", __doc__, quick=True)
    parser.add_argument("--users", type=int, default=PROFILE_USERS, help="users (credentials)")
    parser.add_argument("--requests", type=int, help="requests per configuration and batch")
    args = parser.parse_args(argv)
    args.requests = args.requests or REQUESTS[args.quick]
    return args


def profile_configs(
    env: BenchEnv,
    configs: list[Config],
    n: int,
    *,
    wrap: Sequence[str] = (),
    counter: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """The profile of every configuration by `python -m bench.inproc`, in a process of its
    project's settings (under the command `wrap`), one project at a time (timings want the
    machine); with a `counter`, the requests callgrind counts instead (bench/instructions.py).

    Over at most PROFILE_USERS of its credentials: one process's memos hold them all,
    as they hold a thousand, and the warm-up pass stays short. Requests that work once
    are signed for every request the profile serves, and profiled first.
    """
    profiles: dict[str, dict[str, Any]] = {}
    for project in dict.fromkeys(c.project for c in configs):
        spec: dict[str, Any] = {"requests": n, "configs": {}}
        if counter:
            spec["counter"] = str(counter)
        for c in sorted(configs, key=lambda c: c.signed is None):
            if c.project is project:
                requests = c.requests[:PROFILE_USERS]
                if c.signed:
                    count = WARM_PASSES * len(requests) + (BATCHES + 1) * n
                    requests = c.signed(INPROC_URL, count)
                served = [[r.method, r.path, r.headers, r.body] for r in requests]
                spec["configs"][c.name] = {
                    "warm": min(PROFILE_USERS, len(c.requests)),
                    "requests": served,
                }
        path = env.tmpdir / f"inproc-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(spec))
        output = env.module_run(
            "bench.inproc", project.settings, str(path), wrap=wrap, **project.environ(env)
        )
        for name, figures in json.loads(output).items():
            profiles[name] = {**figures, "project": project.name}
    return profiles


def main(argv: list[str] | None = None) -> None:
    """Seed, profile, print, and write profile.json and profile.md."""
    args = arguments(argv)

    def measure(env: BenchEnv) -> dict[str, Any]:
        from bench.configs import configs_seed
        from bench.seed import USER_PREFIX, users_create

        configs = configs_seed(env, users_create(USER_PREFIX, args.users))
        return {
            "meta": env.meta,
            "requests": args.requests,
            "configs": profile_configs(env, configs, args.requests),
        }

    result, out = measured("profile", measure, args.out, "profile.json")
    meta = result["meta"]
    title = f"# Where the time goes ({meta['database']} + {meta['cache']}, {tree_label(meta)})"
    md_write(out / "profile.md", [title, "", *profile_markdown(result["configs"], args.requests)])


if __name__ == "__main__":
    main()
