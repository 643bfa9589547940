"""App config of the JWT mode."""

from django.apps import AppConfig


class JwtAuthConfig(AppConfig):
    """Access and refresh tokens, in the Authorization header or in cookies."""

    name = "jwt_auth"
