"""The one profile serializer every mode uses, and the shared inputs."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from rest_framework import serializers

from common.models import LoginFamily, Profile
from common.principal import Principal

DATE_TIME = serializers.DateTimeField()
# Long enough for a recovery code however it is grouped; a TOTP code is 6 digits.
CODE_MAX_LENGTH = 64
# The JSON type each kind of input field takes, as the schema documents it: DRF would
# coerce others (`0` to "0", "yes" to true), and accept a body the schema forbids.
JSON_TYPES: tuple[tuple[type[serializers.Field], tuple[type, ...], str], ...] = (
    (serializers.BooleanField, (bool,), "boolean"),
    (serializers.CharField, (str,), "string"),
    (serializers.IntegerField, (int,), "integer"),
    (serializers.DictField, (dict,), "object"),
    (serializers.ListField, (list,), "array"),
)


class InputSerializer(serializers.Serializer):
    """A request body's serializer: each field takes exactly the JSON type the schema gives it."""

    def to_internal_value(self, data: Any) -> Any:
        """The validated body; a field's value of another JSON type is a 400 by field."""
        if isinstance(data, dict):
            errors = {
                name: [f"Must be a JSON {kind}."]
                for name, field in self.fields.items()
                if not field.read_only and name in data
                for kind in [_json_type_mismatch(field, data[name])]
                if kind
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def _json_type_mismatch(field: serializers.Field, value: Any) -> str:
    """The JSON type `field` takes when `value` is not of it (null aside), else ""."""
    if value is None:
        return ""
    for kind, types, name in JSON_TYPES:
        if isinstance(field, kind):
            # A JSON true is a Python int too: only a real number is an integer.
            if isinstance(value, bool) and bool not in types:
                return name
            return "" if isinstance(value, types) else name
    return ""


class ProfileSerializer(serializers.Serializer):
    """The profile resource: identical whichever mode serves it."""

    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    bio = serializers.CharField(read_only=True)
    date_joined = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        """The declared fields, and `id` of the type of the user model's key (README: an integer
        or a UUID key): the schema documents the key the project's model has.
        """
        key: serializers.Field = (
            serializers.UUIDField(read_only=True)
            if isinstance(get_user_model()._meta.pk, models.UUIDField)
            else serializers.IntegerField(read_only=True)
        )
        return {"id": key, **super().get_fields()}

    def to_representation(self, instance: Principal) -> dict[str, Any]:
        """The body the declared fields describe, built directly.

        It runs on every authenticated read, where copying and binding six field
        objects would cost more than authenticating the request.
        """
        return {
            "id": instance.pk,
            "username": instance.username,
            "email": instance.email,
            "display_name": instance.display_name,
            "bio": instance.bio,
            "date_joined": (
                DATE_TIME.to_representation(instance.date_joined) if instance.date_joined else None
            ),
        }


class ProfileUpdateInputSerializer(InputSerializer):
    """PATCH body of a profile: only these fields change."""

    display_name = serializers.CharField(
        max_length=Profile.DISPLAY_NAME_MAX_LENGTH,
        required=False,
        allow_blank=True,
    )
    bio = serializers.CharField(
        max_length=Profile.BIO_MAX_LENGTH,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
    )


def device_token_field() -> serializers.CharField:
    """The optional `device_token` of every input that checks a password or a code: a native
    client's; a browser's comes in its `login_device` cookie instead.
    """
    return serializers.CharField(
        max_length=512,
        required=False,
        allow_blank=True,
        default="",
        help_text="The device token of an earlier login from this device, if any.",
    )


class CredentialsInputSerializer(InputSerializer):
    """A username and a password."""

    # Long enough for a login by email address (254 characters, as EmailField allows).
    username = serializers.CharField(max_length=254, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    device_token = device_token_field()


class PasswordChangeInputSerializer(InputSerializer):
    """The current password and its replacement."""

    old_password = serializers.CharField(max_length=4096, trim_whitespace=False)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False)
    device_token = device_token_field()


class ErrorSerializer(serializers.Serializer):
    """Every error: for people, for programs, and a 400's errors by field."""

    detail = serializers.CharField()
    code = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        """The declared fields and `errors`, which as an attribute would hide `.errors`."""
        return {
            **super().get_fields(),
            "errors": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()), required=False
            ),
        }


class HealthSerializer(serializers.Serializer):
    """The state of the service and of each dependency."""

    status = serializers.CharField()
    checks = serializers.DictField(child=serializers.CharField())


class LoginSerializer(serializers.ModelSerializer):
    """One of my live logins, in either list; `id` is the family's, never a credential."""

    id = serializers.UUIDField(source="pk", read_only=True)
    last_used_at = serializers.DateTimeField(source="last_seen_at", read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = LoginFamily
        fields = [
            "id",
            "created_at",
            "last_seen_at",
            "last_used_at",
            "user_agent",
            "ip",
            "current",
        ]

    def get_current(self, family: LoginFamily) -> bool:
        """Whether this is the login of the request."""
        return bool(family.pk == self.context["family_id"])


class MfaRequiredSerializer(serializers.Serializer):
    """A login whose first step (a password, a provider) proved a user with a second factor: no
    credential, a token for the next step (`mfa/authenticate/`).
    """

    detail = serializers.CharField()
    code = serializers.CharField()
    mfa_token = serializers.CharField()
    methods = serializers.ListField(
        child=serializers.ChoiceField(["totp", "recovery_code", "webauthn"])
    )
    expires_in = serializers.IntegerField()
    webauthn = serializers.DictField(required=False, help_text="WebAuthn request options (JSON)")
