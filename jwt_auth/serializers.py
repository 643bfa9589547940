"""Inputs and outputs of the JWT endpoints."""

from rest_framework import serializers

from common.models import LoginFamily
from common.serializers import CredentialsInputSerializer


class TokenObtainInputSerializer(CredentialsInputSerializer):
    """Credentials for a new token family."""


class CookieLoginInputSerializer(CredentialsInputSerializer):
    """Credentials for a new token family held in cookies."""


class TokenRefreshInputSerializer(serializers.Serializer):
    """The current refresh token."""

    refresh = serializers.CharField(max_length=4096)


class TokenLogoutInputSerializer(serializers.Serializer):
    """A refresh token of the login to end."""

    refresh = serializers.CharField(max_length=4096)


class TokenVerifyInputSerializer(serializers.Serializer):
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


class DeviceSerializer(serializers.ModelSerializer):
    """One of my live token families."""

    id = serializers.UUIDField(source="pk", read_only=True)
    last_used_at = serializers.DateTimeField(source="last_seen_at")
    current = serializers.SerializerMethodField()

    class Meta:
        model = LoginFamily
        fields = ["id", "created_at", "last_used_at", "user_agent", "ip", "current"]

    def get_current(self, family: LoginFamily) -> bool:
        """Whether this is the family of the request."""
        return bool(family.pk == self.context["family_id"])


class JwksSerializer(serializers.Serializer):
    """The public keys that verify this service's tokens."""

    keys = serializers.ListField(child=serializers.DictField())
