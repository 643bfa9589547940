"""Session authentication: a live session of a live family, with CSRF."""

from django.conf import settings
from rest_framework.request import Request

from common.authentication import FamilyAuthentication
from common.credentials import Credential
from common.principal import Principal
from common.routes import SESSION
from session_auth.services import SessionRead, session_login_resolve, session_read


class SessionFamilyAuthentication(FamilyAuthentication[SessionRead]):
    """Authenticates by the `sessionid` cookie; CSRF is enforced on unsafe methods."""

    mode = SESSION
    cookie = True
    www_authenticate = 'Session realm="api"'

    def credential_get(self, request: Request) -> str | None:
        """The session cookie, None without one (or an empty one)."""
        return request.COOKIES.get(settings.SESSION_COOKIE_NAME) or None

    def credential_validate(self, request: Request, raw: str) -> SessionRead:
        """The session the cookie names, as the store holds it (empty when there is none)."""
        return session_read(request=request._request)

    def principal_resolve(
        self, request: Request, validated: SessionRead
    ) -> tuple[Principal, Credential]:
        """The principal of the session's live login, or 401; ends a session idle for too long."""
        return session_login_resolve(request=request._request, read=validated)
