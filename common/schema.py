"""The OpenAPI schema: the three authentication classes, and the errors every endpoint answers.

Each endpoint declares what is its own (its bodies, its successes, the errors only its logic
gives); `ContractSchema` adds the errors that follow from how the endpoint is built, so that
a new endpoint documents them without a word: 401 when it needs a login, 403 when a cookie
or a fresh login is checked, 400, 413 and 415 when it reads a body, 404 when its path has a
parameter, 429 when it is throttled, 503 when the database does not answer.
"""

from typing import Any, Literal, Protocol, cast

from django.conf import settings
from drf_spectacular.drainage import set_override
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated

from common.authentication import ResolverAuthentication
from common.conf import dualauth_settings
from common.serializers import ErrorSerializer

BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "`Authorization: Bearer <access>`; a login bound to a client key (RFC 9449) "
    "sends `Authorization: DPoP <access>` and a `DPoP` proof header instead, and a 401 then "
    'challenges with `WWW-Authenticate: DPoP algs="…", error="invalid_dpop_proof"` or '
    '`error="use_dpop_nonce"` (with `DPoP-Nonce`). See docs/API.md, "Proof of possession '
    'and step-up".',
}
# The schemes a browser's cookie carries: an unsafe request by one of them also needs CSRF.
COOKIE_SCHEMES = {"session", "jwtCookie"}
# What each error an endpoint's build implies means, in the `{"detail", "code"}` shape.
IMPLIED_ERRORS = {
    400: "The body is malformed or invalid (`validation_error`, with `errors` by field).",
    401: "No credential, or one that is invalid, expired or revoked; a bad DPoP proof "
    "(`invalid_dpop_proof`, `use_dpop_nonce`); a login not recent or strong enough for a "
    "step-up endpoint (`insufficient_user_authentication`, RFC 9470).",
    403: "A cookie credential without CSRF (`csrf_failed`), or a login that is not fresh "
    "(`reauthentication_required`).",
    404: "No such resource of mine.",
    413: "The body is larger than the server takes (`request_too_large`).",
    415: "The body is not JSON.",
    429: "Too many requests from this address or for this account (`throttled`).",
    503: "The database did not answer (`service_unavailable`).",
}


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

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        """One alternative per scheme: any one of them will do (OR), never all three (AND)."""
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        """The bearer, access cookie and session cookie schemes."""
        return [BEARER, access_cookie(), session_cookie()]


class ContractSchema(AutoSchema):
    """drf-spectacular's schema, with the errors each endpoint's build implies (above)."""

    def _get_response_bodies(
        self, direction: Literal["request", "response"] = "response"
    ) -> dict[str, Any]:
        """The declared responses, and every implied error the endpoint does not declare."""
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code in self.implied_errors():
            if str(code) not in responses:
                error = OpenApiResponse(ErrorSerializer, description=IMPLIED_ERRORS[code])
                responses[str(code)] = self._get_response_for_code(error, str(code))
        return dict(sorted(responses.items()))

    def implied_errors(self) -> list[int]:
        """The error statuses that follow from the endpoint's credentials, body, path, throttles."""
        unsafe = self.method not in SAFE_METHODS
        schemes = {name for requirement in self.get_auth() for name in requirement}
        errors = [503]
        if schemes:
            errors.append(401)
        if unsafe and (schemes & COOKIE_SCHEMES or self.checks_permission()):
            errors.append(403)
        if unsafe and self.get_request_serializer() is not None:
            errors += [400, 413, 415]
        if "{" in self.path:
            errors.append(404)
        if self.view.get_throttles():
            errors.append(429)
        return errors

    def checks_permission(self) -> bool:
        """Whether a permission of this operation may refuse a logged-in user: DRF answers
        403 for any but the login itself.
        """
        plain = (AllowAny, IsAuthenticated)
        return any(type(permission) not in plain for permission in self.view.get_permissions())


class DeclaringView(Protocol):
    """A view that declares its own schema (`DeclaredSchema`)."""

    def openapi_request(self) -> Any:
        """Its request body's serializer."""

    def openapi_responses(self) -> dict[int, Any]:
        """Its responses' serializers, by status."""

    def openapi_description(self) -> str:
        """Its description of its operation."""


class DeclaredSchema(ContractSchema):
    """The schema of a view whose bodies and description depend on its `as_view` arguments,
    which `extend_schema` on its class cannot see: the view declares them itself, in
    `openapi_request()`, `openapi_responses()` and `openapi_description()`.
    """

    @property
    def declaring(self) -> DeclaringView:
        """The view, as the one that declares its schema."""
        return cast(DeclaringView, self.view)

    def get_request_serializer(self) -> Any:
        """The view's request body."""
        return self.declaring.openapi_request()

    def get_response_serializers(self) -> Any:
        """The view's responses, by status."""
        return self.declaring.openapi_responses()

    # drf-spectacular's own signature, not DRF's inspector's.
    def get_description(self) -> str:  # type: ignore[override]
        """The view's description of its operation."""
        return self.declaring.openapi_description()


# The resolver's three schemes are the very components of the three classes, on purpose.
set_override(ResolverAuthentication, "suppress_collision_warning", True)
