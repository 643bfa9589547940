"""App config of the session mode."""

from django.apps import AppConfig


class SessionAuthConfig(AppConfig):
    """Django sessions with CSRF."""

    name = "session_auth"
