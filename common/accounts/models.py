"""What the accounts feature keeps: each user's account, and the sign-in changes mailed to them."""

from django.conf import settings
from django.db import models


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

    class Meta:
        # Named after the common app, which made the table: a database keeps its rows.
        db_table = "common_account"

    def __str__(self) -> str:
        return f"account of {self.user_id}"


def identity_key(value: str) -> str | None:
    """The folded form of a login name or email address under which it is unique; None if empty."""
    return value.strip().casefold() or None


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

    class Meta:
        # Named after the common app, which made the table: a database keeps its rows.
        db_table = "common_signinchange"

    def __str__(self) -> str:
        return f"{self.change} of {self.user_id}"
