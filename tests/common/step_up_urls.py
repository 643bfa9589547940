"""The project's URLs, and a project's own views that ask for step-up (common.permissions)."""

from datetime import timedelta

from django.urls import URLPattern, URLResolver, path
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import Api
from common.permissions import StepUp
from project.urls import urlpatterns as project_urlpatterns

# Shorter than an access token's lifetime, so that a stale login still holds a valid token.
MAX_AGE = timedelta(minutes=2)
ACR = "urn:example:mfa"


class RecentApi(Api):
    """Answers a login that proved its user within MAX_AGE."""

    permission_classes = [StepUp.requiring(max_age=MAX_AGE)]

    def post(self, request: Request) -> Response:
        """`{}`."""
        return Response({})


class StrongApi(Api):
    """Answers a login of the level ACR."""

    permission_classes = [StepUp.requiring(acr_values=(ACR,))]

    def post(self, request: Request) -> Response:
        """`{}`."""
        return Response({})


class PasswordApi(Api):
    """Answers a login whose user proved a password of this account."""

    permission_classes = [StepUp.requiring(methods=("pwd",))]

    def post(self, request: Request) -> Response:
        """`{}`."""
        return Response({})


urlpatterns: list[URLPattern | URLResolver] = [
    path("api/step-up/recent/", RecentApi.as_view()),
    path("api/step-up/strong/", StrongApi.as_view()),
    path("api/step-up/password/", PasswordApi.as_view()),
    *project_urlpatterns,
]
