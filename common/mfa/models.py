"""What the second factors keep: authenticator apps, recovery codes, passkeys, and the
logins and WebAuthn ceremonies waiting for an answer.
"""

from django.conf import settings
from django.db import models


class TotpDevice(models.Model):
    """A user's authenticator app (RFC 6238): its secret, encrypted, and the last step it used.

    A device without `confirmed_at` is being set up, by the login `setup_family_id`: its
    secret is shown to that login only, until a first code proves the app has it. Codes of
    `last_used_step` and earlier are refused, so each code works once.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    # Fernet token of the base32 secret, under MFA_ENCRYPTION_KEYS (never SECRET_KEY).
    encrypted_secret = models.TextField()
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    setup_family_id = models.UUIDField(null=True, blank=True)
    last_used_step = models.BigIntegerField(default=0)

    class Meta:
        # Named after the common app, which made the table: a database keeps its rows.
        db_table = "common_totpdevice"

    def __str__(self) -> str:
        return f"authenticator app of {self.user_id}"


class RecoveryCode(models.Model):
    """One of a user's recovery codes, as its SHA-256: each works once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Named after the common app, which made the table: a database keeps its rows.
        db_table = "common_recoverycode"
        indexes = [models.Index(fields=["user", "digest"], name="recovery_code_user_digest")]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class Passkey(models.Model):
    """A WebAuthn credential of a user: discoverable, user-verifying, named by its owner."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys"
    )
    name = models.CharField(max_length=64)
    credential_id = models.BinaryField(max_length=1023, unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    # The WebAuthn user handle the authenticator keeps: random, the same for every
    # passkey of one user, never the primary key or a name.
    user_handle = models.BinaryField(max_length=64)
    transports = models.JSONField(default=list)
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Named after the common app, which made the table: a database keeps its rows.
        db_table = "common_passkey"

    def __str__(self) -> str:
        return f"passkey {self.name!r} of {self.user_id}"


class MfaChallenge(models.Model):
    """A login waiting for its second factor, or a WebAuthn ceremony waiting for its answer.

    The client holds a random token; this row is keyed by its SHA-256 only, so nothing
    here completes a login. Each row is taken (deleted) by the request that uses it.
    """

    class Purpose(models.TextChoices):
        LOGIN = "login"
        PASSKEY_LOGIN = "passkey-login"
        PASSKEY_REGISTER = "passkey-register"

    digest = models.CharField(max_length=64, primary_key=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True
    )
    # The login endpoint's mode, and what it was asked (`remember`, the device token).
    mode = models.CharField(max_length=16, blank=True)
    options = models.JSONField(default=dict)
    webauthn_challenge = models.BinaryField(max_length=64, null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        # Named after the common app, which made the table: a database keeps its rows.
        db_table = "common_mfachallenge"

    def __str__(self) -> str:
        return f"{self.purpose} challenge of {self.user_id}"
