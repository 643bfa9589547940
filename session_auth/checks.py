"""System checks of the session mode's settings: its session store and its middleware."""

import importlib
from typing import Any

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.checks import CheckMessage, Error, Tags, register

from common.checks import is_subclass, setting_imported
from session_auth.middleware import FamilyAuthenticationMiddleware
from session_auth.sessions import SessionStore


@register(Tags.security)
def session_engine_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a session engine other than dualauth's store, which keeps only hashed keys."""
    hint = 'Set SESSION_ENGINE = "session_auth.sessions".'
    try:
        store = importlib.import_module(settings.SESSION_ENGINE).SessionStore
    except (ImportError, AttributeError) as e:
        return [
            Error(
                f"SESSION_ENGINE {settings.SESSION_ENGINE!r} has no SessionStore to import: {e}",
                hint=hint,
                id="dualauth.E009",
            )
        ]
    if isinstance(store, type) and issubclass(store, SessionStore):
        return []
    return [
        Error(
            f"SESSION_ENGINE {settings.SESSION_ENGINE!r} is not dualauth's session store: "
            "sessions would be stored under their key, in the cache and the database.",
            hint=f"{hint} A store of your own must subclass session_auth.sessions.SessionStore.",
            id="dualauth.E010",
        )
    ]


@register(Tags.security)
def family_middleware_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Refuse MIDDLEWARE without the family authentication, or with it before the sessions."""
    classes = [setting_imported(entry) for entry in settings.MIDDLEWARE]
    family = next(
        (
            index
            for index, cls in enumerate(classes)
            if is_subclass(cls, FamilyAuthenticationMiddleware)
        ),
        None,
    )
    if family is None:
        return [
            Error(
                "MIDDLEWARE has no session_auth.middleware.FamilyAuthenticationMiddleware: "
                "request.user would believe sessions whose login was revoked.",
                hint='Add "session_auth.middleware.FamilyAuthenticationMiddleware" to '
                "MIDDLEWARE, where AuthenticationMiddleware would go.",
                id="dualauth.E021",
            )
        ]
    if any(is_subclass(cls, SessionMiddleware) for cls in classes[:family]):
        return []
    return [
        Error(
            "django.contrib.sessions.middleware.SessionMiddleware does not come before "
            "FamilyAuthenticationMiddleware in MIDDLEWARE: it reads the request's session.",
            hint='Put "django.contrib.sessions.middleware.SessionMiddleware" before '
            '"session_auth.middleware.FamilyAuthenticationMiddleware".',
            id="dualauth.E023",
        )
    ]
