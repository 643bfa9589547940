"""App config of the JWT mode."""

from django.apps import AppConfig


class JwtAuthConfig(AppConfig):
    """Access and refresh tokens, in the Authorization header or in cookies."""

    name = "jwt_auth"

    def ready(self) -> None:
        from common.authentication import authentication_register
        from common.mfa.serializers import login_answer_serializer_add
        from common.routes import JWT_COOKIE, JWT_HEADER
        from jwt_auth import checks, signals  # noqa: F401
        from jwt_auth.authentication import JWTCookieAuthentication, JWTHeaderAuthentication
        from jwt_auth.serializers import TokenObtainSerializer

        authentication_register(mode=JWT_HEADER, authenticator=JWTHeaderAuthentication)
        authentication_register(mode=JWT_COOKIE, authenticator=JWTCookieAuthentication)
        login_answer_serializer_add(TokenObtainSerializer)
