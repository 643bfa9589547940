"""`python -m bench.compare`: the classic session-vs-JWT table, every cell measured on live servers.

dualauth's modes run on dualauth in its production settings, the stock ones on the stock
project (bench/stock/: Django `db` sessions, simplejwt as shipped); each has two server
instances sharing the database and Redis when REDIS_URL is set (else one). Each mode
logs in for real, then is probed, loaded and logged out.
"""

import argparse
import base64
import json
import os
import pickle
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.env import RESULTS, BenchEnv, bench_env_setup, env_flag
from bench.load import WRK_INSTALL_HINT, LoadGenerator, Progress, Request
from bench.run import git_commit, servers_start
from bench.server import DUALAUTH, STOCK, BenchServer, Project
from common.routes import JWT_COOKIE, JWT_HEADER, SESSION, mode_path

STREAK = 8
MODES = ("session", "jwt-header", "jwt-cookie", "stock-session", "stock-jwt")
STOCK_PROFILE_PATHS = {"stock-session": "/session/profile/", "stock-jwt": "/jwt/profile/"}
CELLS = {
    "storage_bytes": "server-side storage per login (bytes)",
    "logout_ms": "logout latency, same instance (ms until refused)",
    "cross_instance_ms": "revocation latency across instances (ms until refused)",
    "csrf_needed": "CSRF needed (unsafe request without X-CSRFToken is refused)",
    "works_without_cookies": "works without cookies",
    "credential_bytes": "credential bytes per request",
    "sql_per_request": "SQL queries per request",
    "redis_per_request": "Redis commands per request",
    "rps": "req/s (short wrk run)",
}


@dataclass
class Login:
    """A live login of one mode: how to call the profile with it, and how to end it."""

    mode: str
    headers: dict[str, str]
    cookies: dict[str, str] = field(default_factory=dict)
    logout: Callable[[str], httpx.Response] | None = None
    family_id: str | None = None
    session_key: str | None = None

    @property
    def path(self) -> str:
        """The profile path of this mode."""
        return STOCK_PROFILE_PATHS.get(self.mode) or mode_path(self.mode, "profile")

    def cookie_header(self, **extra: str) -> dict[str, str]:
        """Every cookie the browser holds, as one header."""
        jar = {**self.cookies, **extra}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _post(base_url: str, path: str, login: Login, **kwargs: Any) -> httpx.Response:
    csrf = login.cookies.get("csrftoken", "")
    headers = {**login.cookie_header(), "X-CSRFToken": csrf, **kwargs.pop("headers", {})}
    return httpx.post(f"{base_url}{path}", headers=headers, timeout=30, **kwargs)


def _project(mode: str) -> Project:
    """The project serving `mode`."""
    return STOCK if mode in STOCK_PROFILE_PATHS else DUALAUTH


def _stock_logged_out(url: str) -> httpx.Response:
    """Stock simplejwt has no logout: the client forgets its token, the server nothing."""
    return httpx.Response(204)


def login_create(mode: str, base_url: str) -> Login:
    """Log in for real in `mode` on the server at `base_url` (of the mode's project)."""
    from bench.seed import PASSWORD, USERNAME, browser_login, token_login
    from session_auth.services import FAMILY_SESSION_KEY
    from session_auth.sessions import SessionStore

    credentials = {"username": USERNAME, "password": PASSWORD}
    if mode == "session":
        cookies = browser_login(base_url, mode_path(SESSION, "login"))
        key = cookies["sessionid"]
        login = Login(mode, {"Cookie": f"sessionid={key}"}, cookies, session_key=key)
        login.family_id = SessionStore(key).load()[FAMILY_SESSION_KEY]
        login.logout = lambda url: _post(url, mode_path(SESSION, "logout"), login)
        return login
    if mode == "jwt-cookie":
        cookies = browser_login(base_url, mode_path(JWT_COOKIE, "login"))
        login = Login(mode, {"Cookie": f"access_token={cookies['access_token']}"}, cookies)
        login.family_id = _claims(cookies["access_token"])["fam"]
        login.logout = lambda url: _post(url, mode_path(JWT_COOKIE, "logout"), login)
        return login
    if mode == "stock-session":
        with httpx.Client(base_url=base_url, timeout=30) as client:
            client.post("/session/login/", json=credentials).raise_for_status()
            cookies = {name: str(value) for name, value in client.cookies.items()}
        key = cookies["sessionid"]
        login = Login(mode, {"Cookie": f"sessionid={key}"}, cookies, session_key=key)
        login.logout = lambda url: _post(url, "/session/logout/", login)
        return login
    if mode == "stock-jwt":
        response = httpx.post(f"{base_url}/jwt/token/", json=credentials, timeout=30)
        response.raise_for_status()
        login = Login(mode, {"Authorization": f"Bearer {response.json()['access']}"})
        login.logout = _stock_logged_out
        return login
    pair = token_login(base_url)
    login = Login(mode, {"Authorization": f"Bearer {pair['access']}"})
    login.family_id = _claims(pair["access"])["fam"]
    login.logout = lambda url: httpx.post(
        f"{url}{mode_path(JWT_HEADER, 'logout')}", json={"refresh": pair["refresh"]}, timeout=30
    )
    return login


def _redis_bytes(key: str) -> int | None:
    from django.core.cache import cache

    client = getattr(cache, "client", None)
    if client is None:
        return None
    raw = client.get_client(write=False)
    used = raw.memory_usage(cache.make_key(key))
    return int(used) if used is not None else None


def _row_bytes(table: str, column: str, value: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            query = f"SELECT pg_column_size(t.*) FROM {table} t WHERE {column} = %s"  # noqa: S608
            cursor.execute(query, [value])
        else:
            cursor.execute(f"SELECT * FROM {table} WHERE {column} = %s", [value])  # noqa: S608
            row = cursor.fetchone()
            return sum(len(str(v).encode()) for v in row if v is not None) if row else 0
        row = cursor.fetchone()
        return int(row[0]) if row else 0


def storage_per_login(login: Login) -> tuple[int, str]:
    """Bytes the server keeps for this login (rows and cache entries), and their breakdown."""

    from common.models import LoginFamily
    from common.selectors import family_cache_key
    from session_auth.sessions import SessionStore, session_key_stored

    parts: list[tuple[str, int]] = []
    if login.session_key:
        # dualauth stores a hash of the key; the stock backend, the key itself.
        stored = (
            session_key_stored(login.session_key) if login.mode == "session" else login.session_key
        )
        parts.append(("session row", _row_bytes("django_session", "session_key", stored)))
        if login.mode == "session":
            cached = _redis_bytes(SessionStore(login.session_key).cache_key)
            if cached is None:
                data = SessionStore(login.session_key).load()
                parts.append(("session cache entry (pickled, locmem)", len(pickle.dumps(data))))
            else:
                parts.append(("session cache entry", cached))
    if login.family_id:
        family_pk = uuid.UUID(login.family_id).hex
        if LoginFamily.objects.filter(pk=family_pk).exists():
            table = LoginFamily._meta.db_table
            parts.append(("family row", _row_bytes(table, "id", _pk_literal(family_pk))))
        user_id = LoginFamily.objects.filter(pk=family_pk).values_list("user_id", flat=True).first()
        cached = _redis_bytes(family_cache_key(login.family_id, user_id))
        if cached is not None:
            parts.append(("family cache entry", cached))
    if not parts:
        return 0, "nothing stored"
    return sum(n for _, n in parts), " + ".join(f"{name} {n}" for name, n in parts)


def _pk_literal(hex_id: str) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return str(uuid.UUID(hex_id))
    return hex_id


def _refused(response: httpx.Response) -> bool:
    return response.status_code in (401, 403)


def revocation_latency(
    login: Login, logout_url: str, probe_url: str, timeout: float
) -> float | None:
    """Ms from the logout call until `probe_url` refuses for good; None if not within timeout.

    "For good": the refusal that starts a run of STREAK refusals, each on a new connection
    so that every worker is asked (a per-process cache may still accept on another one).
    """
    assert login.logout is not None
    start = time.perf_counter()
    response = login.logout(logout_url)
    if response.status_code >= 400:
        raise RuntimeError(f"{login.mode} logout: {response.status_code} {response.text[:200]}")
    first_refusal: float | None = None
    streak = 0
    while time.perf_counter() - start < timeout:
        probe = httpx.get(f"{probe_url}{login.path}", headers=login.headers, timeout=30)
        if _refused(probe):
            first_refusal = first_refusal or (time.perf_counter() - start) * 1000
            streak += 1
            if streak >= STREAK:
                return first_refusal
        else:
            first_refusal, streak = None, 0
            time.sleep(0.005)
    return None


def csrf_needed(login: Login, base_url: str) -> bool:
    """Whether an unsafe request with the credential but without X-CSRFToken is refused."""
    response = httpx.patch(
        f"{base_url}{login.path}",
        headers={**login.headers, **login.cookie_header()},
        json={"display_name": "Bench"},
        timeout=30,
    )
    # 405: the credential passed, and the stock profile has no PATCH.
    if response.status_code not in (200, 403, 405):
        raise RuntimeError(f"{login.mode} CSRF probe: {response.status_code} {response.text[:200]}")
    return response.status_code == 403


def works_without_cookies(login: Login, base_url: str) -> bool:
    """Whether the profile answers with no Cookie header at all."""
    headers = {k: v for k, v in login.headers.items() if k != "Cookie"}
    return httpx.get(f"{base_url}{login.path}", headers=headers, timeout=30).status_code == 200


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", default=env_flag(os.environ.get("BENCH_QUICK"))
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--duration", type=float, help="seconds of wrk per mode")
    parser.add_argument("--timeout", type=float, help="seconds to wait for a refusal")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--python-load", action="store_true")
    args = parser.parse_args(argv)
    args.duration = args.duration or (1.0 if args.quick else 5.0)
    args.timeout = args.timeout or (3.0 if args.quick else 10.0)
    return args


def main(argv: list[str] | None = None) -> None:
    """Measure every cell and write compare.md and compare.json."""
    args = arguments(argv)
    started = datetime.now(UTC)
    commit = git_commit()
    env = bench_env_setup(suffix="compare")
    try:
        result = _run(args, env, started)
    finally:
        env.cleanup()
    result["meta"]["commit"] = commit
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "compare.md").write_text(markdown(result))
    print(args.out / "compare.json")
    print(markdown(result))


def _run(args: argparse.Namespace, env: BenchEnv, started: datetime) -> dict[str, Any]:
    from bench.configs import Config
    from bench.measure import redis_per_request, sql_per_request
    from bench.seed import bench_user_create

    load = LoadGenerator(connections=8, threads=2, force_python=args.python_load)
    if load.wrk is None:
        print(f"{WRK_INSTALL_HINT}\nfalling back to: {load.label}", file=sys.stderr)
    bench_user_create()
    instances = 2 if env.redis_url else 1
    servers = {
        project: [
            BenchServer(
                env,
                project,
                workers=args.workers,
                threads=args.threads,
                name=f"{project.settings.split('.')[0]}-{i}",
            )
            for i in range(instances)
        ]
        for project in (DUALAUTH, STOCK)
    }
    cells: dict[str, dict[str, Any]] = {mode: {} for mode in MODES}
    notes: dict[str, dict[str, str]] = {mode: {} for mode in MODES}
    configs: list[Config] = []
    progress = Progress(len(MODES) * 3)
    try:
        servers_start([server for pair in servers.values() for server in pair])
        for mode in MODES:
            a, b = servers[_project(mode)][0], servers[_project(mode)][-1]
            progress.step(f"{mode}: probes and load")
            login = login_create(mode, a.url)
            request = Request(login.path, login.headers)
            config = Config(mode, _project(mode), login.path, mode, "", (request,))
            httpx.get(f"{a.url}{login.path}", headers=login.headers, timeout=30).raise_for_status()
            row = cells[mode]
            row["storage_bytes"], notes[mode]["storage_bytes"] = storage_per_login(login)
            row["csrf_needed"] = csrf_needed(login, a.url)
            row["works_without_cookies"] = works_without_cookies(login, a.url)
            row["credential_bytes"] = config.credential_bytes
            configs.append(config)
            row["redis_per_request"] = redis_per_request(
                a.url, request, env.redis_url, env.cache_prefix, 10
            )
            row["rps"] = load.run(a.url, [request], args.duration).rps

            progress.step(f"{mode}: logout")
            login = login_create(mode, a.url)
            row["logout_ms"] = revocation_latency(login, a.url, a.url, args.timeout)

            progress.step(f"{mode}: revocation across instances")
            if instances == 1:
                row["cross_instance_ms"] = None
                notes[mode]["cross_instance_ms"] = "one instance only (no REDIS_URL)"
            else:
                login = login_create(mode, a.url)
                # Instance B has served the credential, so whatever it caches is warm.
                httpx.get(f"{b.url}{login.path}", headers=login.headers, timeout=30)
                row["cross_instance_ms"] = revocation_latency(login, a.url, b.url, args.timeout)
            for key in ("logout_ms", "cross_instance_ms"):
                if row[key] is None and key not in notes[mode]:
                    notes[mode][key] = f"still accepted after {args.timeout:g} s"
        # The first login of each mode is still live: counted at once, one process per project.
        for mode, count in sql_per_request(env, configs, 10).items():
            cells[mode]["sql_per_request"] = count
        progress.finish()
    finally:
        for pair in servers.values():
            for server in pair:
                server.stop()
    return {
        "meta": {
            "started_at": started.isoformat(timespec="seconds"),
            "database": "postgresql" if env.postgres else "sqlite",
            "cache": "redis" if env.redis_url else "locmem (per process)",
            "instances": instances,
            "workers": args.workers,
            "threads": args.threads,
            "load_generator": load.label,
            "duration_s": args.duration,
            "timeout_s": args.timeout,
            "quick": args.quick,
        },
        "cells": cells,
        "notes": notes,
    }


def _cell(value: Any, note: str | None) -> str:
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif value is None:
        text = "n/a"
    elif isinstance(value, float):
        text = f"{value:,.1f}" if value < 1000 or value != int(value) else f"{value:,.0f}"
    else:
        text = f"{value:,}"
    return f"{text} ({note})" if note else text


def markdown(result: dict[str, Any]) -> str:
    """The table: one row per property, one column per mode."""
    meta = result["meta"]
    lines = [
        "# Sessions vs JWTs, measured",
        "",
        f"{meta['started_at']} · {meta['commit']} · {meta['database']} + {meta['cache']} · "
        f"{meta['instances']} "
        f"instance(s) of gunicorn {meta['workers']}x{meta['threads']} · load: "
        f"{meta['load_generator']}, {meta['duration_s']} s per mode"
        + (" · QUICK mode" if meta["quick"] else ""),
        "",
        "| | " + " | ".join(MODES) + " |",
        "|---|" + "---|" * len(MODES),
    ]
    for key, label in CELLS.items():
        values = [
            _cell(result["cells"][mode][key], result["notes"][mode].get(key)) for mode in MODES
        ]
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    lines += [
        "",
        "dualauth's modes run dualauth in its production settings; the stock ones a stock "
        "project (Django `db` sessions, simplejwt as shipped). Stock simplejwt has no logout: "
        "its token lives until it expires. See bench/README.md for each probe.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
