"""The site's URLs: the SPA, the admin where served, the JWKS, the metrics, and dualauth under
its prefix.
"""

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from common.views import metrics
from jwt_auth.views import JwksApi
from project.views import index

handler400 = "common.views.bad_request"
handler500 = "common.views.server_error"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", index, name="index"),
    *([path("admin/", admin.site.urls)] if settings.ADMIN_ENABLED else []),
    path(".well-known/jwks.json", JwksApi.as_view(), name="jwks"),
    path("metrics", metrics, name="metrics"),
    path("api/", include("common.urls")),
]
