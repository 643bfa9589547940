"""The HttpOnly cookies of the browser JWT transport."""

from django.http import HttpResponse
from django.utils import timezone

from common.conf import dualauth_settings
from common.routes import JWT_COOKIE_SUBPATH, api_prefix
from jwt_auth.services import TokenPair


def access_cookie_path() -> str:
    """The access cookie's path: the API prefix, every endpoint a token authenticates."""
    return api_prefix()


def refresh_cookie_path() -> str:
    """The refresh cookie's path: the cookie transport's endpoints only, which refresh and log
    out with it; never sent with another call.
    """
    return api_prefix() + JWT_COOKIE_SUBPATH


def token_cookies_set(response: HttpResponse, pair: TokenPair) -> None:
    """Put the access token on the API prefix and the refresh token on its own path only."""
    flags = {
        "httponly": True,
        "secure": dualauth_settings.COOKIE_SECURE,
        "samesite": dualauth_settings.COOKIE_SAMESITE,
    }
    response.set_cookie(
        dualauth_settings.ACCESS_COOKIE_NAME,
        pair.access,
        max_age=pair.expires_in,
        path=access_cookie_path(),
        **flags,
    )
    response.set_cookie(
        dualauth_settings.REFRESH_COOKIE_NAME,
        pair.refresh,
        max_age=int((pair.refresh_expires_at - timezone.now()).total_seconds()),
        path=refresh_cookie_path(),
        **flags,
    )


def token_cookies_clear(response: HttpResponse) -> None:
    """Expire both token cookies."""
    for name, path in (
        (dualauth_settings.ACCESS_COOKIE_NAME, access_cookie_path()),
        (dualauth_settings.REFRESH_COOKIE_NAME, refresh_cookie_path()),
    ):
        response.delete_cookie(name, path=path, samesite=dualauth_settings.COOKIE_SAMESITE)
