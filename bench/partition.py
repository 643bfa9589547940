"""`python -m bench.partition`: how long a login revoked during a Redis outage stays accepted.

    DATABASE_URL=postgres://... python -m bench.partition [--trials 30]

A private redis-server and two dualauth instances, A and B (gunicorn, production
settings); A reaches Redis through a TCP relay (bench/relay.py) the bench can cut. Each
trial, per outage (`stop`, `pause-write`, `cut`) and mode: a fresh login on A, read on B;
an outage; the logout on A; B polled until it refuses (the window) and until the
family's REVOKED entry is in Redis (the marker). Each trial also times what B's clients
wait while Redis is stopped (`hung`). A window not closed within `--timeout` is null
(`never`). Writes `partition.json` into `--out`, prints the tables; bench/README.md says
what each outage and figure is.
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.env import RESULTS, BenchEnv, bench_env_setup, results_dir, tree_state
from bench.processes import RedisServer, free_port
from bench.relay import TcpRelay

TRIALS = 30
# Past this, a trial's window is reported as null: nothing closed it.
TIMEOUT = 5.0
MODES = ("session", "jwt-header", "jwt-cookie")
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

Sample = dict[str, float | bool | None]
T = TypeVar("T")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.partition",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials per outage and mode")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds to poll B")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    return parser.parse_args(argv)


def stats(samples: list[Any]) -> dict[str, float | None]:
    """Median, p95 and max in ms; all null when any trial never closed (a regression)."""
    if not samples or any(s is None for s in samples):
        return {"median": None, "p95": None, "max": None}
    values = sorted(float(s) for s in samples)
    # Interpolated between the closest ranks: never outside the samples, even with two.
    p95 = statistics.quantiles(values, n=20, method="inclusive")[18] if values[1:] else values[0]
    return {
        "median": round(statistics.median(values), 3),
        "p95": round(p95, 3),
        "max": values[-1],
    }


@dataclass(frozen=True)
class Login:
    """A live login: what a client sends with every call, and how it logs out."""

    mode: str
    headers: dict[str, str]
    logout_headers: dict[str, str]
    logout_body: dict[str, str] | None
    family_id: uuid.UUID

    @property
    def path(self) -> str:
        """The profile path of this mode."""
        from common.routes import mode_path

        return mode_path(self.mode, "profile")

    def logout(self, base_url: str) -> float:
        """Log out on the instance at `base_url`, as this mode's client does; ms it took."""
        took, _ = self._post(base_url, "logout", self.logout_headers, expected=204)
        return took

    def refresh(self, base_url: str) -> tuple[float, "Login"]:
        """Refresh this JWT login as its client does; ms it took, and the login it became."""
        from common.routes import JWT_HEADER

        header = self.mode == JWT_HEADER
        took, response = self._post(
            base_url, "refresh", {} if header else self.logout_headers, expected=200
        )
        if header:
            pair = response.json()
            headers = {"Authorization": f"Bearer {pair['access']}"}
            return took, replace(
                self,
                headers=headers,
                logout_headers=headers,
                logout_body={"refresh": pair["refresh"]},
            )
        held = dict(cookie.split("=", 1) for cookie in self.logout_headers["Cookie"].split("; "))
        cookies = held | dict(response.cookies.items())
        return took, replace(
            self,
            headers={"Cookie": f"access_token={cookies['access_token']}"},
            logout_headers={**self.logout_headers, "Cookie": _cookie_header(cookies)},
        )

    def _post(
        self, base_url: str, endpoint: str, headers: dict[str, str], *, expected: int
    ) -> tuple[float, httpx.Response]:
        """POST this login's body to `endpoint` of its mode; ms it took, and the response."""
        from common.routes import mode_path

        took, response = _timed(
            lambda: httpx.post(
                f"{base_url}{mode_path(self.mode, endpoint)}",
                headers=headers,
                json=self.logout_body,
                timeout=30,
            )
        )
        if response.status_code != expected:
            raise RuntimeError(
                f"{self.mode} {endpoint}: {response.status_code} {response.text[:200]}"
            )
        return took, response


def _cookie_header(cookies: dict[str, str]) -> str:
    """A `Cookie` header sending every cookie of `cookies`, as a browser holding them does."""
    return "; ".join(f"{key}={value}" for key, value in cookies.items())


def _timed(call: Callable[[], T]) -> tuple[float, T]:
    """Ms `call()` took, to the µs, and what it returned."""
    started = time.perf_counter()
    result = call()
    return round((time.perf_counter() - started) * 1000, 3), result


def login_create(mode: str, base_url: str, user: Any) -> Login:
    """Log in for real as `user` in `mode` on the instance at `base_url`, as its client does."""
    from bench.seed import PASSWORD
    from common.models import LoginFamily
    from common.routes import JWT_HEADER, SESSION, mode_path

    body = {"username": user.get_username(), "password": PASSWORD}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        if mode == JWT_HEADER:
            pair = client.post(mode_path(mode, "login"), json=body).raise_for_status().json()
            headers = {"Authorization": f"Bearer {pair['access']}"}
            # An app sends its access token with every call, the logout's too.
            logout_headers, logout_body = headers, {"refresh": pair["refresh"]}
        else:
            csrf = client.get(mode_path(SESSION, "csrf")).json()["csrf_token"]
            login = client.post(mode_path(mode, "login"), json=body, headers={"X-CSRFToken": csrf})
            login.raise_for_status()
            cookies = {name: str(value) for name, value in client.cookies.items()}
            name = "sessionid" if mode == SESSION else "access_token"
            headers = {"Cookie": f"{name}={cookies[name]}"}
            # A browser sends every cookie it holds, and the CSRF header on an unsafe call.
            logout_headers = {
                "Cookie": _cookie_header(cookies),
                "X-CSRFToken": cookies["csrftoken"],
            }
            logout_body = None
    family = LoginFamily.objects.filter(user_id=user.pk, mode=mode).latest("created_at")
    return Login(mode, headers, logout_headers, logout_body, family.pk)


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
        self.probe = httpx.Client(base_url=b, headers=self.login.headers, timeout=30)

    def __enter__(self) -> "Trial":
        self._settle()
        return self

    def __exit__(self, *exc: object) -> None:
        self.probe.close()

    def _settle(self) -> None:
        """B serves the login until its live state is what the cache holds."""
        from common.selectors import REVOKED

        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            self.probe.get(self.login.path).raise_for_status()
            if self.cache.get(self.key) not in (None, REVOKED):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.login.mode}: B's reads left no live state in the cache")
            time.sleep(0.01)

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
        """Ms from `t0` to B's first 401 (if `refused`) and to the marker (if `marked`).

        Polls both in a tight loop until each came or `--timeout` passed (None then).
        """
        refused_at = marker_at = None
        while time.perf_counter() - t0 < self.timeout and (
            (refused and refused_at is None) or (marked and marker_at is None)
        ):
            if marked and marker_at is None and self.marked():
                marker_at = time.perf_counter()
            if refused and refused_at is None and self.refused():
                refused_at = time.perf_counter()
        return _since(t0, refused_at), _since(t0, marker_at)


def _since(t0: float, at: float | None) -> float | None:
    """Ms from `t0` to `at` (perf_counter), to the µs; None when `at` never came."""
    return None if at is None else round((at - t0) * 1000, 3)


def trial_stop(trial: Trial, server: RedisServer) -> Sample:
    """SIGSTOP while A revokes, B asked nothing; from SIGCONT, B's first 401 and the marker."""
    server.pause()
    try:
        logout_ms = trial.login.logout(trial.a)
    finally:
        t0 = time.perf_counter()
        server.resume()
    window, marker = trial.until(t0, refused=True, marked=True)
    return {
        "window_ms": window,
        "marker_ms": marker,
        "logout_ms": logout_ms,
        "refused_during_outage": None,
    }


def trial_pause_write(trial: Trial, server: RedisServer) -> Sample:
    """Writes held while A revokes, B polled: its first 401 from the logout, while the writes
    are still held; then the unpause, and the marker from it.
    """
    control = server.client()
    control.execute_command("CLIENT", "PAUSE", int(trial.timeout * 1000) + PAUSE_SLACK_MS, "WRITE")
    try:
        logout_ms = trial.login.logout(trial.a)
        window, _ = trial.until(time.perf_counter(), refused=True, marked=False)
        # Nothing was written meanwhile: the pause held all along.
        if trial.marked():
            raise RuntimeError(f"{trial.login.mode}: the marker landed during CLIENT PAUSE WRITE")
    finally:
        t1 = time.perf_counter()
        control.execute_command("CLIENT", "UNPAUSE")
        control.close()
    _, marker = trial.until(t1, refused=False, marked=True)
    return {
        "window_ms": window,
        "marker_ms": marker,
        "logout_ms": logout_ms,
        "refused_during_outage": window is not None,
    }


def trial_cut(trial: Trial, relay: TcpRelay) -> Sample:
    """A cut off from Redis while it revokes; B's first 401 and the marker from the logout."""
    relay.cut()
    try:
        logout_ms = trial.login.logout(trial.a)
        window, marker = trial.until(time.perf_counter(), refused=True, marked=True)
    finally:
        relay.heal()
    return {
        "window_ms": window,
        "marker_ms": marker,
        "logout_ms": logout_ms,
        "refused_during_outage": window is not None,
    }


def trial_hung(mode: str, base_url: str, server: RedisServer, user: Any) -> Sample:
    """What B's clients wait while Redis is stopped: ms each call took, in HUNG_CALLS order.

    A login made before the stop reads its profile; then a new login is made (timed with
    the bench's own lookup of its family, under a millisecond), refreshed (the JWT modes;
    null in session mode) and logged out.
    """
    from common.routes import SESSION

    live = login_create(mode, base_url, user)
    with httpx.Client(base_url=base_url, headers=live.headers, timeout=30) as client:
        client.get(live.path).raise_for_status()
        server.pause()
        try:
            profile_ms, _ = _timed(lambda: client.get(live.path).raise_for_status())
            login_ms, fresh = _timed(lambda: login_create(mode, base_url, user))
            sample: Sample = {"profile_ms": profile_ms, "login_ms": login_ms, "refresh_ms": None}
            if mode != SESSION:
                sample["refresh_ms"], fresh = fresh.refresh(base_url)
            sample["logout_ms"] = fresh.logout(base_url)
        finally:
            server.resume()
    return sample


def summary(trials: list[Sample]) -> dict[str, Any]:
    """Median, p95 and max of each figure; how many trials B refused during the outage."""
    refusals = [t["refused_during_outage"] for t in trials]
    figures: dict[str, Any] = {
        figure: stats([t[figure] for t in trials])
        for figure in ("window_ms", "marker_ms", "logout_ms")
    }
    # B is asked nothing during a stop: null.
    figures["refused_during_outage"] = (
        None if None in refusals else sum(1 for refused in refusals if refused)
    )
    return figures | {"samples": trials}


def run(args: argparse.Namespace, env: BenchEnv, server: RedisServer) -> dict[str, Any]:
    """Every trial, outages and modes interleaved; the figures of each outage and mode."""
    from django.conf import settings

    from bench.seed import users_create
    from bench.server import DUALAUTH, BenchServer, servers_start, servers_stop
    from common.cache_recovery import RECOVERY_RETRY_SECONDS
    from common.conf import dualauth_settings

    user = users_create("bench-partition-", 1)[0]
    relay = TcpRelay(server.port).start()
    a, b = (
        BenchServer(env, DUALAUTH, workers=args.workers, threads=args.threads, name=name, **extra)
        for name, extra in (("a", {"REDIS_URL": f"redis://127.0.0.1:{relay.port}/0"}), ("b", {}))
    )
    outages: dict[str, Callable[[Trial], Sample]] = {
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
                        samples[kind][mode].append(outages[kind](trial))
            for mode in MODES:
                hung[mode].append(trial_hung(mode, b.url, server, user))
    finally:
        servers_stop([a, b])
        relay.stop()
    options = settings.CACHES["dualauth"]["OPTIONS"]
    return {
        "meta": {
            "trials": args.trials,
            "timeout_s": args.timeout,
            "database": "postgresql" if env.postgres else "sqlite",
            "redis": server.client().info("server")["redis_version"],
            "workers": args.workers,
            "threads": args.threads,
            "recovery_retry_ms": RECOVERY_RETRY_SECONDS * 1000,
            "cache_pending_poll_ms": dualauth_settings.CACHE_PENDING_POLL.total_seconds() * 1000,
            "cache_socket_timeout_ms": options["SOCKET_TIMEOUT"] * 1000,
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
    """The figures as a markdown table."""
    meta = result["meta"]
    trials = meta["trials"]
    lines = [
        f"Revocation during a Redis outage: {trials} trials per row, in ms (`never`: not "
        f"within {meta['timeout_s']:g} s). Window: how long B still accepts the revoked login; "
        "marker: until its REVOKED entry is in Redis; each timed from:",
        "",
        *(
            f"- `{kind}`: window from {meta['window_from'][kind]}, "
            f"marker from {meta['marker_from'][kind]}"
            for kind in result["outages"]
        ),
        "",
        "| outage | mode | window median | p95 | max | B refused during the outage"
        " | marker median | p95 | max | A's logout (median) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, by_mode in result["outages"].items():
        for mode, figures in by_mode.items():
            window, marker = figures["window_ms"], figures["marker_ms"]
            refused = figures["refused_during_outage"]
            cells = [kind, mode, *(_ms(window[k]) for k in ("median", "p95", "max"))]
            cells.append("not asked" if refused is None else f"{refused}/{trials}")
            cells += [*(_ms(marker[k]) for k in ("median", "p95", "max"))]
            cells.append(_ms(figures["logout_ms"]["median"]))
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"What B's clients waited while Redis was stopped: ms per call, {trials} trials"
        " (median / max; refresh: JWT modes only).",
        "",
        "| mode | " + " | ".join(HUNG_CALLS) + " |",
        "|---|" + "---:|" * len(HUNG_CALLS),
    ]
    for mode, figures in result["hung"].items():
        cells = [mode]
        for call in HUNG_CALLS:
            timed = figures[f"{call}_ms"]
            unmeasured = timed["median"] is None
            cells.append("n/a" if unmeasured else f"{timed['median']:.1f} / {timed['max']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _with_private_redis(body: Callable[[RedisServer], dict[str, Any]]) -> dict[str, Any]:
    """`body(server)` with a private redis-server, stopped (and its files gone) afterwards."""
    if shutil.which("redis-server") is None:
        raise SystemExit("bench.partition starts a redis-server of its own: install Redis")
    tmpdir = Path(tempfile.mkdtemp(prefix="dualauth-partition-redis-"))
    server = RedisServer(free_port(), tmpdir / "redis.log").start()
    try:
        return body(server)
    finally:
        server.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Measure, write `partition.json`, print the table."""
    args = arguments(argv)
    tree = tree_state()
    started = datetime.now(UTC)

    def measured(server: RedisServer) -> dict[str, Any]:
        # Set before Django is: this process and both instances share them (A's REDIS_URL
        # is the relay's).
        os.environ["REDIS_URL"] = server.url
        os.environ["PASSWORD_HASHERS"] = MD5
        env = bench_env_setup(suffix="partition")
        try:
            return run(args, env, server)
        finally:
            env.cleanup()

    result = _with_private_redis(measured)
    out, provenance = results_dir(args.out, tree)
    result["meta"] |= {"started_at": started.isoformat(timespec="seconds"), **provenance}
    (out / "partition.json").write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    print(out / "partition.json")
    print(markdown(result))


if __name__ == "__main__":
    main()
