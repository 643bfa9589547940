"""What a run stores: the users, and live dualauth credentials for each.

The stock project's credentials are made by stock code, in a process of its own
(bench/stock/seed.py); dualauth's here, by dualauth's own login services, exactly as
its login endpoints make them but without a password hash per login.
"""

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils.module_loading import import_string

from common.models import Profile
from common.principal import UserModel
from common.routes import MODES, SESSION, Mode

PASSWORD = "bench correct horse battery staple"
USER_PREFIX = "bench-user-"


def users_create(prefix: str, count: int, *, hasher: str | None = None) -> list[UserModel]:
    """`count` active users named `prefix<i>`, each with a profile, sharing one password hash.

    One hash for all: hashing is what logins cost, not what reads cost, and `count`
    hashes would take minutes. `hasher` is the dotted path of a hasher class (else the
    one the settings prefer).
    """
    model = get_user_model()
    password = make_password(PASSWORD, hasher=import_string(hasher)() if hasher else "default")
    users = model.objects.bulk_create(
        model(
            **{model.USERNAME_FIELD: f"{prefix}{i}"},
            email=f"{prefix}{i}@example.com",
            password=password,
        )
        for i in range(count)
    )
    if not all(user.pk for user in users):
        users = list(users_named(prefix))
    Profile.objects.bulk_create(
        [Profile(user_id=user.pk, display_name=f"Bench user {i}") for i, user in enumerate(users)]
    )
    return users


def users_named(prefix: str) -> Any:
    """The users whose names start with `prefix`, in the order they were made."""
    model = get_user_model()
    return model.objects.filter(**{f"{model.USERNAME_FIELD}__startswith": prefix}).order_by("pk")


def login_request() -> HttpRequest:
    """A request as a login endpoint sees it: what a family records of its client."""
    return RequestFactory().post("/", HTTP_USER_AGENT="Mozilla/5.0 (bench)")


def login_make(user: UserModel, mode: Mode) -> Any:
    """A login of `user` in `mode` as its endpoint makes one (a family included): a session
    key, or a token pair.
    """
    from jwt_auth.services import token_obtain
    from session_auth.services import session_login

    request = login_request()
    if mode != SESSION:
        return token_obtain(user=user, request=request, mode=mode)
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    session_login(request=request, user=user, remember=True)
    request.session.save()
    return str(request.session.session_key)


def dualauth_credentials(users: list[UserModel]) -> dict[str, list[str]]:
    """One live login per user in each mode: a session key, and two access tokens."""
    # One transaction: a commit per login would make a thousand of them take minutes.
    with transaction.atomic():
        made = {mode: [login_make(user, mode) for user in users] for mode in MODES}
    return {
        mode: [m if mode == SESSION else m.access for m in logins] for mode, logins in made.items()
    }
