"""Inputs and outputs of the session endpoints."""

from rest_framework import serializers

from common.mfa.webauthn.serializers import PasskeyLoginInputSerializer
from common.providers.serializers import ProviderLoginInputSerializer
from common.serializers import CredentialsInputSerializer


class SessionLoginInputSerializer(CredentialsInputSerializer):
    """Credentials, and whether the session outlives the browser."""

    remember = serializers.BooleanField(default=True)


class SessionPasskeyLoginInputSerializer(PasskeyLoginInputSerializer):
    """A passkey's answer, and whether the session outlives the browser."""

    remember = serializers.BooleanField(default=True)


class SessionProviderLoginInputSerializer(ProviderLoginInputSerializer):
    """A provider's ID token and its nonce, and whether the session outlives the browser."""

    remember = serializers.BooleanField(default=True)


class CsrfTokenSerializer(serializers.Serializer):
    """The CSRF token, also set as the `csrftoken` cookie."""

    csrf_token = serializers.CharField()
