"""Session mode's URL patterns, built from the route table: every endpoint by session alone."""

from common.mfa.views import PasswordLoginApi
from common.mfa.webauthn.views import PasskeyLoginApi
from common.providers.views import ProviderLoginApi
from common.routes import SESSION, build_urlpatterns
from common.views import LoginListApi, LoginRevokeApi, ProfileDetailApi
from session_auth.authentication import SessionFamilyAuthentication
from session_auth.views import SESSION_LOGIN, CsrfTokenApi, SessionLogoutApi

SESSION_ONLY = {"authentication_classes": [SessionFamilyAuthentication]}
MODES = {"modes": (SESSION,)}

urlpatterns = build_urlpatterns(
    SESSION,
    {
        "csrf": CsrfTokenApi.as_view(),
        "login": PasswordLoginApi.as_view(kind=SESSION_LOGIN),
        "login-passkey": PasskeyLoginApi.as_view(kind=SESSION_LOGIN),
        "login-provider": ProviderLoginApi.as_view(kind=SESSION_LOGIN),
        "logout": SessionLogoutApi.as_view(**SESSION_ONLY),
        "profile": ProfileDetailApi.as_view(**SESSION_ONLY),
        "logins": LoginListApi.as_view(**SESSION_ONLY, **MODES),
        "login-revoke": LoginRevokeApi.as_view(**SESSION_ONLY, **MODES),
    },
)
