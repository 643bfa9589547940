"""The profile every mode serves, and the login family every mode revokes."""

import hashlib
import uuid

from django.conf import settings
from django.db import models

from common import routes


class Profile(models.Model):
    """The editable part of a user's profile."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    DISPLAY_NAME_MAX_LENGTH = 100
    BIO_MAX_LENGTH = 500

    display_name = models.CharField(max_length=DISPLAY_NAME_MAX_LENGTH, blank=True)
    bio = models.CharField(max_length=BIO_MAX_LENGTH, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class LoginFamily(models.Model):
    """One login, in any mode: a session, or a chain of rotated refresh tokens.

    Nothing here authenticates: the refresh token is kept as its id (`refresh_jti`),
    never as the token itself.
    """

    class Mode(models.TextChoices):
        SESSION = routes.SESSION
        JWT_HEADER = routes.JWT_HEADER
        JWT_COOKIE = routes.JWT_COOKIE

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_families"
    )
    mode = models.CharField(max_length=16, choices=Mode.choices)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    user_agent = models.CharField(max_length=256, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, blank=True)
    refresh_jti = models.CharField(max_length=32, blank=True)
    refresh_issued_at = models.DateTimeField(null=True, blank=True)
    previous_jti = models.CharField(max_length=32, blank=True)
    # The user's password when the login began, as `password_epoch()`: a login made
    # under another password is refused, however the password was changed.
    password_epoch = models.CharField(max_length=16, blank=True)
    # When the user last proved who they are in this login: at its start, or by
    # re-authenticating. Sensitive actions need it to be recent (REAUTH_WINDOW).
    authenticated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="family_user_live")]

    def __str__(self) -> str:
        return f"{self.mode} login {self.id} of {self.user_id}"


class Account(models.Model):
    """What dualauth keeps of a user's account: its name and address folded, and verification.

    The folded name and address are unique, so no two accounts differ by case alone,
    whatever the user model enforces. An address with no row here, or whose key another
    account holds, receives no account mail.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account"
    )
    # NULL, not "", for none: unique, yet any number of accounts may have none (Django's advice).
    username_key = models.CharField(max_length=254, unique=True, null=True, blank=True)
    email_key = models.CharField(max_length=254, unique=True, null=True, blank=True)
    email_verified = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"account of {self.user_id}"


def identity_key(value: str) -> str | None:
    """The folded form of a login name or email address under which it is unique; None if empty."""
    return value.strip().casefold() or None


def password_epoch(password: str) -> str:
    """A short fingerprint of a stored password hash: it changes whenever the password does.

    It reveals nothing usable: the hash it is taken from is itself salted.
    """
    return hashlib.sha256(b"dualauth-password-epoch:" + password.encode()).hexdigest()[:16]
