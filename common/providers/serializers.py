"""Inputs and outputs of the providers' endpoints."""

from rest_framework import serializers

from common.providers.models import ProviderIdentity
from common.serializers import InputSerializer, device_token_field

# Longer than any ID token a provider sends (common/providers/tokens.py refuses longer).
ID_TOKEN_MAX_LENGTH = 16384


class ProviderTokenInputSerializer(InputSerializer):
    """An ID token of a configured provider, and the nonce the server gave for it."""

    provider = serializers.CharField(max_length=64)
    id_token = serializers.CharField(max_length=ID_TOKEN_MAX_LENGTH, trim_whitespace=False)
    nonce = serializers.CharField(max_length=128, trim_whitespace=False)


class ProviderLoginInputSerializer(ProviderTokenInputSerializer):
    """An ID-token login: the token, its nonce, and a device token as the password logins take."""

    device_token = device_token_field()


class ProviderSerializer(serializers.Serializer):
    """A provider the clients may offer."""

    id = serializers.CharField()
    name = serializers.CharField()
    flows = serializers.ListField(
        child=serializers.ChoiceField(choices=["id_token", "redirect"]),
        help_text="`id_token`: a native SDK's token to a login endpoint; `redirect`: the "
        "browser's authorization code flow.",
    )


class ProviderNonceSerializer(serializers.Serializer):
    """A single-use nonce for the provider's SDK."""

    nonce = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the nonce may be used within.")


class LinkedProviderSerializer(serializers.ModelSerializer):
    """An identity linked to my account."""

    class Meta:
        model = ProviderIdentity
        fields = ["id", "provider", "email", "linked_at", "last_used_at"]
        read_only_fields = fields


class ProviderRedirectInputSerializer(InputSerializer):
    """Where a redirect sign-in goes: the mode it signs in to (or `link`), and the page after."""

    mode = serializers.ChoiceField(choices=["session", "jwt-cookie", "link"], default="session")
    next = serializers.CharField(max_length=512, default="/", trim_whitespace=False)


class ProviderCallbackInputSerializer(InputSerializer):
    """What the provider sends the browser back with: a code and the state, or an error."""

    state = serializers.CharField(max_length=512, default="")
    code = serializers.CharField(max_length=4096, default="")
    error = serializers.CharField(max_length=256, default="")
    error_description = serializers.CharField(max_length=1024, default="", allow_blank=True)
