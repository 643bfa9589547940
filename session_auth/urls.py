"""Session mode routes: every endpoint authenticates by session alone."""

from django.urls import path

from common.views import ProfileDetailApi
from session_auth.authentication import SessionFamilyAuthentication
from session_auth.views import (
    CsrfTokenApi,
    SessionListApi,
    SessionLoginApi,
    SessionLogoutApi,
    SessionRevokeApi,
)

SESSION_ONLY = {"authentication_classes": [SessionFamilyAuthentication]}

app_name = "session"
urlpatterns = [
    path("csrf/", CsrfTokenApi.as_view(), name="csrf"),
    path("login/", SessionLoginApi.as_view(), name="login"),
    path("logout/", SessionLogoutApi.as_view(**SESSION_ONLY), name="logout"),
    path("profile/", ProfileDetailApi.as_view(**SESSION_ONLY), name="profile"),
    path("sessions/", SessionListApi.as_view(**SESSION_ONLY), name="sessions"),
    path(
        "sessions/<uuid:family_id>/",
        SessionRevokeApi.as_view(**SESSION_ONLY),
        name="session-revoke",
    ),
]
