"""The route table: where each mode's endpoints live under the API prefix, written once.

The URLconfs build their patterns from it (`build_urlpatterns`), and the tests, the
benchmark and the README's table read it, so a path can change in one place only.
"""

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Final, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, URLPattern, get_script_prefix, path, reverse

# A request's mode, as it leaves the code (the `Auth-Mode` header, JSON, logs, metrics): a
# plain `str`. A `Literal`, so that mypy refuses anything else (an enum member, a lazy string).
Mode = Literal["session", "jwt-header", "jwt-cookie"]
SESSION: Final = "session"
JWT_HEADER: Final = "jwt-header"
JWT_COOKIE: Final = "jwt-cookie"
MODES: tuple[Mode, ...] = (SESSION, JWT_HEADER, JWT_COOKIE)
# Where the cookie transport's login, refresh and logout live under the API prefix: the path
# of its refresh cookie, which no other endpoint receives.
JWT_COOKIE_SUBPATH = "jwt/cookie/"

# Each mode's endpoints, as a client of that mode calls them, under the API prefix.
MODE_ROUTES: dict[str, dict[str, str]] = {
    SESSION: {
        "csrf": "session/csrf/",
        "login": "session/login/",
        "login-passkey": "session/login/passkey/",
        "login-provider": "session/login/provider/",
        "logout": "session/logout/",
        "profile": "session/profile/",
        "logins": "session/sessions/",
        "login-revoke": "session/sessions/<uuid:family_id>/",
    },
    JWT_HEADER: {
        "login": "jwt/token/",
        "login-passkey": "jwt/token/passkey/",
        "login-provider": "jwt/token/provider/",
        "refresh": "jwt/token/refresh/",
        "verify": "jwt/token/verify/",
        "logout": "jwt/logout/",
        "profile": "jwt/profile/",
        "logins": "jwt/devices/",
        "login-revoke": "jwt/devices/<uuid:family_id>/",
    },
    JWT_COOKIE: {
        # A browser bootstraps CSRF where the session mode does, and reads the profile and
        # its devices through the endpoints it shares with the other modes.
        "csrf": "session/csrf/",
        "login": f"{JWT_COOKIE_SUBPATH}login/",
        "login-passkey": f"{JWT_COOKIE_SUBPATH}login/passkey/",
        "login-provider": f"{JWT_COOKIE_SUBPATH}login/provider/",
        "refresh": f"{JWT_COOKIE_SUBPATH}refresh/",
        "logout": f"{JWT_COOKIE_SUBPATH}logout/",
        "profile": "profile/",
        "logins": "jwt/devices/",
        "login-revoke": "jwt/devices/<uuid:family_id>/",
    },
}
# The endpoints of the shared resolver, whichever mode the credential is of.
SHARED_ROUTES: dict[str, str] = {
    "profile": "profile/",
    "logout-all": "logout-all/",
    "password": "password/",
    "health": "health/",
    "schema": "schema/",
    "docs": "docs/",
    # The account around the login.
    "account": "account/",
    "signup": "account/signup/",
    "email-verify": "account/email/verify/",
    "email-resend": "account/email/resend/",
    "email-change": "account/email/",
    "password-reset": "account/password/reset/",
    "password-reset-confirm": "account/password/reset/confirm/",
    "reauthenticate": "account/reauthenticate/",
    "undo": "account/undo/",
    # Second factors, and the second step of a login.
    "mfa-authenticate": "account/mfa/authenticate/",
    "totp": "account/mfa/totp/",
    "recovery-codes": "account/mfa/recovery-codes/",
    "passkey-options": "account/mfa/passkeys/options/",
    "passkeys": "account/mfa/passkeys/",
    "passkey-detail": "account/mfa/passkeys/<int:passkey_id>/",
    "passkey-login-options": "account/mfa/passkey-login/options/",
    # External providers.
    "providers": "account/providers/",
    "provider-nonce": "account/providers/nonce/",
    "providers-linked": "account/providers/linked/",
    "provider-linked-detail": "account/providers/linked/<int:identity_id>/",
    "provider-redirect": "account/providers/<str:provider_id>/redirect/",
    "provider-callback": "account/providers/<str:provider_id>/callback/",
}


def api_prefix() -> str:
    """Where the project mounts dualauth's URLs (`include("common.urls")`), as a path from the
    site's root, like "/api/": where ROOT_URLCONF puts the health endpoint.

    Everything under it is JSON and never cached, and the JWT cookies' paths follow it.
    """
    return _api_prefix_of(settings.ROOT_URLCONF)


@cache
def _api_prefix_of(urlconf: str) -> str:
    """The API prefix in the URLconf `urlconf`, found once."""
    try:
        health = reverse("dualauth:health", urlconf=urlconf)
    except NoReverseMatch as e:
        raise ImproperlyConfigured(f"dualauth's URLs are not in {urlconf} (dualauth.E018).") from e
    # Without the prefix a WSGI server's SCRIPT_NAME adds: request.path_info does not have it.
    return "/" + health.removeprefix(get_script_prefix()).removesuffix(SHARED_ROUTES["health"])


def bearer_route(path_info: str) -> bool:
    """Whether `path_info` (as `request.path_info` has it) is an endpoint of the jwt-header
    table, or a path under one of its parametrized endpoints.

    Those serve the token client: none reads or writes Django's session or sets the CSRF
    cookie. The cookie transport lists and revokes its devices there too, and its CSRF is
    checked by its authentication (`csrf_enforce`), which needs no middleware.
    """
    exact, under = _bearer_paths(api_prefix())
    return path_info in exact or path_info.startswith(under)


@cache
def _bearer_paths(prefix: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The jwt-header table's paths under `prefix`: those without a parameter, then the part
    of each other before its first parameter.
    """
    routes = [prefix + route for route in MODE_ROUTES[JWT_HEADER].values()]
    exact = frozenset(route for route in routes if "<" not in route)
    return exact, tuple(route.partition("<")[0] for route in routes if "<" in route)


def mode_of(value: str) -> Mode:
    """`value` as a mode, the plain `str` of MODES; ValueError when it names none."""
    for mode in MODES:
        if value == mode:
            return mode
    raise ValueError(f"not a mode: {value!r}")


def mode_path(mode: str, endpoint: str, **kwargs: Any) -> str:
    """The absolute path of `endpoint` in `mode`, with its parameters filled in."""
    route = MODE_ROUTES[mode][endpoint]
    for name, value in kwargs.items():
        route = route.replace(f"<uuid:{name}>", str(value))
    return api_prefix() + route


def build_urlpatterns(
    mode: str, views: Mapping[str, Callable[..., Any]], *, skip: tuple[str, ...] = ()
) -> list[URLPattern]:
    """The URL patterns of `mode`: each endpoint of its table served by its view in `views`.

    `skip` names the endpoints another table serves; every other endpoint must have a view.
    """
    return _urlpatterns(mode, MODE_ROUTES[mode], views, skip=skip, name_prefix=f"{mode}-")


def build_shared_urlpatterns(views: Mapping[str, Callable[..., Any]]) -> list[URLPattern]:
    """The URL patterns of the shared resolver's endpoints."""
    return _urlpatterns("shared", SHARED_ROUTES, views)


def _urlpatterns(
    label: str,
    table: Mapping[str, str],
    views: Mapping[str, Callable[..., Any]],
    *,
    skip: tuple[str, ...] = (),
    name_prefix: str = "",
) -> list[URLPattern]:
    """Each endpoint of `table` but `skip` at its path, served by its view; a view for each."""
    served = {endpoint for endpoint in table if endpoint not in skip}
    if set(views) != served:
        raise ValueError(f"{label}: views for {sorted(views)}, endpoints {sorted(served)}")
    return [
        path(table[endpoint], view, name=f"{name_prefix}{endpoint}")
        for endpoint, view in views.items()
    ]
