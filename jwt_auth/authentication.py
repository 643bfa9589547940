"""JWT authentication: a Bearer header, or the access token cookie with CSRF."""

from rest_framework.request import Request

from common.authentication import FamilyAuthentication
from common.conf import dualauth_settings
from common.credentials import CookieChallenge, Credential
from common.exceptions import TokenNotValid
from common.principal import Principal
from common.routes import JWT_COOKIE, JWT_HEADER
from common.selectors import LoginClaim
from jwt_auth.services import access_claim, access_login


class JWTAuthentication(FamilyAuthentication[LoginClaim]):
    """An access token, verified, names its login; the login gives the principal."""

    def credential_validate(self, request: Request, raw: str) -> LoginClaim:
        """The login a valid access token names, or 401 `token_not_valid`."""
        return access_claim(raw=raw)

    def principal_resolve(
        self, request: Request, validated: LoginClaim
    ) -> tuple[Principal, Credential]:
        """The principal of the token's live login, or 401 `token_revoked`."""
        return access_login(claim=validated, mode=self.mode)


class JWTHeaderAuthentication(JWTAuthentication):
    """Authenticates by `Authorization: Bearer <access>`; any other scheme is a 401."""

    mode = JWT_HEADER
    www_authenticate = 'Bearer realm="api"'

    def credential_get(self, request: Request) -> str | None:
        """The Authorization header, None without one."""
        header: str | None = request.META.get("HTTP_AUTHORIZATION")
        return header

    def credential_validate(self, request: Request, raw: str) -> LoginClaim:
        """The login the header's access token names, or 401 for another scheme or a bad token."""
        parts = raw.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise TokenNotValid("Authorization header must be `Bearer <access token>`.")
        return super().credential_validate(request, parts[1])


class JWTCookieAuthentication(JWTAuthentication):
    """Authenticates by the HttpOnly access token cookie; CSRF is enforced on unsafe methods."""

    mode = JWT_COOKIE
    cookie = True
    www_authenticate = CookieChallenge("ACCESS_COOKIE_NAME")

    def credential_get(self, request: Request) -> str | None:
        """The access token cookie, None without one (or an empty one)."""
        return request.COOKIES.get(dualauth_settings.ACCESS_COOKIE_NAME) or None
