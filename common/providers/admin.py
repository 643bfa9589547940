"""The admin's view of linked provider identities: who signs in through which provider.

Identities are made by sign-ins and links only: the admin lists, searches and removes them
(an operator unlinking a lost or disputed identity), and changes nothing else.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from common.providers.models import ProviderIdentity


@admin.register(ProviderIdentity)
class ProviderIdentityAdmin(admin.ModelAdmin):
    """Linked identities, by user, provider, subject and address; read-only."""

    list_display = ("user", "provider", "subject", "email", "linked_at", "last_used_at")
    list_filter = ("provider",)
    search_fields = ("user__username", "user__email", "subject", "email")
    readonly_fields = (
        "user",
        "provider",
        "issuer",
        "subject",
        "email",
        "linked_at",
        "last_used_at",
    )
    list_select_related = ("user",)
    ordering = ("-linked_at",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """No identity is made by hand: a provider proves each one."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """What a provider proved is not edited; it is viewed, or removed."""
        return False
