"""The route table: one prefix per client kind, then the shared resource."""

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from common.views import api_not_found, index
from jwt_auth.views import JwksApi

handler400 = "common.views.bad_request"
handler500 = "common.views.server_error"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", index, name="index"),
    *([path("admin/", admin.site.urls)] if settings.ADMIN_ENABLED else []),
    path(".well-known/jwks.json", JwksApi.as_view(), name="jwks"),
    path("api/session/", include("session_auth.urls")),
    path("api/jwt/", include("jwt_auth.urls")),
    path("api/", include("common.urls")),
    re_path(r"^api/(?P<path>.*)$", api_not_found),
]
