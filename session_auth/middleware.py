"""Sessions off the token client's endpoints; `request.user` outside the API: a live session
of a live login family, or anonymous.
"""

from functools import partial

from asgiref.sync import sync_to_async
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from common.middleware import OffBearerRoutesMiddleware, OutsideApiMiddleware
from common.principal import UserModel
from session_auth.services import session_user


class BrowserSessionMiddleware(OffBearerRoutesMiddleware, SessionMiddleware):
    """Django's SessionMiddleware: off the token client's endpoints, which have no session."""


def _user(request: HttpRequest) -> UserModel | AnonymousUser:
    if not hasattr(request, "_dualauth_user"):
        request._dualauth_user = session_user(request=request)  # type: ignore[attr-defined]
    return request._dualauth_user  # type: ignore[attr-defined]


# Made once: sync_to_async inspects the function it wraps, which would cost every request.
_auser = sync_to_async(_user)


class FamilyAuthenticationMiddleware(OutsideApiMiddleware, AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, believing only sessions whose family is live.

    A session revoked by logout-all, a session revoke, a password change, the idle or
    the absolute timeout, is anonymous here at once. API requests pass it by: DRF
    authenticates them by the resolver (common/authentication.py).
    """

    def process_request(self, request: HttpRequest) -> None:
        """Give the request a lazy `user` (and `auser`) from its session's family."""
        request.user = SimpleLazyObject(lambda: _user(request))  # type: ignore[assignment]
        request.auser = partial(_auser, request)
