"""Bench-only endpoints: the baseline, and the stock DRF/simplejwt paths to measure against."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user, logout
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.utils.functional import SimpleLazyObject
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import (
    JWTAuthentication,
    JWTStatelessUserAuthentication,
)

from common.principal import Principal, principal_from_user, user_id_parse
from common.selectors import user_get
from common.serializers import ProfileSerializer
from common.views import ProfileDetailApi


class ConstantApi(APIView):
    """A constant body, no credentials: the cost of Django + DRF alone."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        """Always the same small body."""
        return Response({"status": "ok"})


class StockProfileApi(ProfileDetailApi):
    """The profile endpoint behind a stock authentication class, which finds a model instance."""

    @property
    def user(self) -> Principal:
        """The principal of the user the stock class found."""
        assert self.request.user.is_authenticated, "IsAuthenticated let only a user through"
        return principal_from_user(self.request.user)


class StockJwtProfileApi(StockProfileApi):
    """Profile behind stock simplejwt `JWTAuthentication`: decode, user lookup, no revocation."""

    authentication_classes = [JWTAuthentication]


class DbSessionMixin(APIView):
    """Reads the session with Django's stock `db` backend and stock `get_user`.

    The product runs its own `cached_db` store and believes only sessions of a live
    login family; the stock comparison is the plain database session, as Django's own
    AuthenticationMiddleware reads it.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Swap in a `db` session and Django's user before authentication reads them."""
        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        django_request = request._request
        django_request.session = DbSessionStore(key)
        django_request.user = SimpleLazyObject(lambda: get_user(django_request))  # type: ignore[assignment]
        super().initial(request, *args, **kwargs)


class StockSessionProfileApi(DbSessionMixin, StockProfileApi):
    """The profile behind stock DRF `SessionAuthentication` over `db` sessions."""

    authentication_classes = [SessionAuthentication]


class StockSessionLogoutApi(DbSessionMixin, APIView):
    """Stock Django logout: the session row is deleted."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        """Log out."""
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StatelessJwtProfileApi(APIView):
    """Revocation off: simplejwt's stateless decode, then the profile read dualauth uses."""

    authentication_classes = [JWTStatelessUserAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        """The token's user's profile."""
        user = user_get(user_id=user_id_parse(str(request.user.pk)))
        if user is None:
            raise AuthenticationFailed()
        return Response(ProfileSerializer(principal_from_user(user)).data)
