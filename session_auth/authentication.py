"""Session authentication: a live session of a live family, with CSRF."""

from time import perf_counter

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from common.credentials import Credential, csrf_enforce
from common.metrics import AUTHENTICATION_SECONDS
from common.principal import Principal
from common.routes import SESSION, Mode
from session_auth.services import session_authenticate


class SessionFamilyAuthentication(BaseAuthentication):
    """Authenticates by the `sessionid` cookie; CSRF is enforced on unsafe methods."""

    mode: Mode = SESSION
    # Looked up once: the hot path pays for one `observe`, not for `labels()`.
    latency = AUTHENTICATION_SECONDS.labels(mode=mode)

    def authenticate(self, request: Request) -> tuple[Principal, Credential] | None:
        """The session's user, None without a session cookie, 401 for a dead session."""
        if not request.COOKIES.get(settings.SESSION_COOKIE_NAME):
            return None
        start = perf_counter()
        found = session_authenticate(request=request._request)
        csrf_enforce(request)
        self.latency.observe(perf_counter() - start)
        return found

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401."""
        return 'Session realm="api"'
