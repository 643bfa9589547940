"""Inputs and outputs of the JWT endpoints."""

from rest_framework import serializers

from common.serializers import CredentialsInputSerializer, InputSerializer


class TokenObtainInputSerializer(CredentialsInputSerializer):
    """Credentials for a new token family."""


class CookieLoginInputSerializer(CredentialsInputSerializer):
    """Credentials for a new token family held in cookies."""


class TokenRefreshInputSerializer(InputSerializer):
    """The current refresh token."""

    refresh = serializers.CharField(max_length=4096)


class TokenLogoutInputSerializer(InputSerializer):
    """A refresh token of the login to end."""

    refresh = serializers.CharField(max_length=4096)


class TokenVerifyInputSerializer(InputSerializer):
    """Any token this service issued."""

    token = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    """A new access token and the login's current refresh token."""

    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField(default="Bearer")
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class TokenObtainSerializer(TokenPairSerializer):
    """A new login's first pair, and the device token that exempts this device from lockouts."""

    device_token = serializers.CharField(
        help_text="Send it back with later logins (`device_token`): a device that logged in "
        "before is not locked out by others' failures for its username."
    )


class CookieRefreshSerializer(serializers.Serializer):
    """When the new access cookie expires."""

    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class JwksSerializer(serializers.Serializer):
    """The public keys that verify this service's tokens."""

    keys = serializers.ListField(child=serializers.DictField())
