"""dualauth's URLs: every mode's, then the shared resolver's; include them under API_PREFIX."""

from django.urls import re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common.routes import build_shared_urlpatterns
from common.views import (
    HealthApi,
    LogoutAllApi,
    PasswordChangeApi,
    ProfileDetailApi,
    api_not_found,
)
from jwt_auth.urls import urlpatterns as jwt_urlpatterns
from session_auth.urls import urlpatterns as session_urlpatterns

app_name = "dualauth"
urlpatterns = [
    *session_urlpatterns,
    *jwt_urlpatterns,
    *build_shared_urlpatterns(
        {
            "profile": ProfileDetailApi.as_view(),
            "logout-all": LogoutAllApi.as_view(),
            "password": PasswordChangeApi.as_view(),
            "health": HealthApi.as_view(),
            "schema": SpectacularAPIView.as_view(),
            "docs": SpectacularSwaggerView.as_view(url_name="dualauth:schema"),
        }
    ),
    re_path(r"^(?P<path>.*)$", api_not_found, name="api-not-found"),
]
