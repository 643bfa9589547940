"""OpenAPI descriptions of the three authentication classes."""

from typing import Any

from drf_spectacular.drainage import set_override
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from common.authentication import ResolverAuthentication

BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
ACCESS_COOKIE = {"type": "apiKey", "in": "cookie", "name": "access_token"}
SESSION_COOKIE = {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class SessionScheme(OpenApiAuthenticationExtension):
    """The session cookie; unsafe methods also need `X-CSRFToken`."""

    target_class = "session_auth.authentication.SessionFamilyAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """The session cookie scheme."""
        return SESSION_COOKIE


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
        return ACCESS_COOKIE


class ResolverScheme(OpenApiAuthenticationExtension):
    """The resolver accepts any one of the three credentials."""

    target_class = "common.authentication.ResolverAuthentication"
    name = ["jwtBearer", "jwtCookie", "session"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        """The bearer, access cookie and session cookie schemes."""
        return [BEARER, ACCESS_COOKIE, SESSION_COOKIE]


# The resolver's three schemes are the very components of the three classes, on purpose.
set_override(ResolverAuthentication, "suppress_collision_warning", True)
