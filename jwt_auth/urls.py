"""JWT mode's URL patterns, built from the route table: the header and the cookie transport."""

from common.mfa.views import PasswordLoginApi
from common.mfa.webauthn.views import PasskeyLoginApi
from common.providers.views import ProviderLoginApi
from common.routes import JWT_COOKIE, JWT_HEADER, build_urlpatterns
from common.views import LoginListApi, LoginRevokeApi, ProfileDetailApi
from jwt_auth.authentication import JWTCookieAuthentication, JWTHeaderAuthentication
from jwt_auth.views import (
    COOKIE_LOGIN,
    TOKEN_LOGIN,
    CookieLogoutApi,
    CookieRefreshApi,
    TokenLogoutApi,
    TokenRefreshApi,
    TokenVerifyApi,
)

BEARER_ONLY = {"authentication_classes": [JWTHeaderAuthentication]}
# The browser SPA lists and revokes its devices with the HttpOnly cookie it cannot read.
BEARER_OR_COOKIE = {"authentication_classes": [JWTHeaderAuthentication, JWTCookieAuthentication]}
MODES = {"modes": (JWT_HEADER, JWT_COOKIE)}

urlpatterns = [
    *build_urlpatterns(
        JWT_HEADER,
        {
            "login": PasswordLoginApi.as_view(kind=TOKEN_LOGIN),
            "login-passkey": PasskeyLoginApi.as_view(kind=TOKEN_LOGIN),
            "login-provider": ProviderLoginApi.as_view(kind=TOKEN_LOGIN),
            "refresh": TokenRefreshApi.as_view(),
            "verify": TokenVerifyApi.as_view(),
            "logout": TokenLogoutApi.as_view(),
            "profile": ProfileDetailApi.as_view(**BEARER_ONLY),
            "logins": LoginListApi.as_view(**BEARER_OR_COOKIE, **MODES),
            "login-revoke": LoginRevokeApi.as_view(**BEARER_OR_COOKIE, **MODES),
        },
    ),
    # The cookie transport's other endpoints are the session's CSRF bootstrap, the shared
    # profile and the device list above.
    *build_urlpatterns(
        JWT_COOKIE,
        {
            "login": PasswordLoginApi.as_view(kind=COOKIE_LOGIN),
            "login-passkey": PasskeyLoginApi.as_view(kind=COOKIE_LOGIN),
            "login-provider": ProviderLoginApi.as_view(kind=COOKIE_LOGIN),
            "refresh": CookieRefreshApi.as_view(),
            "logout": CookieLogoutApi.as_view(),
        },
        skip=("csrf", "profile", "logins", "login-revoke"),
    ),
]
