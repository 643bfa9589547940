"""Inputs and answers of the passkey endpoints."""

from rest_framework import serializers

from common.serializers import InputSerializer

NAME_MAX_LENGTH = 64
DEFAULT_NAME = "Passkey"
# A challenge token is `secrets.token_urlsafe(32)`: 43 characters.
CHALLENGE_TOKEN_MAX_LENGTH = 128


class PasskeyNameInputSerializer(InputSerializer):
    """A passkey's name: 1 to 64 characters once trimmed."""

    name = serializers.CharField(max_length=NAME_MAX_LENGTH)


class PasskeyRegisterInputSerializer(InputSerializer):
    """A new passkey: its name ("Passkey" when blank), and the browser's answer to the options
    (`PublicKeyCredential.toJSON()`).
    """

    name = serializers.CharField(max_length=NAME_MAX_LENGTH, allow_blank=True, default=DEFAULT_NAME)
    credential = serializers.DictField()

    def validate_name(self, value: str) -> str:
        """The name, or the default one when it is blank."""
        return value or DEFAULT_NAME


class PasskeyLoginInputSerializer(InputSerializer):
    """A passwordless login: the token of its options, and the browser's answer to them."""

    challenge_token = serializers.CharField(max_length=CHALLENGE_TOKEN_MAX_LENGTH)
    credential = serializers.DictField()


class PasskeySerializer(serializers.Serializer):
    """One of my passkeys."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class PasskeyLoginOptionsSerializer(serializers.Serializer):
    """The options of a passwordless login, and the token that names its challenge."""

    challenge_token = serializers.CharField()
    options = serializers.DictField()
