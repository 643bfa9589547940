"""The resolver: Bearer header, else access cookie, else session; never a fall-through."""

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from common.credentials import Credential
from common.principal import Principal
from common.routes import JWT_COOKIE, JWT_HEADER, SESSION, Mode

# The order a request's credentials are looked for in: the first one present decides.
RESOLUTION_ORDER: tuple[Mode, ...] = (JWT_HEADER, JWT_COOKIE, SESSION)
# Each mode's authentication, registered by the mode's app (its AppConfig.ready()).
_authenticators: dict[Mode, type[BaseAuthentication]] = {}


def authentication_register(*, mode: Mode, authenticator: type[BaseAuthentication]) -> None:
    """Have the resolver read the credentials of `mode` with `authenticator`."""
    _authenticators[mode] = authenticator


class ResolverAuthentication(BaseAuthentication):
    """Tries each mode in order; the first credential present decides, good or bad."""

    def authenticate(self, request: Request) -> tuple[Principal, Credential] | None:
        """The first present credential's user; None when there is none."""
        for mode in RESOLUTION_ORDER:
            authenticator = _authenticators.get(mode)
            if authenticator is None:
                continue
            result = authenticator().authenticate(request)
            if result is not None:
                return result
        return None

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401: either scheme will do."""
        return 'Bearer realm="api", Session realm="api"'
