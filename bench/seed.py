"""What a run stores: the users, live dualauth credentials for each, filler logins.

The stock project's credentials are made by stock code, in a process of its own
(bench/stock/seed.py); dualauth's here, by dualauth's own login services, exactly as
its login endpoints make them but without a password hash per login.
"""

import json
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone
from django.utils.module_loading import import_string

from bench.env import ROOT, BenchEnv
from bench.server import STOCK
from common.models import LoginFamily, Profile
from common.principal import UserModel
from common.routes import MODES, SESSION, Mode

PASSWORD = "bench correct horse battery staple"
USER_PREFIX = "bench-user-"
FILLER_USERS = 1000
FILLER_PREFIX = "bench-filler-"


def users_create(prefix: str, count: int, *, hasher: str | None = None) -> list[UserModel]:
    """`count` active users named `prefix<i>`, each with a profile, sharing one password hash.

    One hash for all: hashing is what logins cost, not what reads cost, and `count`
    hashes would take minutes. `hasher` is the dotted path of a hasher class (else the
    one the settings prefer).
    """
    model = get_user_model()
    if hasher is None:
        password = make_password(PASSWORD)
    else:
        chosen = import_string(hasher)()
        password = chosen.encode(PASSWORD, chosen.salt())
    login_field = model.USERNAME_FIELD
    users = model.objects.bulk_create(
        [
            model(
                **{login_field: f"{prefix}{i}"}, email=f"{prefix}{i}@example.com", password=password
            )
            for i in range(count)
        ]
    )
    if not all(user.pk for user in users):
        users = list(model.objects.filter(**{f"{login_field}__startswith": prefix}).order_by("pk"))
    Profile.objects.bulk_create(
        [Profile(user_id=user.pk, display_name=f"Bench user {i}") for i, user in enumerate(users)]
    )
    return users


def login_request() -> HttpRequest:
    """A request as a login endpoint sees it: what a family records of its client."""
    return RequestFactory().post("/", HTTP_USER_AGENT="Mozilla/5.0 (bench)")


def session_key(user: UserModel) -> str:
    """A dualauth session of `user`, as its login endpoint starts one (a family included)."""
    from session_auth.services import session_login

    request = login_request()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    session_login(request=request, user=user, remember=True)
    request.session.save()
    return str(request.session.session_key)


def login_make(user: UserModel, mode: Mode) -> Any:
    """A login of `user` in `mode` as its endpoint makes one: a session key, or a token pair."""
    from jwt_auth.services import token_obtain

    if mode == SESSION:
        return session_key(user)
    return token_obtain(user=user, request=login_request(), mode=mode)


def dualauth_credentials(users: list[UserModel]) -> dict[str, list[str]]:
    """One live login per user in each mode: a session key, and two access tokens."""
    # One transaction: a commit per login would make a thousand of them take minutes.
    with transaction.atomic():
        made = {mode: [login_make(user, mode) for user in users] for mode in MODES}
    return {
        mode: [m if mode == SESSION else m.access for m in logins] for mode, logins in made.items()
    }


def stock_credentials(env: BenchEnv, prefix: str) -> dict[str, list[str]]:
    """Stock credentials of the users named `prefix*`, minted by stock code in its own process."""
    out = env.tmpdir / "stock-credentials.json"
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.stock.seed", prefix, str(out)],
        cwd=ROOT,
        env=env.server_env(STOCK.settings),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench.stock.seed failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(out.read_text()))


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
