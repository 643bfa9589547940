"""What an authentication class found, and the CSRF check of cookie credentials."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from rest_framework.authentication import CSRFCheck
from rest_framework.request import Request

from common.conf import dualauth_settings
from common.exceptions import CsrfFailed
from common.routes import Mode

# The methods Django's CSRF check accepts without looking at the request (RFC 9110's safe ones).
CSRF_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class Credential:
    """`request.auth` in every mode: how the request was authenticated, and which login."""

    mode: Mode
    family_id: uuid.UUID
    # When the user last proved who they are in this login (epoch seconds), and how: RFC 8176
    # method values, space-separated.
    authenticated_at: float
    amr: str = ""

    @property
    def methods(self) -> frozenset[str]:
        """The methods the login last proved its user by (`amr`)."""
        return frozenset(self.amr.split())

    @property
    def fresh_until(self) -> datetime:
        """Until when this login counts as freshly authenticated (REAUTH_WINDOW)."""
        return datetime.fromtimestamp(self.authenticated_at, tz=UTC) + (
            dualauth_settings.REAUTH_WINDOW
        )


def login_acr(amr: list[str] | frozenset[str]) -> str | None:
    """The first of ACR_VALUES whose methods a login proved its user by all of, or None."""
    methods = set(amr)
    for acr, needed in dualauth_settings.ACR_VALUES.items():
        if set(needed) <= methods:
            return str(acr)
    return None


def csrf_enforce(request: Request | HttpRequest) -> None:
    """Raise 403 `csrf_failed` unless an unsafe request carries the CSRF token and a good origin.

    A safe request builds no CSRF machinery at all: Django's check accepts it outright.
    """
    django_request = request._request if isinstance(request, Request) else request
    if django_request.method in CSRF_SAFE_METHODS:
        return
    check = CSRFCheck(lambda _: None)  # type: ignore[arg-type]
    check.process_request(django_request)
    try:
        reason = check.process_view(django_request, None, (), {})  # type: ignore[arg-type]
    except MultiPartParserError as e:
        # Django looks for the token in a form body first: one it cannot read has none.
        raise CsrfFailed("CSRF check failed: the form body is malformed.") from e
    if reason:
        raise CsrfFailed(f"CSRF check failed: {reason}")


class CookieChallenge:
    """The `WWW-Authenticate` challenge of an endpoint that expects the cookie a setting names."""

    def __init__(self, setting: str) -> None:
        self.setting = setting

    def __str__(self) -> str:
        return f'Cookie realm="api", cookie-name="{getattr(dualauth_settings, self.setting)}"'
