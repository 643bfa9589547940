"""OpenAPI descriptions of the three authentication classes."""

from typing import Any

from django.conf import settings
from drf_spectacular.drainage import set_override
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from common.authentication import ResolverAuthentication
from common.conf import dualauth_settings

BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def access_cookie() -> dict[str, str]:
    """The access token cookie scheme, under its configured name."""
    return {"type": "apiKey", "in": "cookie", "name": dualauth_settings.ACCESS_COOKIE_NAME}


def session_cookie() -> dict[str, str]:
    """The session cookie scheme, under its configured name."""
    return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


class SessionScheme(OpenApiAuthenticationExtension):
    """The session cookie; unsafe methods also need `X-CSRFToken`."""

    target_class = "session_auth.authentication.SessionFamilyAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """The session cookie scheme."""
        return session_cookie()


class BearerScheme(OpenApiAuthenticationExtension):
    """An access token in the Authorization header."""

    target_class = "jwt_auth.authentication.JWTHeaderAuthentication"
    name = "jwtBearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """The bearer scheme."""
        return BEARER


class AccessCookieScheme(OpenApiAuthenticationExtension):
    """An access token in the HttpOnly cookie; unsafe methods also need `X-CSRFToken`."""

    target_class = "jwt_auth.authentication.JWTCookieAuthentication"
    name = "jwtCookie"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """The access cookie scheme."""
        return access_cookie()


class ResolverScheme(OpenApiAuthenticationExtension):
    """The resolver accepts any one of the three credentials."""

    target_class = "common.authentication.ResolverAuthentication"
    name = ["jwtBearer", "jwtCookie", "session"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        """The bearer, access cookie and session cookie schemes."""
        return [BEARER, access_cookie(), session_cookie()]


# The resolver's three schemes are the very components of the three classes, on purpose.
set_override(ResolverAuthentication, "suppress_collision_warning", True)
