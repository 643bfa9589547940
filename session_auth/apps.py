"""App configs of the session mode, and of the Django admin served inside it."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SessionAuthConfig(AppConfig):
    """Django sessions with CSRF; every Django login a login family."""

    name = "session_auth"

    def ready(self) -> None:
        from common.authentication import authentication_register
        from common.push import push_prefix_register
        from common.routes import SESSION
        from session_auth import checks, signals  # noqa: F401
        from session_auth.authentication import SessionFamilyAuthentication
        from session_auth.sessions import SessionStore

        authentication_register(mode=SESSION, authenticator=SessionFamilyAuthentication)
        # The sessions the hot path reads with their login (services.session_read).
        push_prefix_register(SessionStore.cache_key_prefix)


class FamilyAdminConfig(admin_apps.AdminConfig):
    """The Django admin, whose logins are throttled, audited session families."""

    # Named in INSTALLED_APPS in place of django.contrib.admin; never this app's own config.
    default = False
    default_site = "session_auth.admin.FamilyAdminSite"
