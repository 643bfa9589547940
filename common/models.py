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

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_families"
    )
    mode = models.CharField(
        max_length=16, choices=[(mode, mode.replace("-", " ").title()) for mode in routes.MODES]
    )
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
    # How the user proved who they are at `authenticated_at`: RFC 8176 method values,
    # space-separated ("pwd", "pwd otp mfa", "hwk mfa"), for step-up (RFC 9470).
    amr = models.CharField(max_length=64, blank=True, default="", db_default="")
    # The RFC 7638 thumbprint of the client key this login is bound to (DPoP, RFC 9449):
    # once set, every refresh must prove that key, and it never changes.
    dpop_jkt = models.CharField(max_length=43, blank=True, default="", db_default="")
    # Revoked here and not yet in the shared cache, named by `cache_identity()` (empty: not
    # pending): until a process on that cache writes the revocation there (common/logins.py,
    # families_pending_recache), an instance reading it could still see the family live.
    cache_pending = models.CharField(max_length=16, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="family_user_live"),
            # Empty in the steady state: looking for pending revocations costs next to nothing.
            models.Index(
                fields=["cache_pending"],
                condition=~models.Q(cache_pending=""),
                name="family_cache_pending",
            ),
        ]

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
    # When a signup made it; an account still unverified VERIFICATION_KEY_LIFETIME later is
    # deleted by `manage.py accounts_purge`, freeing its name.
    signed_up_at = models.DateTimeField(null=True, blank=True, db_index=True)

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

    def __str__(self) -> str:
        return f"{self.purpose} challenge of {self.user_id}"


class SignInChange(models.Model):
    """A change to how a user signs in, as mailed to them: what, from where, and its undo key.

    The key is random and mailed once; only its SHA-256 is kept, so nothing here undoes a
    change. It works once (`undone_at`), for UNDO_LIFETIME after `created_at`, whatever
    the account's address has become since.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signin_changes"
    )
    # A name of common/changes.py, or a feature's own.
    change = models.CharField(max_length=32)
    # What the undo needs: the added factor's id, the address before an email change.
    reference = models.CharField(max_length=254, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    user_agent = models.CharField(max_length=256, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # The account's address when the change was made: the one the key went to.
    mailed_to = models.CharField(max_length=254, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.change} of {self.user_id}"


class ThrottleCount(models.Model):
    """A throttle bucket counted in the database: where the login throttle counts while the
    shared cache cannot (`THROTTLE_FALLBACK = "database"`).
    """

    key = models.CharField(primary_key=True, max_length=200)
    count = models.PositiveIntegerField(default=0)
    # When the bucket's window began and ends (epoch seconds, the application's clock).
    window_start = models.FloatField()
    expires_at = models.FloatField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
