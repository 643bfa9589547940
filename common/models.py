"""The profile every mode serves, the login family every mode revokes, the throttles' counts."""

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


def password_epoch(password: str) -> str:
    """A short fingerprint of a stored password hash: it changes whenever the password does.

    It reveals nothing usable: the hash it is taken from is itself salted.
    """
    return hashlib.sha256(b"dualauth-password-epoch:" + password.encode()).hexdigest()[:16]


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
