"""Inputs and answers of the second-factor endpoints."""

from typing import Any

from rest_framework import serializers

from common.serializers import (
    CODE_MAX_LENGTH,
    InputSerializer,
    ProfileSerializer,
    device_token_field,
)

TOKEN_MAX_LENGTH = 128
# What a login endpoint can answer once its user proved who they are, for the schema: the
# profile, and each mode's own answer, added by its app (login_answer_serializer_add).
LOGIN_ANSWER_SERIALIZERS: list[type[serializers.Serializer]] = [ProfileSerializer]


def login_answer_serializer_add(serializer: type[serializers.Serializer]) -> None:
    """Document `serializer` as what a login endpoint, and so its second step, can answer."""
    if serializer not in LOGIN_ANSWER_SERIALIZERS:
        LOGIN_ANSWER_SERIALIZERS.append(serializer)


class MfaAuthenticateInputSerializer(InputSerializer):
    """The token of a login's first step, and a code or a passkey's answer."""

    mfa_token = serializers.CharField(max_length=TOKEN_MAX_LENGTH)
    code = serializers.CharField(max_length=CODE_MAX_LENGTH, required=False)
    webauthn = serializers.DictField(required=False)
    device_token = device_token_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Exactly one of `code` and `webauthn`."""
        if ("code" in attrs) == ("webauthn" in attrs):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send either `code` or `webauthn`."]}
            )
        return attrs


class TotpCodeInputSerializer(InputSerializer):
    """A code from the authenticator app."""

    code = serializers.CharField(max_length=CODE_MAX_LENGTH)


class TotpSetupSerializer(serializers.Serializer):
    """The app's state; until enabled, the secret to give it, as text, URL and QR code."""

    enabled = serializers.BooleanField()
    secret = serializers.CharField(required=False)
    otpauth_url = serializers.CharField(required=False)
    qr_svg = serializers.CharField(required=False, help_text="the otpauth URL's QR code, SVG")


class RecoveryCodesSerializer(serializers.Serializer):
    """A new set of recovery codes: shown this once."""

    recovery_codes = serializers.ListField(child=serializers.CharField())


class RecoveryCodesLeftSerializer(serializers.Serializer):
    """How many recovery codes are unused."""

    remaining = serializers.IntegerField()
