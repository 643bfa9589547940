"""Reads of the providers feature: the providers offered, the identities linked to a user."""

from django.db.models import QuerySet

from common.principal import UserId
from common.providers.models import ProviderIdentity
from common.providers.registry import provider_usable, providers_configured


def provider_list() -> list[dict[str, object]]:
    """The providers a client may offer: id, name and sign-in flows."""
    return [
        {"id": provider.id, "name": provider.name, "flows": provider.flows}
        for provider in providers_configured()
        if provider_usable(provider)
    ]


def identity_list(*, user_id: UserId) -> QuerySet[ProviderIdentity]:
    """The identities linked to the user, oldest first."""
    return ProviderIdentity.objects.filter(user_id=user_id).order_by("linked_at", "pk")
