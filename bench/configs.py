"""The configurations a run measures: which project serves them, and what each guarantees.

A DPoP proof works once (the server's replay cache records its `jti`) and `wrk` cannot
sign: the DPoP row's proofs are signed for the server's URL just before each measurement,
well within `DPOP_IAT_LEEWAY`, and `wrk` sends each request of the list once
(bench/requests.lua); a run that used them all is made again with twice as many.
"""

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import cycle, islice
from typing import Any

from bench.env import BenchEnv
from bench.load import Request
from bench.server import DUALAUTH, DUALAUTH_PUSH, STOCK, STOCK_CACHE, STOCK_CACHED_DB, Project

BEARER = ("Authorization", "Bearer {}")
SESSIONID = ("Cookie", "sessionid={}")
# The `push` level's rows: each mode's name with this after it.
PUSH = "-push"
DPOP = "jwt-header+dpop"
# name: project, path, the credential's kind and (header, template), what runs, revocation.
STOCK_ROWS: dict[str, tuple[Any, ...]] = {
    "baseline": (STOCK, "/constant/", "", None, "stock project, constant DRF endpoint", "n/a"),
    "stock-jwt-stateless": (
        *(STOCK, "/jwt/stateless/", "jwt", BEARER),
        "simplejwt JWTStatelessUserAuthentication: the token's claims, no database (floor)",
        "none: valid until it expires",
    ),
    "stock-jwt": (
        *(STOCK, "/jwt/profile/", "jwt", BEARER),
        "simplejwt JWTAuthentication: decode, user row; profile row",
        "none: valid until it expires (a deactivated user: next request)",
    ),
    "stock-token": (
        *(STOCK, "/token/profile/", "token", ("Authorization", "Token {}")),
        "DRF TokenAuthentication: token row joined to its user; profile row",
        "next request (token row deleted)",
    ),
    "stock-session-db": (
        *(STOCK, "/session/profile/", "session-db", SESSIONID),
        "DRF SessionAuthentication, `db` sessions: session row, user row; profile row",
        "next request (session deleted)",
    ),
    "stock-session-cache": (
        *(STOCK_CACHE, "/session/profile/", "session-cache", SESSIONID),
        "DRF SessionAuthentication, `cache` sessions (Redis): session entry, user row; profile row",
        "next request (session deleted)",
    ),
    "stock-session-cached-db": (
        *(STOCK_CACHED_DB, "/session/profile/", "session-cached_db", SESSIONID),
        "DRF SessionAuthentication, `cached_db` sessions: Redis entry, user row; profile row",
        "next request (session deleted)",
    ),
}


# Proofs signed per second of a measurement at first: above what 2 cores serve.
PROOFS_PER_SECOND = 2000


def dpop_signer(users: list[Any]) -> Callable[[str, int], tuple[Request, ...]]:
    """One `jwt-header` login per user bound to a P-256 key of its own, made as the mobile
    client makes them (clients/mobile/dpop.py), through dualauth's login service; and what
    signs `count` requests to a base URL, the logins in turn, each with a proof of its own.
    """
    from django.db import transaction

    from bench.seed import login_request
    from clients.mobile.dpop import DpopKey
    from common.routes import JWT_HEADER, mode_path
    from jwt_auth.dpop import DpopProof
    from jwt_auth.services import token_obtain

    path, logins = mode_path(JWT_HEADER, "profile"), []
    with transaction.atomic():
        for user in users:
            key = DpopKey.generate()
            proof = DpopProof(jkt=key.thumbprint, jti=uuid.uuid4().hex)
            pair = token_obtain(user=user, request=login_request(), mode=JWT_HEADER, proof=proof)
            logins.append((key, pair.access))

    def signed(base_url: str, count: int) -> tuple[Request, ...]:
        return tuple(
            Request(
                path,
                {
                    "Authorization": f"DPoP {token}",
                    "DPoP": key.proof(method="GET", url=f"{base_url}{path}", access_token=token),
                },
            )
            for key, token in islice(cycle(logins), count)
        )

    return signed


@dataclass(frozen=True)
class Config:
    """One endpoint under load, the project serving it, and one request per user; for
    requests that work once, `signed(base_url, count)` makes `count` fresh ones.
    """

    name: str
    project: Project
    path: str
    description: str
    revocation: str
    requests: tuple[Request, ...]
    signed: Callable[[str, int], tuple[Request, ...]] | None = None


def configs_seed(env: BenchEnv, users: list[Any]) -> list[Config]:
    """Every configuration (the baseline, the stock rows, dualauth's modes, DPoP-bound
    `jwt-header`, and with Redis the modes at the `push` level), with a credential of each
    kind for each of `users`; a kind the stock seeder did not make (`cache` sessions without
    Redis) leaves its row out.
    """
    from django.conf import settings

    from bench.seed import USER_PREFIX, dualauth_credentials
    from common.conf import dualauth_settings
    from common.routes import mode_path

    # Stock code mints its credentials in a process of its own, meanwhile.
    with ThreadPoolExecutor(1) as pool:
        stock = pool.submit(env.module_run, "bench.stock.seed", STOCK.settings, USER_PREFIX)
        credentials = {**dualauth_credentials(users), **json.loads(stock.result())}
    modes = {
        "session": (("Cookie", f"{settings.SESSION_COOKIE_NAME}={{}}"), "session: cached_db"),
        "jwt-header": (BEARER, "Bearer JWT: decode"),
        "jwt-cookie": (
            ("Cookie", f"{dualauth_settings.ACCESS_COOKIE_NAME}={{}}"),
            "access_token cookie",
        ),
    }
    levels = {"": (DUALAUTH, "", "next request, on every instance")}
    if env.redis_url:
        push = "the push window (window.json); strict on any doubt"
        levels[PUSH] = (DUALAUTH_PUSH, ", REVOCATION=push", push)
    rows = STOCK_ROWS | {
        mode + level: (
            *(project, mode_path(mode, "profile"), mode, credential),
            f"dualauth {what} + login family + user snapshot, production settings{knob}",
            revocation,
        )
        for level, (project, knob, revocation) in levels.items()
        for mode, (credential, what) in modes.items()
    }
    configs = []
    for name, (project, path, kind, credential, description, revocation) in rows.items():
        if kind in credentials:
            header, template = credential
            requests = tuple(Request(path, {header: template.format(c)}) for c in credentials[kind])
        elif kind:
            continue
        else:
            requests = (Request(path),)
        configs.append(Config(name, project, path, description, revocation, requests))
    signed = dpop_signer(users)
    # Its bytes as sent to a five-digit port; the proofs are signed for the server's URL.
    configs.append(
        Config(
            *(DPOP, DUALAUTH, mode_path("jwt-header", "profile")),
            "dualauth DPoP-bound Bearer JWT: decode + a proof verified per request + login "
            "family + user snapshot, the proof's jti in the same round trip",
            "next request, on every instance",
            signed("http://127.0.0.1:65535", len(users)),
            signed,
        )
    )
    return configs


def configs_named(configs: list[Config], names: str | None) -> list[Config]:
    """The configurations `names` lists (comma-separated), in their order; all without it."""
    if not names:
        return configs
    wanted = names.split(",")
    if unknown := set(wanted) - {c.name for c in configs}:
        raise SystemExit(f"no such configuration: {', '.join(sorted(unknown))}")
    return [c for c in configs if c.name in wanted]
