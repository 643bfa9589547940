"""Session mode: CSRF bootstrap, login, logout."""

from typing import Any

from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import Api, PublicApi
from common.credentials import csrf_enforce
from common.logins import login_credentials_check
from common.mfa.serializers import MfaRequiredSerializer
from common.mfa.views import login_answer
from common.passkeys.services import passkey_login_check
from common.principal import UserModel, principal_from_user
from common.routes import SESSION
from common.serializers import ErrorSerializer, ProfileSerializer
from common.throttling import device_cookie_set, device_token_issue
from session_auth.serializers import (
    CsrfTokenSerializer,
    SessionLoginInputSerializer,
    SessionPasskeyLoginInputSerializer,
)
from session_auth.services import session_login, session_logout


class CsrfTokenApi(PublicApi):
    """Bootstrap a browser: the CSRF token, in the body and in the `csrftoken` cookie."""

    @extend_schema(responses=CsrfTokenSerializer)
    def get(self, request: Request) -> Response:
        """A CSRF token for this browser."""
        return Response({"csrf_token": get_token(request._request)})


LOGIN_RESPONSES = {
    200: ProfileSerializer,
    202: MfaRequiredSerializer,
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    429: ErrorSerializer,
}
# A passkey is both factors: its login never asks for another.
PASSKEY_LOGIN_RESPONSES = {code: body for code, body in LOGIN_RESPONSES.items() if code != 202}


def session_login_answer(request: Request, user: UserModel, options: dict[str, Any]) -> Response:
    """A session login's answer: the profile, the new session's cookie and a device cookie."""
    session_login(request=request._request, user=user, remember=options["remember"])
    response = Response(ProfileSerializer(principal_from_user(user)).data)
    device_cookie_set(response, device_token_issue(user=user))
    return response


class SessionLoginApi(PublicApi):
    """Log in with a session cookie; CSRF required, so no login CSRF."""

    www_authenticate = 'Session realm="api"'

    @extend_schema(request=SessionLoginInputSerializer, responses=LOGIN_RESPONSES)
    def post(self, request: Request) -> Response:
        """Start a session under a new key and a new CSRF token, or ask for a second factor."""
        csrf_enforce(request)
        serializer = SessionLoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = login_credentials_check(
            username=data["username"],
            password=data["password"],
            device_token=data["device_token"],
            request=request._request,
            mode=SESSION,
        )
        return login_answer(
            request,
            user,
            mode=SESSION,
            options={"remember": data["remember"], "device_token": data["device_token"]},
            answer=session_login_answer,
        )


class SessionPasskeyLoginApi(PublicApi):
    """Log in with a passkey alone, to a session cookie; CSRF required."""

    www_authenticate = 'Session realm="api"'

    @extend_schema(request=SessionPasskeyLoginInputSerializer, responses=PASSKEY_LOGIN_RESPONSES)
    def post(self, request: Request) -> Response:
        """Start a session for the passkey's owner: the passkey is both factors."""
        csrf_enforce(request)
        serializer = SessionPasskeyLoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = passkey_login_check(
            challenge_token=data["challenge_token"],
            credential=data["credential"],
            request=request._request,
            mode=SESSION,
        )
        return session_login_answer(request, user, {"remember": data["remember"]})


class SessionLogoutApi(Api):
    """End this session: replaying its cookie afterwards gets 401."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        """Log out."""
        session_logout(request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
