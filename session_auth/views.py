"""Session mode: CSRF bootstrap, login, logout, my sessions."""

import uuid

from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import Api, PublicApi
from common.credentials import csrf_enforce
from common.models import LoginFamily
from common.selectors import families_live
from common.serializers import ProfileSerializer
from common.services import (
    device_cookie_set,
    device_token_issue,
    family_revoke,
    login_credentials_check,
)
from session_auth.serializers import (
    CsrfTokenSerializer,
    SessionLoginInputSerializer,
    SessionSerializer,
)
from session_auth.services import session_login, session_logout


class CsrfTokenApi(PublicApi):
    """Bootstrap a browser: the CSRF token, in the body and in the `csrftoken` cookie."""

    @extend_schema(responses=CsrfTokenSerializer)
    def get(self, request: Request) -> Response:
        """A CSRF token for this browser."""
        return Response({"csrf_token": get_token(request._request)})


class SessionLoginApi(PublicApi):
    """Log in with a session cookie; CSRF required, so no login CSRF."""

    www_authenticate = 'Session realm="api"'

    @extend_schema(request=SessionLoginInputSerializer, responses=ProfileSerializer)
    def post(self, request: Request) -> Response:
        """Start a session under a new key and a new CSRF token."""
        csrf_enforce(request)
        serializer = SessionLoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = login_credentials_check(
            username=data["username"],
            password=data["password"],
            device_token=data["device_token"],
            request=request._request,
        )
        session_login(request=request._request, user=user, remember=data["remember"])
        response = Response(ProfileSerializer(user).data)
        device_cookie_set(response, device_token_issue(username=user.get_username()))
        return response


class SessionLogoutApi(Api):
    """End this session: replaying its cookie afterwards gets 401."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        """Log out."""
        session_logout(request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionListApi(Api):
    """My live sessions, the current one marked."""

    @extend_schema(responses=SessionSerializer(many=True))
    def get(self, request: Request) -> Response:
        """List my sessions."""
        families = families_live(user_id=self.user.pk, modes=(LoginFamily.Mode.SESSION,))
        context = {"family_id": self.credential.family_id}
        return Response(SessionSerializer(families, many=True, context=context).data)


class SessionRevokeApi(Api):
    """End one of my sessions at once."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, family_id: uuid.UUID) -> Response:
        """Revoke a session."""
        if not family_revoke(
            family_id=family_id,
            user_id=self.user.pk,
            modes=(LoginFamily.Mode.SESSION,),
            reason="revoked",
            request=request._request,
        ):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)
