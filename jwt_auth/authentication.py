"""JWT authentication: a Bearer (or DPoP) header, or the access token cookie with CSRF."""

from rest_framework.request import Request

from common.authentication import FamilyAuthentication
from common.conf import dualauth_settings
from common.credentials import CookieChallenge, Credential
from common.exceptions import TokenNotValid
from common.principal import Principal
from common.routes import JWT_COOKIE, JWT_HEADER
from jwt_auth.dpop import dpop_request_proof
from jwt_auth.services import AccessClaim, access_claim, access_login


class JWTAuthentication(FamilyAuthentication[AccessClaim]):
    """An access token, verified, names its login; the login gives the principal."""

    def credential_validate(self, request: Request, raw: str) -> AccessClaim:
        """The login a valid access token names, or 401 `token_not_valid`."""
        return access_claim(raw=raw)

    def principal_resolve(
        self, request: Request, validated: AccessClaim
    ) -> tuple[Principal, Credential]:
        """The principal of the token's live login, or 401 `token_revoked`."""
        return access_login(claim=validated, mode=self.mode)


class JWTHeaderAuthentication(JWTAuthentication):
    """Authenticates by `Authorization: Bearer <access>`, or `DPoP <access>` with a proof of
    the key the token is bound to (jwt_auth/dpop.py); any other scheme is a 401.
    """

    mode = JWT_HEADER
    www_authenticate = 'Bearer realm="api"'

    def credential_get(self, request: Request) -> str | None:
        """The Authorization header, None without one."""
        header: str | None = request.META.get("HTTP_AUTHORIZATION")
        return header

    def credential_validate(self, request: Request, raw: str) -> AccessClaim:
        """The login the header's access token names, with the request's verified proof when
        the scheme is DPoP; 401 for another scheme, a bad token or a bad proof.
        """
        parts = raw.split()
        if len(parts) != 2:
            raise TokenNotValid("Authorization header must be `Bearer <access token>`.")
        proof = dpop_request_proof(request._request, scheme=parts[0], raw=parts[1])
        return access_claim(raw=parts[1], proof=proof)


class JWTCookieAuthentication(JWTAuthentication):
    """Authenticates by the HttpOnly access token cookie; CSRF is enforced on unsafe methods."""

    mode = JWT_COOKIE
    cookie = True
    www_authenticate = CookieChallenge("ACCESS_COOKIE_NAME")

    def credential_get(self, request: Request) -> str | None:
        """The access token cookie, None without one (or an empty one)."""
        return request.COOKIES.get(dualauth_settings.ACCESS_COOKIE_NAME) or None
