"""JWT mode routes: the header transport for mobile apps, the cookie transport for browsers."""

from django.urls import path

from common.views import ProfileDetailApi
from jwt_auth.authentication import JWTCookieAuthentication, JWTHeaderAuthentication
from jwt_auth.views import (
    CookieLoginApi,
    CookieLogoutApi,
    CookieRefreshApi,
    DeviceListApi,
    DeviceRevokeApi,
    TokenLogoutApi,
    TokenObtainApi,
    TokenRefreshApi,
    TokenVerifyApi,
)

BEARER_ONLY = {"authentication_classes": [JWTHeaderAuthentication]}
# The browser SPA lists and revokes its devices with the HttpOnly cookie it cannot read.
BEARER_OR_COOKIE = {"authentication_classes": [JWTHeaderAuthentication, JWTCookieAuthentication]}

app_name = "jwt"
urlpatterns = [
    path("token/", TokenObtainApi.as_view(), name="token"),
    path("token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
    path("token/verify/", TokenVerifyApi.as_view(), name="token-verify"),
    path("logout/", TokenLogoutApi.as_view(), name="logout"),
    path("profile/", ProfileDetailApi.as_view(**BEARER_ONLY), name="profile"),
    path("devices/", DeviceListApi.as_view(**BEARER_OR_COOKIE), name="devices"),
    path(
        "devices/<uuid:family_id>/",
        DeviceRevokeApi.as_view(**BEARER_OR_COOKIE),
        name="device-revoke",
    ),
    path("cookie/login/", CookieLoginApi.as_view(), name="cookie-login"),
    path("cookie/refresh/", CookieRefreshApi.as_view(), name="cookie-refresh"),
    path("cookie/logout/", CookieLogoutApi.as_view(), name="cookie-logout"),
]
