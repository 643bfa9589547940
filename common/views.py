"""The shared resource, both lists of logins, account-wide actions, health, the metrics."""

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import Api, PublicApi
from common.csp import page_csp_for
from common.exceptions import MetricsForbidden, ServerError, error_response
from common.hooks import browser_logins_end, password_changed_announce
from common.logins import families_revoke, family_revoke
from common.metrics import metrics_access_allowed, metrics_render
from common.passwords import password_change
from common.routes import api_prefix
from common.selectors import families_live
from common.serializers import (
    HealthSerializer,
    LoginSerializer,
    PasswordChangeInputSerializer,
    ProfileSerializer,
    ProfileUpdateInputSerializer,
)
from common.services import health_check, profile_update


class ProfileDetailApi(Api):
    """Read or edit my profile; the same body in every mode."""

    @extend_schema(responses=ProfileSerializer)
    def get(self, request: Request) -> Response:
        """My profile."""
        return Response(ProfileSerializer(self.user).data)

    @extend_schema(request=ProfileUpdateInputSerializer, responses=ProfileSerializer)
    def patch(self, request: Request) -> Response:
        """Change `display_name` and `bio`."""
        serializer = ProfileUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        principal = profile_update(user_id=self.user.pk, **serializer.validated_data)
        return Response(ProfileSerializer(principal).data)


class LoginListApi(Api):
    """My live logins of this endpoint's modes, the current one marked."""

    modes: tuple[str, ...] = ()

    @extend_schema(responses=LoginSerializer(many=True))
    def get(self, request: Request) -> Response:
        """List my logins."""
        families = families_live(user_id=self.user.pk, modes=self.modes)
        context = {"family_id": self.credential.family_id}
        return Response(LoginSerializer(families, many=True, context=context).data)


class LoginRevokeApi(Api):
    """End one of my logins of this endpoint's modes at once; 404 for any other."""

    modes: tuple[str, ...] = ()

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, family_id: uuid.UUID) -> Response:
        """Revoke a login."""
        if not family_revoke(
            family_id=family_id,
            user_id=self.user.pk,
            modes=self.modes,
            reason="revoked",
            request=request._request,
        ):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllApi(Api):
    """Revoke every session and token family of mine, on every instance."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        """Log out everywhere; this browser's credential cookies go too."""
        families_revoke(user_id=self.user.pk, reason="logout_all", request=request._request)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        browser_logins_end(request=request._request, response=response)
        return response


class PasswordChangeApi(Api):
    """Change my password; every other login of mine is revoked."""

    @extend_schema(request=PasswordChangeInputSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        """Change the password, keeping this login."""
        serializer = PasswordChangeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = password_change(
            user_id=self.user.pk,
            keep_family_id=self.credential.family_id,
            request=request._request,
            **serializer.validated_data,
        )
        password_changed_announce(request=request._request, user=user, credential=self.credential)
        return Response(status=status.HTTP_204_NO_CONTENT)


class HealthApi(PublicApi):
    """Whether the database and the cache answer."""

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        """200 when every check is ok, else 503 naming the failure."""
        checks = health_check()
        healthy = all(value == "ok" for value in checks.values())
        return Response(
            {"status": "ok" if healthy else "unavailable", "checks": checks},
            status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
        )


@csrf_exempt
def api_not_found(request: HttpRequest, path: str) -> HttpResponse:
    """404 as JSON for any path under /api/ that names no endpoint, whatever the method."""
    return error_response(NotFound())


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refused before any view (a bad Host, a body too large): JSON under /api/."""
    if not request.path_info.startswith(api_prefix()):
        return defaults.bad_request(request, exception)
    return error_response(ValidationError({"request": ["The request is malformed."]}))


def server_error(request: HttpRequest) -> HttpResponse:
    """A failure outside any view: JSON under /api/."""
    if not request.path_info.startswith(api_prefix()):
        return defaults.server_error(request)
    return error_response(ServerError())


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape: every metric, in its text format, to allowed clients only.

    A plain view: DRF would render an error in the text format its one renderer names.
    """
    if not metrics_access_allowed(request=request):
        return error_response(MetricsForbidden())
    body, content_type = metrics_render(accept=request.META.get("HTTP_ACCEPT", ""))
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


class DocsPageApi(SpectacularSwaggerView):
    """Swagger UI, from this site's own files, under the pages' policy: its one inline script
    and style allowed by hash, nothing else.
    """

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        """The page, rendered here so that its policy can name what it holds."""
        response = super().finalize_response(request, response, *args, **kwargs)
        response.render()
        response["Content-Security-Policy"] = page_csp_for(response.content.decode())
        return response
