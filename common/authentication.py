"""The resolver: Bearer header, else access cookie, else session; never a fall-through."""

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from common.credentials import Credential
from common.principal import Principal
from jwt_auth.authentication import JWTCookieAuthentication, JWTHeaderAuthentication
from session_auth.authentication import SessionFamilyAuthentication


class ResolverAuthentication(BaseAuthentication):
    """Tries each mode in order; the first credential present decides, good or bad."""

    authenticators = (JWTHeaderAuthentication, JWTCookieAuthentication, SessionFamilyAuthentication)

    def authenticate(self, request: Request) -> tuple[Principal, Credential] | None:
        """The first present credential's user; None when there is none."""
        for authenticator in self.authenticators:
            result = authenticator().authenticate(request)
            if result is not None:
                return result
        return None

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401: either scheme will do."""
        return 'Bearer realm="api", Session realm="api"'
