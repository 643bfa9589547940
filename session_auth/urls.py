"""Session mode's URL patterns, built from the route table: every endpoint by session alone."""

from common.routes import SESSION, build_urlpatterns
from common.views import LoginListApi, LoginRevokeApi, ProfileDetailApi
from session_auth.authentication import SessionFamilyAuthentication
from session_auth.views import (
    CsrfTokenApi,
    SessionLoginApi,
    SessionLogoutApi,
    SessionPasskeyLoginApi,
)

SESSION_ONLY = {"authentication_classes": [SessionFamilyAuthentication]}
MODES = {"modes": (SESSION,)}

urlpatterns = build_urlpatterns(
    SESSION,
    {
        "csrf": CsrfTokenApi.as_view(),
        "login": SessionLoginApi.as_view(),
        "login-passkey": SessionPasskeyLoginApi.as_view(),
        "logout": SessionLogoutApi.as_view(**SESSION_ONLY),
        "profile": ProfileDetailApi.as_view(**SESSION_ONLY),
        "logins": LoginListApi.as_view(**SESSION_ONLY, **MODES),
        "login-revoke": LoginRevokeApi.as_view(**SESSION_ONLY, **MODES),
    },
)
