"""Session mode: CSRF bootstrap, login, logout."""

from typing import Any

from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import Api, LoginKind, PublicApi
from common.principal import UserModel, principal_from_user
from common.routes import SESSION
from common.serializers import ProfileSerializer
from common.throttling import device_cookie_set, device_token_issue
from session_auth.serializers import (
    CsrfTokenSerializer,
    SessionLoginInputSerializer,
    SessionPasskeyLoginInputSerializer,
    SessionProviderLoginInputSerializer,
)
from session_auth.services import session_login, session_logout


class CsrfTokenApi(PublicApi):
    """Bootstrap a browser: the CSRF token, in the body and in the `csrftoken` cookie."""

    @extend_schema(responses=CsrfTokenSerializer)
    def get(self, request: Request) -> Response:
        """A CSRF token for this browser."""
        return Response({"csrf_token": get_token(request._request)})


def session_login_answer(request: Request, user: UserModel, options: dict[str, Any]) -> Response:
    """A session login's answer: the profile, the new session's cookie and a device cookie."""
    session_login(
        request=request._request,
        user=user,
        remember=options["remember"],
        amr=options.get("amr", "pwd"),
    )
    response = Response(ProfileSerializer(principal_from_user(user)).data)
    device_cookie_set(response, device_token_issue(user=user))
    return response


# The session mode's logins, by password and by passkey (session_auth/urls.py).
SESSION_LOGIN = LoginKind(
    mode=SESSION,
    answer=session_login_answer,
    answer_serializer=ProfileSerializer,
    login_input=SessionLoginInputSerializer,
    passkey_login_input=SessionPasskeyLoginInputSerializer,
    provider_login_input=SessionProviderLoginInputSerializer,
    csrf=True,
    www_authenticate='Session realm="api"',
    starts="a session under a new key and a new CSRF token",
)


class SessionLogoutApi(Api):
    """End this session: replaying its cookie afterwards gets 401."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        """Log out."""
        session_logout(request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
