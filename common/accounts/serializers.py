"""Inputs and answers of the account endpoints."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field
from rest_framework import serializers

from common.serializers import CODE_MAX_LENGTH, InputSerializer, device_token_field

# As long as EmailField allows, and no longer than an account's folded keys.
EMAIL_MAX_LENGTH = 254
PASSWORD_MAX_LENGTH = 4096
KEY_MAX_LENGTH = 1024


class SignupInputSerializer(InputSerializer):
    """A new account: its login name (unless the user model logs in by email), address, password."""

    username = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    password = serializers.CharField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Check the name as the user model's own field does, unless the address is the name."""
        model = get_user_model()
        if model.get_email_field_name() == model.USERNAME_FIELD:
            return {**attrs, "username": attrs["email"]}
        field = model._meta.get_field(model.USERNAME_FIELD)
        assert isinstance(field, Field)
        try:
            attrs["username"] = field.clean(attrs.get("username", ""), None)
        except DjangoValidationError as e:
            raise serializers.ValidationError({"username": list(e.messages)}) from e
        return attrs


class EmailInputSerializer(InputSerializer):
    """An email address."""

    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)


class KeyInputSerializer(InputSerializer):
    """A key from an account mail."""

    key = serializers.CharField(max_length=KEY_MAX_LENGTH)


class EmailVerifyInputSerializer(KeyInputSerializer):
    """A verification key, and for a signup's, the password that signed up."""

    password = serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, required=False, default=""
    )


class PasswordResetConfirmInputSerializer(KeyInputSerializer):
    """A reset key and the new password."""

    new_password = serializers.CharField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False)


class ReauthenticateInputSerializer(InputSerializer):
    """The password, or a code of the second factor."""

    password = serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, required=False
    )
    code = serializers.CharField(max_length=CODE_MAX_LENGTH, required=False)
    device_token = device_token_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Exactly one of the two."""
        if ("password" in attrs) == ("code" in attrs):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send either `password` or `code`."]}
            )
        return attrs


class AcceptedSerializer(serializers.Serializer):
    """A request taken: what happens next happens by mail."""

    detail = serializers.CharField()
    code = serializers.CharField()


class EmailVerifiedSerializer(serializers.Serializer):
    """The address just verified."""

    email = serializers.EmailField()
    verified = serializers.BooleanField()


class MfaStateSerializer(serializers.Serializer):
    """Which second factors the account has."""

    totp = serializers.BooleanField()
    passkeys = serializers.IntegerField()
    recovery_codes_left = serializers.IntegerField()


class AccountSerializer(serializers.Serializer):
    """The account page."""

    username = serializers.CharField()
    email = serializers.EmailField()
    email_verified = serializers.BooleanField()
    mfa = MfaStateSerializer()


class ReauthenticatedSerializer(serializers.Serializer):
    """Until when this login counts as freshly authenticated."""

    reauthenticated_until = serializers.DateTimeField()


class UndoneSerializer(serializers.Serializer):
    """The sign-in change just undone."""

    undone = serializers.CharField()
