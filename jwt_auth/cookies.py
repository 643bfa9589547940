"""The HttpOnly cookies of the browser JWT transport."""

from django.http import HttpResponse
from django.utils import timezone

from common.conf import dualauth_settings
from jwt_auth.services import TokenPair


def token_cookies_set(response: HttpResponse, pair: TokenPair) -> None:
    """Put the access token on /api/ and the refresh token on its own path only."""
    flags = {
        "httponly": True,
        "secure": dualauth_settings.COOKIE_SECURE,
        "samesite": dualauth_settings.COOKIE_SAMESITE,
    }
    response.set_cookie(
        dualauth_settings.ACCESS_COOKIE_NAME,
        pair.access,
        max_age=pair.expires_in,
        path=dualauth_settings.ACCESS_COOKIE_PATH,
        **flags,
    )
    response.set_cookie(
        dualauth_settings.REFRESH_COOKIE_NAME,
        pair.refresh,
        max_age=int((pair.refresh_expires_at - timezone.now()).total_seconds()),
        path=dualauth_settings.REFRESH_COOKIE_PATH,
        **flags,
    )


def token_cookies_clear(response: HttpResponse) -> None:
    """Expire both token cookies."""
    for name, path in (
        (dualauth_settings.ACCESS_COOKIE_NAME, dualauth_settings.ACCESS_COOKIE_PATH),
        (dualauth_settings.REFRESH_COOKIE_NAME, dualauth_settings.REFRESH_COOKIE_PATH),
    ):
        response.delete_cookie(name, path=path, samesite=dualauth_settings.COOKIE_SAMESITE)
