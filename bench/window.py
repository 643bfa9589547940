"""`python -m bench.window`: how long instance B still serves a login logged out on A.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.window [--trials 10000]

Per level (`REVOCATION=strict|push`), condition and mode, interleaved: a live login that B
serves on 4 kept-alive connections (from memory, under push) is logged out on A through its
mode's endpoint; from A's answer, 4 threads read its profile on B, each until a 401. The
window: the send time of the last request B accepted, less the answer's arrival (0: none).
Conditions: `idle`, `load` (wrk on B meanwhile); on a redis-server of the run's own, push's
channel broken (`cut`: its subscriptions killed; `failover`: Redis restarted) and Redis out
while A revokes (`stop`: SIGSTOPped, the window then from its SIGCONT, B asked nothing
before; `pause-write`: CLIENT PAUSE WRITE; `cut-off`: A alone cut off from it, by a relay).
bench/README.md says what each condition and figure is.

The logins are made in bulk in this process, in the servers' settings, by dualauth's own
login services (`bench.seed.login_make`: `token_obtain`, or `session_login` and the session
saved: a login family each, as the login endpoints make them), without a password hash each.
"""

import argparse
import http.client
import itertools
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.env import BenchEnv, arguments_parser, bench_env_setup, results_dir, tree_state
from bench.load import LoadGenerator, Request
from bench.processes import RedisServer, free_port
from bench.relay import TcpRelay
from bench.report import md_table
from bench.server import DUALAUTH, BenchServer, servers_start, servers_stop
from common.routes import JWT_HEADER, MODES, SESSION, mode_path

LEVELS = ("strict", "push")
CONDITIONS = ("idle", "load", "cut", "failover", "stop", "pause-write", "cut-off")
# The conditions on a redis-server of the run's own; the first two break push's channel alone.
FAULTS = CONDITIONS[2:]
PUSH_ONLY = ("cut", "failover")
COUNTS = ("served_inside", "accepted_after_broken")
WORKERS, THREADS, HAMMERS = 2, 4, 4
# A hammering thread gives up this long after A's answer: the window then stays open.
TIMEOUT = 5.0
# CLIENT PAUSE's own limit past TIMEOUT: ends the pause should the bench die before it unpauses.
PAUSE_SLACK_MS = 60_000
# Fresh connections every so many trials, so that they land on other workers of B.
RECONNECT_EVERY = 100
WARM_ROUNDS = 10
# B's metrics: its reads of mirrored entries from Redis; its workers that trust their channel.
REDIS_READS = rb'^dualauth_push_reads_total{source="redis"} (.*)$'
TRUSTED = rb"^dualauth_push_trusted (.*)$"
USERS, LOAD = "bench-window-user-", "bench-window-load-"
CSRF = "windowbenchcsrfsecret0123456789a"


class Login:
    """A provisioned login: the headers that read the profile with it, its logout's, and the
    cache key its state is kept under.
    """

    def __init__(self, mode: str, made: Any, user: Any) -> None:
        from django.conf import settings
        from django.core.cache import caches

        from common.conf import CACHE_ALIAS, dualauth_settings
        from common.models import LoginFamily
        from common.selectors import family_cache_key

        self.mode = mode
        family = LoginFamily.objects.filter(user_id=user.pk, mode=mode).latest("created_at")
        # Where the servers keep its state: they share this process's key prefix.
        self.key = caches[CACHE_ALIAS].make_key(family_cache_key(family.pk, user.pk))
        self.logout: dict[str, str] = {"Content-Type": "application/json"}
        self.body = "{}"
        if mode == JWT_HEADER:
            self.read = {"Authorization": f"Bearer {made.access}"}
            self.logout |= self.read
            self.body = f'{{"refresh": "{made.refresh}"}}'
            return
        name = settings.SESSION_COOKIE_NAME if mode == SESSION else None
        cookie = (
            f"{name}={made}" if name else f"{dualauth_settings.ACCESS_COOKIE_NAME}={made.access}"
        )
        self.read = {"Cookie": cookie}
        # A browser's logout carries its CSRF cookie, echoed in the header.
        csrf = f"{settings.CSRF_COOKIE_NAME}={CSRF}"
        self.logout |= {"Cookie": f"{cookie}; {csrf}", "X-CSRFToken": CSRF}


def logins_make(count: int) -> dict[str, list[Login]]:
    """`count` live logins of each mode, over the run's users, made as the login endpoints do."""
    from django.db import transaction

    from bench.seed import login_make, users_named

    users = list(users_named(USERS))
    with transaction.atomic():
        return {
            mode: [
                Login(mode, login_make(user, mode), user)
                for user in (users[i % len(users)] for i in range(count))
            ]
            for mode in MODES
        }


def get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> int:
    """GET `path` on the kept-alive `conn`; the status."""
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


class Bench:
    """A and B of one level and Redis, and the connections that revoke on A and read on B."""

    def __init__(
        self, a: BenchServer, b: BenchServer, faults: "Faults | None", *, push: bool
    ) -> None:
        self.a, self.b, self.faults, self.push = a, b, faults, push
        # Trials whose login B still read from Redis after WARM_ROUNDS rounds.
        self.cold = 0
        self.pool = ThreadPoolExecutor(HAMMERS)
        self.conns: list[http.client.HTTPConnection] = []
        self.trials = 0

    def connect(self) -> None:
        """Fresh kept-alive connections: one to A, one per hammering thread to B."""
        for conn in self.conns:
            conn.close()
        self.conns = [http.client.HTTPConnection("127.0.0.1", self.a.port, timeout=30)]
        self.conns += [
            http.client.HTTPConnection("127.0.0.1", self.b.port, timeout=30) for _ in range(HAMMERS)
        ]

    def hammer(
        self, conn: http.client.HTTPConnection, login: Login, go: threading.Event, at: list[float]
    ) -> list[tuple[float, int]]:
        """From A's answer (`go`, at `at[0]`), read the profile with `login` until B refuses
        it or TIMEOUT passed; each request's send time and status.
        """
        path, sent = mode_path(login.mode, "profile"), list[tuple[float, int]]()
        go.wait()
        while not sent or (sent[-1][1] == 200 and sent[-1][0] - at[0] < TIMEOUT):
            started = time.perf_counter()
            sent.append((started, get(conn, path, login.read)))
        if sent[-1][1] not in (200, 401):
            raise RuntimeError(f"{login.mode}: B answered {sent[-1][1]}")
        return sent

    def warm(self, login: Login) -> None:
        """Each worker of B the connections reach serves the login: under push from its
        memory (a round of reads that made no Redis read; the first ones fill it), on the
        run's own Redis once its live state is there (a worker that owes Redis reads the
        database meanwhile, and would refuse the login at once).
        """
        path, seen, reads = mode_path(login.mode, "profile"), None, self.conns[1:]
        deadline = time.monotonic() + TIMEOUT
        for rounds in itertools.count(1):
            if set(self.pool.map(lambda conn: get(conn, path, login.read), reads)) != {200}:
                raise RuntimeError(f"{login.mode}: B refused a live login")
            if self.faults is not None and not self.faults.holds(login):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{login.mode}: B's reads left no live state in Redis")
                continue
            if not self.push:
                return
            before, seen = seen, metric(self.b, REDIS_READS)
            if before == seen or rounds >= WARM_ROUNDS:
                self.cold += before != seen
                return

    def trial(self, login: Login, condition: str) -> dict[str, Any]:
        """One revocation: B warm, the condition's fault, logout on A, B hammered from the
        answer (or from what the fault says).
        """
        if self.trials % RECONNECT_EVERY == 0:
            self.connect()
        self.trials += 1
        self.warm(login)
        a, *bs = self.conns
        go, at = threading.Event(), list[float]()
        with self.faults.around(condition) if self.faults else nullcontext(Fault()) as fault:
            hammers = [self.pool.submit(self.hammer, conn, login, go, at) for conn in bs]
            try:
                a.request("POST", mode_path(login.mode, "logout"), login.body, login.logout)
                response = a.getresponse()
                response.read()
            finally:
                # Whatever came of it, the threads end (by TIMEOUT at worst).
                at.append(fault.start())
                go.set()
            accepted = [t for h in hammers for t, status in h.result() if status == 200]
        if response.status != 204:
            raise RuntimeError(f"{login.mode} logout on A: {response.status}")
        return {
            "window_ms": (max(accepted) - at[0]) * 1000 if accepted else 0.0,
            "served_inside": len(accepted),
            "after_broken": sum(1 for t in accepted if fault.broken and t > fault.broken),
        }


def metric(b: BenchServer, pattern: bytes, *, login: Login | None = None) -> list[Any]:
    """`pattern`'s matches in B's metrics (its workers' summed), on a fresh connection; a read
    with `login` on it first starts the push channel of the worker it reaches.
    """
    conn = http.client.HTTPConnection("127.0.0.1", b.port, timeout=30)
    if login is not None:
        get(conn, mode_path(login.mode, "profile"), login.read)
    conn.request("GET", "/metrics")
    found = re.findall(pattern, conn.getresponse().read(), re.M)
    conn.close()
    return found


def settle(b: BenchServer, login: Login) -> None:
    """Wait until every worker of B trusts its push channel: a trial then measures push."""
    deadline = time.monotonic() + TIMEOUT
    while metric(b, TRUSTED, login=login) != [b"%d.0" % WORKERS]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"B's workers did not trust their push channel within {TIMEOUT} s")
        time.sleep(0.02)


def row(level: str, condition: str, mode: str, trials: list[dict[str, Any]]) -> dict[str, Any]:
    """One (mode, level, condition)'s figures."""
    windows = sorted(t["window_ms"] for t in trials)
    p99 = (
        statistics.quantiles(windows, n=100, method="inclusive")[98] if windows[1:] else windows[0]
    )
    figures = {"p50": statistics.median(windows), "p99": p99, "max": windows[-1]}
    return {
        "mode": mode,
        "level": level,
        "condition": condition,
        "trials": len(trials),
        "window_ms": {k: round(v, 3) for k, v in figures.items()},
        "served_inside": sum(t["served_inside"] for t in trials),
        "accepted_after_broken": sum(t["after_broken"] for t in trials),
    }


def rows_merge(*, earlier: dict[str, Any], measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`earlier` window.json's rows, each with its commit, but those `measured` again, and these.

    A run of some conditions updates the file: the 10,000 trials of the others took hours.
    """
    again = {(r["level"], r["condition"], r["mode"]) for r in measured}
    kept = [
        {"commit": earlier.get("commit"), **r}
        for r in earlier["rows"]
        if (r["level"], r["condition"], r["mode"]) not in again
    ]
    order = {key: i for i, key in enumerate(itertools.product(LEVELS, CONDITIONS, MODES))}
    return sorted(kept + measured, key=lambda r: order[r["level"], r["condition"], r["mode"]])


@dataclass
class Fault:
    """What a condition did around one logout on A: by when B must know its push channel
    broken (None: not broken), and what starts the window once A answered (its time).
    """

    broken: float | None = None
    start: Callable[[], float] = time.perf_counter


class Faults:
    """The run's own redis-server, and the relay A reaches it through, broken on demand."""

    def __init__(self, redis: RedisServer, relay: TcpRelay) -> None:
        from common.conf import dualauth_settings

        self.redis, self.relay, self.control = redis, relay, redis.client()
        self.heartbeat = dualauth_settings.PUSH_HEARTBEAT.total_seconds()

    def holds(self, login: Login) -> bool:
        """Whether B's reads left the login's live state in Redis (none while it owes it)."""
        return bool(self.control.exists(login.key))

    def resumed(self) -> float:
        """Let the stopped Redis go on; when."""
        self.redis.resume()
        return time.perf_counter()

    @contextmanager
    def around(self, condition: str) -> Iterator[Fault]:
        """`condition`'s doing to Redis around the logout on A."""
        if condition == "cut":
            self.control.client_kill_filter(_type="pubsub")
            yield Fault(time.perf_counter() + 2 * self.heartbeat)
        elif condition == "failover":
            self.redis.stop()
            broken = time.perf_counter() + 2 * self.heartbeat
            self.redis.start()
            yield Fault(broken)
        elif condition == "stop":
            self.redis.pause()
            try:
                yield Fault(start=self.resumed)
            finally:
                self.redis.resume()
        elif condition == "pause-write":
            pause = int(TIMEOUT * 1000) + PAUSE_SLACK_MS
            self.control.execute_command("CLIENT", "PAUSE", pause, "WRITE")
            try:
                yield Fault()
            finally:
                self.control.execute_command("CLIENT", "UNPAUSE")
        else:
            self.relay.cut()
            try:
                yield Fault()
            finally:
                self.relay.heal()


@contextmanager
def load_on(url: str, logins: list[Login]) -> Iterator[None]:
    """wrk on B meanwhile (1 thread, 2 connections), reading with `logins` in turn."""
    requests = [Request(mode_path(login.mode, "profile"), login.read) for login in logins]
    load, stop, runs = LoadGenerator(), threading.Event(), list[dict[str, Any]]()
    load.connections, load.threads = 2, 1
    loader = threading.Thread(
        target=lambda: runs.extend(load.run(url, requests, 2) for _ in iter(stop.is_set, True))
    )
    loader.start()
    try:
        yield
    finally:
        stop.set()
        loader.join()
    rps, errors = statistics.median(r["rps"] for r in runs), sum(r["errors"] for r in runs)
    print(
        f"load on B: {rps:.0f} req/s (median of {len(runs)} runs), {errors} errors", file=sys.stderr
    )


def run(
    args: argparse.Namespace, env: BenchEnv, write: Callable[[list[Any]], object]
) -> list[dict[str, Any]]:
    """Every level and condition asked, in turn, the modes interleaved; their rows, each
    condition's handed to `write` with those before as it ends.
    """
    from bench.seed import login_make, users_create

    users_create(USERS, args.users)
    # The load reads with a login of each mode of a fifth as many other users.
    loaders = [
        Login(mode, login_make(user, mode), user)
        for user in users_create(LOAD, max(1, args.users // 5))
        for mode in MODES
    ]
    rows = []
    for level, faulty in itertools.product(args.level, (False, True)):
        conditions = [
            c
            for c in args.conditions
            if (c in FAULTS) == faulty and (level == "push" or c not in PUSH_ONLY)
        ]
        if not conditions:
            continue
        faults, urls = None, {}
        if faulty:
            redis = RedisServer(free_port(), env.tmpdir / "redis.log").start()
            faults = Faults(redis, TcpRelay(redis.port).start())
            urls = {"a": f"redis://127.0.0.1:{faults.relay.port}/0", "b": redis.url}
        servers = [
            BenchServer(
                env,
                DUALAUTH,
                workers=WORKERS,
                threads=THREADS,
                name=name,
                REVOCATION=level,
                # Each worker's metrics, summed (as deployed): whether it trusts its channel.
                PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(dir=env.tmpdir),
                **({"REDIS_URL": urls[name]} if urls else {}),
            )
            for name in ("a", "b")
        ]
        try:
            servers_start(servers)
            bench = Bench(servers[0], servers[1], faults, push=level == "push")
            for condition in conditions:
                trials = args.fault_trials if faulty else args.trials
                print(f"{level} {condition}: {trials} trials per mode", file=sys.stderr)
                logins = logins_make(trials)
                samples: dict[str, list[Any]] = {mode: [] for mode in MODES}
                with load_on(bench.b.url, loaders) if condition == "load" else nullcontext():
                    for i, mode in itertools.product(range(trials), MODES):
                        if level == "push" and (faulty or not i):
                            settle(bench.b, logins[mode][i])
                        samples[mode].append(sample := bench.trial(logins[mode][i], condition))
                        if sample["served_inside"]:
                            print(
                                f"{level} {condition} {mode} trial {i}: {sample}", file=sys.stderr
                            )
                        if mode == MODES[0] and i and i % 1000 == 0:
                            print(f"{level} {condition}: {i} trials", file=sys.stderr)
                rows += [row(level, condition, mode, samples[mode]) for mode in MODES]
                write(rows)
                if bench.push:
                    print(
                        f"{level} {condition}: {bench.cold} logins read from Redis still after "
                        f"{WARM_ROUNDS} rounds",
                        file=sys.stderr,
                    )
                    bench.cold = 0
        finally:
            servers_stop(servers)
            if faults:
                faults.relay.stop()
                faults.redis.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    """Measure, update `window.json` as each condition ends, print the run's table."""
    parser = arguments_parser("python -m bench.window", __doc__)
    parser.add_argument("--trials", type=int, default=10_000, help="trials per mode and condition")
    parser.add_argument("--fault-trials", type=int, help="per mode of the faults (--trials)")
    parser.add_argument("--users", type=int, default=1000, help="users the logins are spread over")
    parser.add_argument("--level", choices=LEVELS, action="append", help="default: both")
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated")
    args = parser.parse_args(argv)
    args.level = args.level or list(LEVELS)
    args.conditions = args.conditions.split(",")
    args.fault_trials = args.fault_trials or args.trials
    tree = tree_state()
    env = bench_env_setup("window")

    def write(rows: list[Any]) -> Path:
        out, provenance = results_dir(args.out, tree)
        path = out / "window.json"
        earlier = json.loads(path.read_text()) if path.exists() else {"rows": []}
        measured = [{**r, "commit": provenance["commit"]} for r in rows]
        result = {**provenance, "rows": rows_merge(earlier=earlier, measured=measured)}
        path.write_text(json.dumps(result, indent=2) + "\n")
        return path

    try:
        rows = run(args, env, write)
    finally:
        env.cleanup()
    print(write(rows))
    head = ("mode", "level", "condition", "trials", "p50 ms", "p99 ms", "max ms")
    cells = [
        [*(r[k] for k in head[:4]), *r["window_ms"].values(), *(r[k] for k in COUNTS)] for r in rows
    ]
    print("\n".join(md_table((*head, *COUNTS), cells, left=3)))


if __name__ == "__main__":
    main()
