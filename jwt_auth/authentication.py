"""JWT authentication: a Bearer header, or the access token cookie with CSRF."""

from time import perf_counter

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from common.conf import dualauth_settings
from common.credentials import CookieChallenge, Credential, csrf_enforce
from common.exceptions import TokenNotValid
from common.metrics import AUTHENTICATION_SECONDS
from common.principal import Principal
from common.routes import JWT_COOKIE, JWT_HEADER, Mode
from jwt_auth.dpop import dpop_request_proof
from jwt_auth.services import access_authenticate


class JWTHeaderAuthentication(BaseAuthentication):
    """Authenticates by `Authorization: Bearer <access>`, or `DPoP <access>` with a proof of
    the key the token is bound to (jwt_auth/dpop.py); any other scheme is a 401.
    """

    mode: Mode = JWT_HEADER
    # Looked up once: the hot path pays for one `observe`, not for `labels()`.
    latency = AUTHENTICATION_SECONDS.labels(mode=mode)

    def authenticate(self, request: Request) -> tuple[Principal, Credential] | None:
        """The token's user, None without an Authorization header, 401 for a bad one."""
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        start = perf_counter()
        parts = header.split()
        if len(parts) != 2:
            raise TokenNotValid("Authorization header must be `Bearer <access token>`.")
        proof = dpop_request_proof(request._request, scheme=parts[0], raw=parts[1])
        found = access_authenticate(raw=parts[1], mode=self.mode, proof=proof)
        self.latency.observe(perf_counter() - start)
        return found

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401."""
        return 'Bearer realm="api"'


class JWTCookieAuthentication(BaseAuthentication):
    """Authenticates by the HttpOnly access token cookie; CSRF is enforced on unsafe methods."""

    mode: Mode = JWT_COOKIE
    latency = AUTHENTICATION_SECONDS.labels(mode=mode)

    def authenticate(self, request: Request) -> tuple[Principal, Credential] | None:
        """The token's user, None without the cookie, 401 for a bad one."""
        raw = request.COOKIES.get(dualauth_settings.ACCESS_COOKIE_NAME)
        if not raw:
            return None
        start = perf_counter()
        found = access_authenticate(raw=raw, mode=self.mode)
        csrf_enforce(request)
        self.latency.observe(perf_counter() - start)
        return found

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401."""
        return str(CookieChallenge("ACCESS_COOKIE_NAME"))
