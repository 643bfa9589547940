"""Inputs and outputs of the session endpoints."""

from rest_framework import serializers

from common.models import LoginFamily
from common.serializers import CredentialsInputSerializer


class SessionLoginInputSerializer(CredentialsInputSerializer):
    """Credentials, and whether the session outlives the browser."""

    remember = serializers.BooleanField(default=True)


class CsrfTokenSerializer(serializers.Serializer):
    """The CSRF token, also set as the `csrftoken` cookie."""

    csrf_token = serializers.CharField()


class SessionSerializer(serializers.ModelSerializer):
    """One of my live sessions; `id` is opaque and never the session key."""

    id = serializers.UUIDField(source="pk", read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = LoginFamily
        fields = ["id", "created_at", "last_seen_at", "user_agent", "ip", "current"]

    def get_current(self, family: LoginFamily) -> bool:
        """Whether this is the session of the request."""
        return bool(family.pk == self.context["family_id"])
