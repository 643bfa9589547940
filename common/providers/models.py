"""What the providers feature keeps: the identities linked to accounts, and sign-in nonces."""

from django.conf import settings
from django.db import models


class ProviderIdentity(models.Model):
    """An identity at an external provider, linked to a user: (issuer, subject), never an email.

    `provider` is the configured id it signed in through; `email` is what the provider last
    said, for the owner's eyes only: nothing is decided by it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_identities"
    )
    provider = models.CharField(max_length=64)
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True)
    linked_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "provider identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="provider_identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.subject}"


class ProviderNonce(models.Model):
    """A sign-in nonce the server issued: kept as its SHA-256, taken by the first use."""

    digest = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.digest[:8]
