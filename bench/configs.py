"""The configurations a run measures: which project serves them, and what each guarantees."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.env import BenchEnv
from bench.load import Request
from bench.server import DUALAUTH, STOCK, STOCK_CACHE, STOCK_CACHED_DB, Project

STOCK_SESSION_COOKIE = "sessionid"


@dataclass(frozen=True)
class Config:
    """One endpoint under load, the project serving it, and one request per user."""

    name: str
    project: Project
    path: str
    description: str
    revocation: str
    requests: tuple[Request, ...]

    @property
    def credential_bytes(self) -> int:
        """Bytes of credential header lines per request, as sent on the wire."""
        headers = self.requests[0].headers
        return sum(len(f"{name}: {value}\r\n") for name, value in headers.items())

    @property
    def credential_header(self) -> str | None:
        """The header that carries the credential (`Cookie`, `Authorization`), if any."""
        return next(iter(self.requests[0].headers), None)


def _each(path: str, header: str, template: str, credentials: list[str]) -> tuple[Request, ...]:
    return tuple(Request(path, {header: template.format(c)}) for c in credentials)


def configs_build(
    stock: dict[str, list[str]],
    dualauth: dict[str, list[str]],
    *,
    dualauth_paths: dict[str, str],
    session_cookie: str,
    access_cookie: str,
) -> list[Config]:
    """Every configuration of a run: the baseline, the stock rows, dualauth's modes.

    `stock` and `dualauth` hold one credential per user of each kind; a kind missing
    from `stock` (`cache` sessions without Redis) leaves its row out.
    """
    rows = [
        Config(
            "baseline",
            STOCK,
            "/constant/",
            "stock project, constant DRF endpoint, no authentication",
            "n/a",
            (Request("/constant/"),),
        ),
        Config(
            "stock-jwt-stateless",
            STOCK,
            "/jwt/stateless/",
            "simplejwt JWTStatelessUserAuthentication: the token's claims, no database (floor)",
            "none: valid until it expires",
            _each("/jwt/stateless/", "Authorization", "Bearer {}", stock["jwt"]),
        ),
        Config(
            "stock-jwt",
            STOCK,
            "/jwt/profile/",
            "simplejwt JWTAuthentication: decode, user row; profile row",
            "none: valid until it expires (a deactivated user: next request)",
            _each("/jwt/profile/", "Authorization", "Bearer {}", stock["jwt"]),
        ),
        Config(
            "stock-token",
            STOCK,
            "/token/profile/",
            "DRF TokenAuthentication: token row joined to its user; profile row",
            "next request (token row deleted)",
            _each("/token/profile/", "Authorization", "Token {}", stock["token"]),
        ),
    ]
    sessions = (
        ("db", STOCK, "`db` sessions: session row, user row; profile row"),
        ("cache", STOCK_CACHE, "`cache` sessions (Redis): session entry, user row; profile row"),
        ("cached_db", STOCK_CACHED_DB, "`cached_db` sessions: Redis entry, user row; profile row"),
    )
    for engine, project, what in sessions:
        if f"session-{engine}" in stock:
            rows.append(
                Config(
                    f"stock-session-{engine.replace('_', '-')}",
                    project,
                    "/session/profile/",
                    f"DRF SessionAuthentication, {what}",
                    "next request (session deleted)",
                    _each(
                        "/session/profile/",
                        "Cookie",
                        f"{STOCK_SESSION_COOKIE}={{}}",
                        stock[f"session-{engine}"],
                    ),
                )
            )
    modes = (
        ("session", "Cookie", f"{session_cookie}={{}}", "session: cached_db + login family"),
        ("jwt-header", "Authorization", "Bearer {}", "Bearer JWT: decode + login family"),
        ("jwt-cookie", "Cookie", f"{access_cookie}={{}}", "access_token cookie, via the resolver"),
    )
    for mode, header, template, what in modes:
        path = dualauth_paths[mode]
        rows.append(
            Config(
                mode,
                DUALAUTH,
                path,
                f"dualauth {what} + user snapshot, production settings",
                "next request, on every instance",
                _each(path, header, template, dualauth[mode]),
            )
        )
    return rows


def configs_seed(env: BenchEnv, users: list[Any]) -> list[Config]:
    """Every configuration, with a credential of each kind for each of `users`."""
    from django.conf import settings

    from bench.seed import USER_PREFIX, dualauth_credentials, stock_credentials
    from common.conf import dualauth_settings
    from common.routes import MODES, mode_path

    # Stock code mints its credentials in a process of its own, meanwhile.
    with ThreadPoolExecutor(1) as pool:
        stock = pool.submit(stock_credentials, env, USER_PREFIX)
        dualauth = dualauth_credentials(users)
    return configs_build(
        stock.result(),
        dualauth,
        dualauth_paths={mode: mode_path(mode, "profile") for mode in MODES},
        session_cookie=settings.SESSION_COOKIE_NAME,
        access_cookie=dualauth_settings.ACCESS_COOKIE_NAME,
    )
