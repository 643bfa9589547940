"""What a run stores: the bench user, live credentials of every kind, filler logins."""

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.utils import timezone

from common.models import LoginFamily
from common.principal import UserModel
from common.routes import JWT_COOKIE, JWT_HEADER, SESSION, mode_path
from common.services import user_create

USERNAME = "bench"
PASSWORD = "bench correct horse battery staple"
FILLER_USERS = 1000
FILLER_PREFIX = "bench-filler-"


@dataclass(frozen=True)
class Config:
    """One endpoint under load and the credential it is sent with."""

    name: str
    path: str
    description: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def credential_bytes(self) -> int:
        """Bytes of credential header lines per request, as sent on the wire."""
        return sum(len(f"{name}: {value}\r\n") for name, value in self.headers.items())


def bench_user_create() -> UserModel:
    """The user every configuration authenticates as (production password hashing)."""
    model = get_user_model()
    model.objects.filter(**{model.USERNAME_FIELD: USERNAME}).delete()
    return user_create(
        username=USERNAME, password=PASSWORD, email="bench@example.com", display_name="Bench"
    )


@contextmanager
def csrf_client(base_url: str) -> Iterator[tuple[httpx.Client, str]]:
    """A cookie-keeping client with the CSRF cookie, and its token."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = client.get(mode_path(SESSION, "csrf")).json()["csrf_token"]
        yield client, str(token)


def session_login(base_url: str) -> str:
    """A live dualauth session key, from a real login."""
    with csrf_client(base_url) as (client, csrf):
        response = client.post(
            mode_path(SESSION, "login"),
            json={"username": USERNAME, "password": PASSWORD},
            headers={"X-CSRFToken": csrf},
        )
        response.raise_for_status()
        return str(response.cookies["sessionid"])


def token_login(base_url: str) -> dict[str, str]:
    """A live token pair, from a real login."""
    response = httpx.post(
        f"{base_url}/api/jwt/token/",
        json={"username": USERNAME, "password": PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return {k: str(v) for k, v in response.json().items()}


def cookie_login(base_url: str) -> dict[str, str]:
    """Live `access_token` and `refresh_token` cookies (and the CSRF cookie), from a real login."""
    with csrf_client(base_url) as (client, csrf):
        response = client.post(
            mode_path(JWT_COOKIE, "login"),
            json={"username": USERNAME, "password": PASSWORD},
            headers={"X-CSRFToken": csrf},
        )
        response.raise_for_status()
        return {**{name: str(value) for name, value in client.cookies.items()}, "csrf": csrf}


def stock_session_create(user: UserModel) -> str:
    """A stock Django `db` session logged in as `user`, as `django.contrib.auth.login` leaves it."""
    store = DbSessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    assert store.session_key is not None
    return store.session_key


def configs_seed(base_url: str, user: UserModel) -> list[Config]:
    """Every configuration, each with a credential of its own login."""
    session_name = settings.SESSION_COOKIE_NAME

    def bearer() -> dict[str, str]:
        return {"Authorization": f"Bearer {token_login(base_url)['access']}"}

    return [
        Config("baseline", "/bench/constant/", "constant DRF endpoint, no authentication"),
        Config(
            "stock-jwt",
            "/bench/stock-jwt/profile/",
            "stock simplejwt JWTAuthentication (no revocation check)",
            bearer(),
        ),
        Config(
            "stock-session",
            "/bench/stock-session/profile/",
            "stock DRF SessionAuthentication, Django `db` sessions",
            {"Cookie": f"{session_name}={stock_session_create(user)}"},
        ),
        Config(
            "session",
            mode_path(SESSION, "profile"),
            "dualauth session (cached_db + family check)",
            {"Cookie": f"{session_name}={session_login(base_url)}"},
        ),
        Config(
            "jwt-header",
            mode_path(JWT_HEADER, "profile"),
            "dualauth Bearer JWT with revocation",
            bearer(),
        ),
        Config(
            "jwt-cookie",
            mode_path(JWT_COOKIE, "profile"),
            "dualauth access_token cookie with revocation (resolver)",
            {"Cookie": f"access_token={cookie_login(base_url)['access_token']}"},
        ),
        Config(
            "jwt-stateless",
            "/bench/stateless-jwt/profile/",
            "simplejwt JWTStatelessUserAuthentication + profile read: revocation off (floor)",
            bearer(),
        ),
    ]


def filler_users_create() -> list[int]:
    """The users who own the filler logins."""
    password = make_password(None)
    model = get_user_model()
    login_field = model.USERNAME_FIELD
    model.objects.bulk_create(
        [
            model(**{login_field: f"{FILLER_PREFIX}{i}"}, password=password)
            for i in range(FILLER_USERS)
        ],
        ignore_conflicts=True,
    )
    fillers = model.objects.filter(**{f"{login_field}__startswith": FILLER_PREFIX})
    return list(fillers.values_list("pk", flat=True))


MODES = [mode.value for mode in LoginFamily.Mode]
FAMILY_COLUMNS = [
    "id",
    "user_id",
    "mode",
    "created_at",
    "last_seen_at",
    "expires_at",
    "user_agent",
    "ip",
    "revoked_at",
    "revoke_reason",
    "refresh_jti",
    "refresh_issued_at",
    "previous_jti",
    "password_epoch",
    "authenticated_at",
]


def _family_rows(count: int, user_ids: list[int], now: datetime) -> Iterator[tuple[object, ...]]:
    for i in range(count):
        mode = MODES[i % len(MODES)]
        revoked = i % 5 == 0  # one login in five is over
        jti = "" if mode == "session" else uuid.uuid4().hex
        yield (
            uuid.uuid4(),
            user_ids[i % len(user_ids)],
            mode,
            now - timedelta(hours=1),
            now,
            now + timedelta(days=14),
            "Mozilla/5.0 (bench filler)",
            "10.0.0.1",
            now if revoked else None,
            "logout" if revoked else "",
            jti,
            now if jti else None,
            "",
            "",
            now - timedelta(hours=1),
        )


def _session_rows(count: int, data: str, now: datetime) -> Iterator[tuple[str, str, datetime]]:
    for _ in range(count):
        yield (secrets.token_hex(16), data, now + timedelta(days=14))


def filler_rows_add(count: int, user_ids: list[int]) -> None:
    """Store `count` more login families and `count` more database sessions of filler users."""
    now = timezone.now()
    data = DbSessionStore().encode(
        {SESSION_KEY: str(user_ids[0]), BACKEND_SESSION_KEY: "filler", "_dualauth_seen": 0}
    )
    family_table = LoginFamily._meta.db_table
    session_table = Session._meta.db_table
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        raw = connection.connection
        assert raw is not None
        with raw.cursor() as cursor:
            columns = ", ".join(FAMILY_COLUMNS)
            with cursor.copy(f"COPY {family_table} ({columns}) FROM STDIN") as copy:
                for row in _family_rows(count, user_ids, now):
                    copy.write_row(row)
            with cursor.copy(
                f"COPY {session_table} (session_key, session_data, expire_date) FROM STDIN"
            ) as copy:
                for session_row in _session_rows(count, data, now):
                    copy.write_row(session_row)
            cursor.execute(f"ANALYZE {family_table}")
            cursor.execute(f"ANALYZE {session_table}")
        return
    with transaction.atomic():
        LoginFamily.objects.bulk_create(
            (
                LoginFamily(**dict(zip(FAMILY_COLUMNS, row, strict=True)))
                for row in _family_rows(count, user_ids, now)
            ),
            batch_size=2000,
        )
        Session.objects.bulk_create(
            (
                Session(session_key=key, session_data=value, expire_date=expires)
                for key, value, expires in _session_rows(count, data, now)
            ),
            batch_size=2000,
        )
