"""`python -m bench.partition`: how long a login revoked during a Redis outage stays accepted.

    DATABASE_URL=postgres://... python -m bench.partition [--trials 30]

Two dualauth instances, A and B, and a redis-server of its own; per trial, outage (`stop`,
`pause-write`, `cut`) and mode, a login revoked on A during the outage, and how long B
accepts it. Writes `partition.json` into `--out`, prints the tables; bench/README.md says
what each outage and figure is.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.env import BenchEnv, arguments_parser, measured
from bench.processes import RedisServer, free_port
from bench.relay import TcpRelay
from bench.report import md_table
from common.routes import JWT_HEADER, MODES, SESSION, mode_path

TRIALS = 30
# Each instance's gunicorn, as `python -m bench` runs its servers.
WORKERS, THREADS = 2, 4
# Past this, a trial's window is reported as null: nothing closed it.
TIMEOUT = 5.0
OUTAGES = ("stop", "pause-write", "cut")
# B's calls timed while Redis is stopped (`hung`), in this order.
HUNG_CALLS = ("profile", "login", "refresh", "logout")
# What each outage's window and marker are timed from.
WINDOW_FROM = {"stop": "SIGCONT", "pause-write": "logout answered", "cut": "logout answered"}
MARKER_FROM = {"stop": "SIGCONT", "pause-write": "CLIENT UNPAUSE", "cut": "logout answered"}
# CLIENT PAUSE's own limit past --timeout: ends the pause should the bench die before it unpauses.
PAUSE_SLACK_MS = 60_000
# How long B's first read of a login may take to leave its live state in the cache: an
# instance still paying a debt of the previous trial reads the database meanwhile.
SETTLE_TIMEOUT = 5.0
MD5 = "django.contrib.auth.hashers.MD5PasswordHasher"
FIGURES = ("logout_ms", "window_ms", "marker_ms")
OUTAGE_COLUMNS = (
    *("outage", "mode", "window median", "p95", "max", "B refused during the outage"),
    *("marker median", "p95", "max", "A's logout (median)"),
)

# A trial's ms: A's logout, the window, the marker.
Timings = tuple[float, float | None, float | None]
STATS = ("median", "p95", "max")
Sample = dict[str, float | bool | None]
T = TypeVar("T")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = arguments_parser("python -m bench.partition", __doc__)
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials per outage and mode")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds to poll B")
    return parser.parse_args(argv)


def stats(samples: list[Any]) -> dict[str, float | None]:
    """Median, p95 and max in ms; all null when any trial never closed (a regression)."""
    if not samples or any(s is None for s in samples):
        return dict.fromkeys(STATS)
    values = sorted(float(s) for s in samples)
    # Interpolated between the closest ranks: never outside the samples, even with two.
    p95 = statistics.quantiles(values, n=20, method="inclusive")[18] if values[1:] else values[0]
    return {"median": round(statistics.median(values), 3), "p95": round(p95, 3), "max": values[-1]}


@dataclass
class Login:
    """A live login, held by its client as a browser or an app holds it: its cookies (with
    the CSRF token), or its Bearer header and refresh token.
    """

    mode: str
    client: httpx.Client
    family_id: uuid.UUID
    # The credential alone, as another instance is sent it.
    credential: dict[str, str]
    refresh_token: str = ""

    @property
    def path(self) -> str:
        """The profile path of this mode."""
        return mode_path(self.mode, "profile")

    def post(self, base_url: str, endpoint: str, *, expected: int) -> float:
        """POST to `endpoint` of this login's mode as its client does; ms it took."""
        body = {"refresh": self.refresh_token} if self.refresh_token else None
        csrf = self.client.cookies.get("csrftoken")
        headers = {"X-CSRFToken": csrf} if csrf else {}
        url = f"{base_url}{mode_path(self.mode, endpoint)}"
        took, response = _timed(lambda: self.client.post(url, json=body, headers=headers))
        if response.status_code != expected:
            raise RuntimeError(f"{self.mode} {endpoint}: {response.status_code} {response.text}")
        if self.refresh_token and endpoint == "refresh":
            pair = response.json()
            self.client.headers["Authorization"] = f"Bearer {pair['access']}"
            self.refresh_token = pair["refresh"]
        return took


def _timed(call: Callable[[], T]) -> tuple[float, T]:
    """Ms `call()` took, to the µs, and what it returned."""
    started = time.perf_counter()
    result = call()
    return round((time.perf_counter() - started) * 1000, 3), result


def login_create(mode: str, base_url: str, user: Any) -> Login:
    """Log in for real as `user` in `mode` on the instance at `base_url`, as its client does."""
    from bench.seed import PASSWORD
    from common.models import LoginFamily

    body = {"username": user.get_username(), "password": PASSWORD}
    client = httpx.Client(base_url=base_url, timeout=30)
    headers = {}
    if mode != JWT_HEADER:
        headers["X-CSRFToken"] = client.get(mode_path(SESSION, "csrf")).json()["csrf_token"]
    response = client.post(mode_path(mode, "login"), json=body, headers=headers)
    response.raise_for_status()
    family = LoginFamily.objects.filter(user_id=user.pk, mode=mode).latest("created_at")
    if mode != JWT_HEADER:
        name = "sessionid" if mode == SESSION else "access_token"
        return Login(mode, client, family.pk, {"Cookie": f"{name}={client.cookies[name]}"})
    # An app sends its access token with every call, the logout's too.
    client.headers["Authorization"] = bearer = f"Bearer {response.json()['access']}"
    return Login(mode, client, family.pk, {"Authorization": bearer}, response.json()["refresh"])


class Trial:
    """One login of `mode`, logged in on A, read on B, and revoked on A during an outage."""

    def __init__(self, mode: str, a: str, b: str, user: Any, timeout: float) -> None:
        from django.core.cache import caches

        from common.conf import CACHE_ALIAS
        from common.selectors import family_cache_key

        self.a = a
        self.timeout = timeout
        self.login = login_create(mode, a, user)
        self.cache = caches[CACHE_ALIAS]
        self.key = family_cache_key(self.login.family_id, user.pk)
        self.probe = httpx.Client(base_url=b, headers=self.login.credential, timeout=30)

    def __enter__(self) -> "Trial":
        """B serves the login until its live state is what the cache holds."""
        from common.selectors import REVOKED

        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            self.probe.get(self.login.path).raise_for_status()
            if self.cache.get(self.key) not in (None, REVOKED):
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.login.mode}: B's reads left no live state in the cache")
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        self.probe.close()
        self.login.client.close()

    def logout(self) -> float:
        """Log out on A; ms it took."""
        return self.login.post(self.a, "logout", expected=204)

    def refused(self) -> bool:
        """Whether B refuses the login now (401); it accepts it otherwise (200)."""
        status = self.probe.get(self.login.path).status_code
        if status not in (200, 401):
            raise RuntimeError(f"{self.login.mode}: B answered {status}")
        return status == 401

    def marked(self) -> bool:
        """Whether the family's REVOKED entry is in Redis."""
        from common.selectors import REVOKED

        return bool(self.cache.get(self.key) == REVOKED)

    def until(self, t0: float, *, refused: bool, marked: bool) -> tuple[float | None, float | None]:
        """Ms from `t0` to B's first 401 (if `refused`) and to the marker (if `marked`), to the
        µs. Polls both in a tight loop until each came or `--timeout` passed (None then).
        """
        wanted = {"marked": marked, "refused": refused}
        came: dict[str, float | None] = dict.fromkeys(wanted)
        polls = [name for name, asked in wanted.items() if asked]
        while time.perf_counter() - t0 < self.timeout and any(came[n] is None for n in polls):
            for name in polls:
                if came[name] is None and getattr(self, name)():
                    came[name] = round((time.perf_counter() - t0) * 1000, 3)
        return came["refused"], came["marked"]


def trial_stop(trial: Trial, server: RedisServer) -> Timings:
    """SIGSTOP while A revokes, B asked nothing; from SIGCONT, B's first 401 and the marker."""
    server.pause()
    try:
        logout_ms = trial.logout()
    finally:
        t0 = time.perf_counter()
        server.resume()
    return logout_ms, *trial.until(t0, refused=True, marked=True)


def trial_pause_write(trial: Trial, server: RedisServer) -> Timings:
    """Writes held while A revokes, B polled: its first 401 from the logout, while the writes
    are still held; then the unpause, and the marker from it.
    """
    control = server.client()
    control.execute_command("CLIENT", "PAUSE", int(trial.timeout * 1000) + PAUSE_SLACK_MS, "WRITE")
    try:
        logout_ms = trial.logout()
        window, _ = trial.until(time.perf_counter(), refused=True, marked=False)
        # Nothing was written meanwhile: the pause held all along.
        if trial.marked():
            raise RuntimeError(f"{trial.login.mode}: the marker landed during CLIENT PAUSE WRITE")
    finally:
        t1 = time.perf_counter()
        control.execute_command("CLIENT", "UNPAUSE")
        control.close()
    return logout_ms, window, trial.until(t1, refused=False, marked=True)[1]


def trial_cut(trial: Trial, relay: TcpRelay) -> Timings:
    """A cut off from Redis while it revokes; B's first 401 and the marker from the logout."""
    relay.cut()
    try:
        logout_ms = trial.logout()
        return logout_ms, *trial.until(time.perf_counter(), refused=True, marked=True)
    finally:
        relay.heal()


def trial_hung(mode: str, base_url: str, server: RedisServer, user: Any) -> Sample:
    """What B's clients wait while Redis is stopped: ms each call took, in HUNG_CALLS order.

    A login made before the stop reads its profile; then a new login is made (timed with
    the bench's own lookup of its family, under a millisecond), refreshed (the JWT modes;
    null in session mode) and logged out.
    """
    live = login_create(mode, base_url, user)
    live.client.get(live.path).raise_for_status()
    server.pause()
    try:
        profile_ms, _ = _timed(lambda: live.client.get(live.path).raise_for_status())
        login_ms, fresh = _timed(lambda: login_create(mode, base_url, user))
        sample: Sample = {"profile_ms": profile_ms, "login_ms": login_ms, "refresh_ms": None}
        if mode != SESSION:
            sample["refresh_ms"] = fresh.post(base_url, "refresh", expected=200)
        sample["logout_ms"] = fresh.post(base_url, "logout", expected=204)
    finally:
        server.resume()
    live.client.close()
    fresh.client.close()
    return sample


def summary(trials: list[Sample]) -> dict[str, Any]:
    """Median, p95 and max of each figure; how many trials B refused during the outage (null
    after a stop: B is asked nothing during it).
    """
    figures = {figure: stats([t[figure] for t in trials]) for figure in FIGURES}
    refusals = [t["refused_during_outage"] for t in trials]
    refused = None if None in refusals else sum(1 for r in refusals if r)
    return figures | {"refused_during_outage": refused, "samples": trials}


def run(args: argparse.Namespace, env: BenchEnv, server: RedisServer) -> dict[str, Any]:
    """Every trial, outages and modes interleaved; the figures of each outage and mode."""
    from bench.seed import users_create
    from bench.server import DUALAUTH, BenchServer, servers_start, servers_stop

    user = users_create("bench-partition-", 1)[0]
    relay = TcpRelay(server.port).start()
    a, b = (
        BenchServer(env, DUALAUTH, workers=WORKERS, threads=THREADS, name=name, **extra)
        for name, extra in (("a", {"REDIS_URL": f"redis://127.0.0.1:{relay.port}/0"}), ("b", {}))
    )
    outages: dict[str, Callable[[Trial], Timings]] = {
        "stop": lambda trial: trial_stop(trial, server),
        "pause-write": lambda trial: trial_pause_write(trial, server),
        "cut": lambda trial: trial_cut(trial, relay),
    }
    samples: dict[str, dict[str, list[Sample]]] = {
        kind: {mode: [] for mode in MODES} for kind in OUTAGES
    }
    hung: dict[str, list[Sample]] = {mode: [] for mode in MODES}
    try:
        servers_start([a, b])
        for _ in range(args.trials):
            for kind in OUTAGES:
                for mode in MODES:
                    with Trial(mode, a.url, b.url, user, args.timeout) as trial:
                        sample: Sample = dict(zip(FIGURES, outages[kind](trial), strict=True))
                    # B is asked nothing during a stop.
                    sample["refused_during_outage"] = (
                        None if kind == "stop" else bool(sample["window_ms"] is not None)
                    )
                    samples[kind][mode].append(sample)
            for mode in MODES:
                hung[mode].append(trial_hung(mode, b.url, server, user))
    finally:
        servers_stop([a, b])
        relay.stop()
    return {
        "meta": {
            "trials": args.trials,
            "timeout_s": args.timeout,
            **env.meta,
            "redis": server.client().info("server")["redis_version"],
            "workers": WORKERS,
            "threads": THREADS,
            "window_from": WINDOW_FROM,
            "marker_from": MARKER_FROM,
        },
        "outages": {
            kind: {mode: summary(trials) for mode, trials in by_mode.items()}
            for kind, by_mode in samples.items()
        },
        "hung": {
            mode: {f"{call}_ms": stats([t[f"{call}_ms"] for t in trials]) for call in HUNG_CALLS}
            | {"samples": trials}
            for mode, trials in hung.items()
        },
    }


def _ms(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def markdown(result: dict[str, Any]) -> str:
    """The figures as Markdown tables."""
    meta = result["meta"]
    trials = meta["trials"]

    def outage_row(kind: str, mode: str, figures: dict[str, Any]) -> list[str]:
        refused = figures["refused_during_outage"]
        return [
            kind,
            mode,
            *(_ms(figures["window_ms"][k]) for k in STATS),
            "not asked" if refused is None else f"{refused}/{trials}",
            *(_ms(figures["marker_ms"][k]) for k in STATS),
            _ms(figures["logout_ms"]["median"]),
        ]

    def hung_cell(timed: dict[str, Any]) -> str:
        return "n/a" if timed["median"] is None else f"{timed['median']:.1f} / {timed['max']:.1f}"

    lines = [
        f"Revocation during a Redis outage: {trials} trials per row, in ms (`never`: not "
        f"within {meta['timeout_s']:g} s). Window: how long B still accepts the revoked login; "
        "marker: until its REVOKED entry is in Redis; each timed from:",
        "",
        *(
            f"- `{kind}`: window from {WINDOW_FROM[kind]}, marker from {MARKER_FROM[kind]}"
            for kind in OUTAGES
        ),
        "",
        *md_table(
            OUTAGE_COLUMNS,
            (
                outage_row(kind, mode, figures)
                for kind, by_mode in result["outages"].items()
                for mode, figures in by_mode.items()
            ),
            left=2,
        ),
        f"What B's clients waited while Redis was stopped: ms per call, {trials} trials"
        " (median / max; refresh: JWT modes only).",
        "",
        *md_table(
            ["mode", *HUNG_CALLS],
            (
                [mode, *(hung_cell(f[f"{c}_ms"]) for c in HUNG_CALLS)]
                for mode, f in result["hung"].items()
            ),
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure, write `partition.json`, print the tables."""
    args = arguments(argv)
    if shutil.which("redis-server") is None:
        raise SystemExit("bench.partition starts a redis-server of its own: install Redis")
    tmpdir = Path(tempfile.mkdtemp(prefix="dualauth-partition-redis-"))
    server = RedisServer(free_port(), tmpdir / "redis.log").start()
    # Set before Django is: this process and both instances share them (A's REDIS_URL is
    # the relay's).
    os.environ["REDIS_URL"] = server.url
    os.environ["PASSWORD_HASHERS"] = MD5
    try:
        result, out = measured(
            "partition", lambda env: run(args, env, server), args.out, "partition.json"
        )
    finally:
        server.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)
    print(out / "partition.json")
    print(markdown(result))


if __name__ == "__main__":
    main()
