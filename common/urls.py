"""dualauth's URLs: every mode's, then the shared resolver's; include them where the
project wants them (common/routes.py finds where: `api_prefix()`)."""

from django.urls import re_path
from drf_spectacular.views import SpectacularAPIView

from common.accounts.views import (
    AccountDetailApi,
    AccountSignupApi,
    EmailChangeApi,
    EmailResendApi,
    EmailVerifyApi,
    LoginReauthenticateApi,
    PasswordResetApi,
    PasswordResetConfirmApi,
    SignInChangeUndoApi,
)
from common.mfa.views import MfaAuthenticateApi, RecoveryCodeListApi, TotpDetailApi
from common.mfa.webauthn.views import (
    PasskeyDetailApi,
    PasskeyListApi,
    PasskeyLoginOptionsApi,
    PasskeyOptionsApi,
)
from common.providers.views import (
    LinkedProviderDetailApi,
    LinkedProviderListApi,
    ProviderCallbackApi,
    ProviderListApi,
    ProviderNonceApi,
    ProviderRedirectApi,
)
from common.routes import build_shared_urlpatterns
from common.views import (
    DocsPageApi,
    HealthApi,
    LogoutAllApi,
    PasswordChangeApi,
    ProfileDetailApi,
    api_not_found,
)
from jwt_auth.urls import urlpatterns as jwt_urlpatterns
from jwt_auth.views import COOKIE_LOGIN, TOKEN_LOGIN
from session_auth.urls import urlpatterns as session_urlpatterns
from session_auth.views import SESSION_LOGIN

# Each mode's login kind, for the second step of a login begun there.
LOGIN_KINDS = {kind.mode: kind for kind in (SESSION_LOGIN, TOKEN_LOGIN, COOKIE_LOGIN)}
# How each mode answers a login, for the browser's redirect sign-in.
LOGIN_ANSWERS = {mode: kind.answer for mode, kind in LOGIN_KINDS.items()}

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
            "docs": DocsPageApi.as_view(url_name="dualauth:schema"),
            "account": AccountDetailApi.as_view(),
            "signup": AccountSignupApi.as_view(),
            "email-verify": EmailVerifyApi.as_view(),
            "email-resend": EmailResendApi.as_view(),
            "email-change": EmailChangeApi.as_view(),
            "password-reset": PasswordResetApi.as_view(),
            "password-reset-confirm": PasswordResetConfirmApi.as_view(),
            "reauthenticate": LoginReauthenticateApi.as_view(),
            "undo": SignInChangeUndoApi.as_view(),
            "mfa-authenticate": MfaAuthenticateApi.as_view(kinds=LOGIN_KINDS),
            "totp": TotpDetailApi.as_view(),
            "recovery-codes": RecoveryCodeListApi.as_view(),
            "passkey-options": PasskeyOptionsApi.as_view(),
            "passkeys": PasskeyListApi.as_view(),
            "passkey-detail": PasskeyDetailApi.as_view(),
            "passkey-login-options": PasskeyLoginOptionsApi.as_view(),
            "providers": ProviderListApi.as_view(),
            "provider-nonce": ProviderNonceApi.as_view(),
            "providers-linked": LinkedProviderListApi.as_view(),
            "provider-linked-detail": LinkedProviderDetailApi.as_view(),
            "provider-redirect": ProviderRedirectApi.as_view(),
            "provider-callback": ProviderCallbackApi.as_view(answers=LOGIN_ANSWERS),
        }
    ),
    # Any character, a newline too: a path no pattern matches is JSON, never Django's page.
    re_path(r"^(?P<path>[\s\S]*)$", api_not_found, name="api-not-found"),
]
