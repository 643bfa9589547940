"""Routes of either mode: the resolver decides how each request is authenticated."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common.views import HealthApi, LogoutAllApi, PasswordChangeApi, ProfileDetailApi

app_name = "common"
urlpatterns = [
    path("profile/", ProfileDetailApi.as_view(), name="profile"),
    path("logout-all/", LogoutAllApi.as_view(), name="logout-all"),
    path("password/", PasswordChangeApi.as_view(), name="password"),
    path("health/", HealthApi.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="common:schema"), name="docs"),
]
