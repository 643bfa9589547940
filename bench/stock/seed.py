"""`python -m bench.stock.seed PREFIX`: stock credentials of the users PREFIX*, by stock code.

Run with the stock project's settings: it migrates what the stock project adds to the
bench's database (DRF's token table), then prints, as JSON, one credential per
user of each kind: a simplejwt access token (`AccessToken.for_user`), a DRF token, and
a session of each engine, logged in as `django.contrib.auth.login` leaves one.
"""

import json
import sys
from importlib import import_module

import django

# Engines whose sessions another process can read: `cache` only when the cache is shared.
SESSION_ENGINES = ("db", "cache", "cached_db")


def session_create(engine: str, user: object) -> str:
    """A session of `engine` logged in as `user`, with the keys `login()` writes."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(f"django.contrib.sessions.backends.{engine}").SessionStore()
    store[SESSION_KEY] = str(user.pk)  # type: ignore[attr-defined]
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()  # type: ignore[attr-defined]
    store.save()
    return str(store.session_key)


def credentials(prefix: str) -> dict[str, list[str]]:
    """Every kind of stock credential, one per user, in the users' order."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework_simplejwt.tokens import AccessToken

    model = get_user_model()
    users = list(
        model.objects.filter(**{f"{model.USERNAME_FIELD}__startswith": prefix}).order_by("pk")
    )
    tokens = Token.objects.bulk_create(
        [Token(key=Token.generate_key(), user=user) for user in users]
    )
    engines = [e for e in SESSION_ENGINES if e != "cache" or settings.REDIS_URL]
    return {
        "jwt": [str(AccessToken.for_user(user)) for user in users],
        "token": [token.key for token in tokens],
        **{
            f"session-{engine}": [session_create(engine, user) for user in users]
            for engine in engines
        },
    }


def main() -> None:
    """Migrate, mint, print."""
    prefix = sys.argv[1]
    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0, interactive=False)
    # One transaction: a commit per session would make thousands of them take long.
    with transaction.atomic():
        minted = credentials(prefix)
    print(json.dumps(minted))


if __name__ == "__main__":
    main()
