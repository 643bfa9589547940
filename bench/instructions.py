"""`python -m bench.instructions`: the instructions each configuration runs per request.

Counted by callgrind, they stay the same whatever else the machine does, where req/s and
CPU time move with it. Each project's configurations run in-process as under
`python -m bench.profile` (bench/inproc.py), in one process under `valgrind
--tool=callgrind`: warm, then `--requests` requests between counts zeroed and dumped by
callgrind's client requests (a C helper compiled here), which count the calling thread
alone: the one serving the requests. A `push` channel's thread is left out: its heartbeat
costs per second, not per request, and valgrind's slowdown would charge each request
tens of times its share. Needs valgrind and a C compiler. Writes instructions.json and
instructions.md.
"""

import re
import subprocess
from pathlib import Path
from typing import Any

from bench.env import BenchEnv, arguments_parser, measured, tree_label
from bench.profile import profile_configs
from bench.report import md_table, md_write, num

REQUESTS = 50
# Few, so that a configuration's run ends within TOUCH_INTERVAL under valgrind: no login's
# last use is written again in the count (a write once a minute, not once a request).
USERS = 20
HEARTBEAT = 10
DPOP_LEEWAY = 3600
COUNTER = """
#include <valgrind/callgrind.h>
void counts_zero(void) { CALLGRIND_ZERO_STATS; }
void counts_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""
DUMP_NAME = re.compile(r"^desc: Trigger: Client Request: (.+)$", re.M)
# The instructions of the dump's time range: from the zero to the dump.
SUMMARY = re.compile(r"^summary: (\d+)", re.M)


def counter_build(tmpdir: Path) -> Path:
    """The shared library whose functions zero and dump callgrind's counts."""
    source, library = tmpdir / "counter.c", tmpdir / "counter.so"
    source.write_text(COUNTER)
    command = ["cc", "-shared", "-fPIC", "-O2", "-o", str(library), str(source)]
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603
    return library


def dumps_read(directory: Path) -> dict[str, int]:
    """The instructions of each named dump callgrind wrote into `directory`."""
    totals = {}
    for path in directory.glob("callgrind.out.*"):
        text = path.read_text(errors="replace")
        name, total = DUMP_NAME.search(text), SUMMARY.search(text)
        if name and total:
            totals[name.group(1)] = int(total.group(1))
    return totals


def instructions_count(env: BenchEnv, configs: list[Any], n: int) -> dict[str, dict[str, Any]]:
    """Instructions per request of every configuration, and its round trips meanwhile."""
    dumps = env.tmpdir / "callgrind"
    dumps.mkdir()
    wrap = (
        "env",
        # The same hashes at every run: a set's or dict's order then runs the same instructions.
        "PYTHONHASHSEED=0",
        # valgrind runs the process tens of times slower, the push channel's thread with it:
        # its doubt after two heartbeats, in wall time, would read Redis on a healthy channel.
        f"PUSH_HEARTBEAT={HEARTBEAT}",
        # And a DPoP proof, signed before the process started, would be stale by its turn.
        f"DPOP_IAT_LEEWAY={DPOP_LEEWAY}",
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={dumps}/callgrind.out.%p",
        "--separate-threads=yes",
        "--quiet",
    )
    figures = profile_configs(env, configs, n, wrap=wrap, counter=counter_build(env.tmpdir))
    totals = dumps_read(dumps)
    return {
        name: {**found, "instructions_per_request": totals[name] / n}
        for name, found in figures.items()
    }


def markdown(result: dict[str, Any]) -> list[str]:
    """The counts as a Markdown table, with the ratio of the baseline's to each."""
    configs, meta = result["configs"], result["meta"]
    baseline = configs.get("baseline", {}).get("instructions_per_request")

    def row(name: str, found: dict[str, Any]) -> list[str]:
        count = found["instructions_per_request"]
        speed = num(baseline / count, 2) if baseline else "n/a"
        redis, sql = (num(found[k], 2) for k in ("redis_per_request", "sql_per_request"))
        return [name, f"{count / 1e6:.3f}", speed, sql, redis]

    return [
        f"# Instructions per request ({meta['database']} + {meta['cache']}, {tree_label(meta)})",
        "",
        f"callgrind, in-process, {result['requests']:,} warm requests per configuration over "
        f"{result['users']:,} users in turn. Speed: the baseline's count over the row's.",
        "",
        *md_table(
            ["config", "M instructions/req", "speed x baseline", "SQL/req", "Redis/req"],
            (row(name, found) for name, found in configs.items()),
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    """Seed, count, print, and write instructions.json and instructions.md."""
    parser = arguments_parser("python -m bench.instructions", __doc__)
    parser.add_argument("--requests", type=int, default=REQUESTS, help="counted per config")
    parser.add_argument("--users", type=int, default=USERS, help="users (credentials)")
    parser.add_argument("--configs", help="comma-separated names (default: every one)")
    args = parser.parse_args(argv)

    def measure(env: BenchEnv) -> dict[str, Any]:
        from bench.configs import configs_named, configs_seed
        from bench.seed import USER_PREFIX, users_create

        configs = configs_named(
            configs_seed(env, users_create(USER_PREFIX, args.users)), args.configs
        )
        return {
            "meta": env.meta,
            "requests": args.requests,
            "users": args.users,
            "configs": instructions_count(env, configs, args.requests),
        }

    result, out = measured("instructions", measure, args.out, "instructions.json")
    md_write(out / "instructions.md", markdown(result))


if __name__ == "__main__":
    main()
